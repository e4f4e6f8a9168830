package application_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// streamStore is a Store of one event's records, for the Feed: Snapshot,
// Changes, Wait and Expire only. Its Wait never times out (it waits for
// records or its context), so that a test that passes shows the Feed does
// not depend on the block to follow a new event.
type streamStore struct {
	application.Store // nil: the Feed calls none of the others

	mu      sync.Mutex
	events  map[domain.EventID][]domain.Record
	trimmed map[domain.EventID]domain.Position // the last record no longer kept
	changed chan struct{}                      // closed and replaced at every change

	changesCalls, snapshots atomic.Int64
	expires                 chan domain.EventID // Expire's calls, when not nil
	expireNext              func(domain.EventID) (time.Time, error)
}

func newStreamStore(events ...domain.EventID) *streamStore {
	s := &streamStore{events: map[domain.EventID][]domain.Record{}, trimmed: map[domain.EventID]domain.Position{}, changed: make(chan struct{})}
	for _, e := range events {
		s.events[e] = nil
	}
	return s
}

// add appends n records of one seat each (holds of seats 1, 2, ...) and
// returns them.
func (s *streamStore) add(e domain.EventID, n int) []domain.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	records := appendHolds(e, s.events[e], n)
	s.events[e] = records
	s.signal()
	return records[len(records)-n:]
}

// appendHolds appends n records of one seat each (holds of the seats
// after those of records) to the records of event e.
func appendHolds(e domain.EventID, records []domain.Record, n int) []domain.Record {
	for range n {
		number := len(records) + 1
		seat := domain.Seat{ID: domain.SeatID{Event: e, Number: number}, Status: domain.OnHold, Holder: "u",
			HoldExpiresAt: time.UnixMilli(int64(1000 + number))}
		records = append(records, domain.Record{Position: domain.Position{Ms: uint64(number), Seq: 0}, Op: domain.OpHold, Seats: []domain.Seat{seat}})
	}
	return records
}

// addAll adds n records to each of events, in one change of the store.
func (s *streamStore) addAll(n int, events ...domain.EventID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		s.events[e] = appendHolds(e, s.events[e], n)
	}
	s.signal()
}

// trim forgets the records up to and including position p.
func (s *streamStore) trim(e domain.EventID, p domain.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trimmed[e] = p
}

func (s *streamStore) remove(e domain.EventID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.events, e)
	s.signal()
}

func (s *streamStore) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func last(records []domain.Record) domain.Position {
	if len(records) == 0 {
		return domain.Position{}
	}
	return records[len(records)-1].Position
}

func (s *streamStore) Snapshot(_ context.Context, e domain.EventID) (domain.Event, []int, domain.Position, error) {
	s.snapshots.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	records, ok := s.events[e]
	if !ok {
		return domain.Event{}, nil, domain.Position{}, domain.ErrEventNotFound
	}
	return domain.Event{ID: e, TotalSeats: 10_000}, []int{len(records) + 1}, last(records), nil
}

func (s *streamStore) Changes(_ context.Context, e domain.EventID, after domain.Position, limit int) ([]domain.Record, error) {
	s.changesCalls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	records, ok := s.events[e]
	if !ok {
		return nil, domain.ErrEventNotFound
	}
	if after.Before(s.trimmed[e]) {
		return nil, application.ErrTrimmed
	}
	var out []domain.Record
	for _, r := range records {
		if after.Before(r.Position) && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *streamStore) Wait(ctx context.Context, after map[domain.EventID]domain.Position, _ time.Duration) ([]domain.EventID, error) {
	for {
		s.mu.Lock()
		var ready []domain.EventID
		for e, p := range after {
			records, ok := s.events[e]
			if !ok || p.Before(last(records)) {
				ready = append(ready, e)
			}
		}
		changed := s.changed
		s.mu.Unlock()
		if ready != nil {
			return ready, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *streamStore) Expire(_ context.Context, e domain.EventID) (time.Time, error) {
	if s.expires != nil {
		s.expires <- e
	}
	if s.expireNext == nil {
		return time.Time{}, nil
	}
	return s.expireNext(e)
}

const (
	streamEvent domain.EventID = eventID
	otherEvent  domain.EventID = otherID
)

func newFeed(t *testing.T, s application.Store, cfg application.FeedConfig) *application.Feed {
	t.Helper()
	f := application.NewFeed(s, zaptest.NewLogger(t), cfg)
	f.Start()
	t.Cleanup(f.Close)
	return f
}

func subscribe(t *testing.T, f *application.Feed, e domain.EventID, after *domain.Position) *application.Subscription {
	t.Helper()
	sub, err := f.Subscribe(context.Background(), e, after)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// next is sub's next batch, which must come within a few seconds.
func next(t *testing.T, sub *application.Subscription) application.Batch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return b
}

// collect reads sub's records until it has n, failing on a snapshot.
func collect(t *testing.T, sub *application.Subscription, n int) []domain.Record {
	t.Helper()
	var got []domain.Record
	for len(got) < n {
		b := next(t, sub)
		if b.Snapshot != nil {
			t.Fatalf("unexpected snapshot at %s after %d records", b.Snapshot.Position, len(got))
		}
		got = append(got, b.Records...)
	}
	return got
}

func TestFeedStartsWithASnapshotThenEveryRecordOnce(t *testing.T) {
	t.Parallel()
	s := newStreamStore(streamEvent)
	s.add(streamEvent, 3)
	f := newFeed(t, s, application.FeedConfig{})
	const subscribers = 50
	subs := make([]*application.Subscription, subscribers)
	for i := range subs {
		subs[i] = subscribe(t, f, streamEvent, nil)
	}
	if n := s.snapshots.Load(); n != 1 {
		t.Errorf("%d subscribers took %d snapshots, want 1 shared", subscribers, n)
	}
	want := s.add(streamEvent, 20)
	for i, sub := range subs {
		b := next(t, sub)
		if b.Snapshot == nil || b.Snapshot.Position != (domain.Position{Ms: 3}) || !slices.Equal(b.Snapshot.Available, []application.SeatRun{{4, 4}}) {
			t.Fatalf("subscriber %d: first batch %+v, want the snapshot at 3-0", i, b)
		}
		if got := collect(t, sub, len(want)); !slices.Equal(storetest.Positions(got), storetest.Positions(want)) {
			t.Fatalf("subscriber %d got %v, want %v", i, storetest.Positions(got), storetest.Positions(want))
		}
	}
	// The follower reads each record once, whatever the subscribers.
	if n := s.changesCalls.Load(); n > int64(len(want))+2 {
		t.Errorf("%d subscribers of %d records cost %d Changes calls", subscribers, len(want), n)
	}
	if n := f.Subscribers(); n != subscribers {
		t.Errorf("Subscribers = %d, want %d", n, subscribers)
	}
}

func TestFeedResumesAfterAPosition(t *testing.T) {
	t.Parallel()
	s := newStreamStore(streamEvent)
	old := s.add(streamEvent, 10)
	f := newFeed(t, s, application.FeedConfig{})
	// The first subscriber starts the buffer at 10-0; the second is
	// behind it and reads the store until it catches up.
	first := subscribe(t, f, streamEvent, &old[9].Position)
	second := subscribe(t, f, streamEvent, &old[2].Position)
	fresh := s.add(streamEvent, 5)
	if got := collect(t, first, 5); !slices.Equal(storetest.Positions(got), storetest.Positions(fresh)) {
		t.Fatalf("first got %v, want %v", storetest.Positions(got), storetest.Positions(fresh))
	}
	want := append(slices.Clone(old[3:]), fresh...)
	if got := collect(t, second, len(want)); !slices.Equal(storetest.Positions(got), storetest.Positions(want)) {
		t.Fatalf("second got %v, want %v", storetest.Positions(got), storetest.Positions(want))
	}
}

func TestFeedResetsATrimmedPosition(t *testing.T) {
	t.Parallel()
	s := newStreamStore(streamEvent)
	old := s.add(streamEvent, 10)
	s.trim(streamEvent, old[4].Position)
	f := newFeed(t, s, application.FeedConfig{})
	sub := subscribe(t, f, streamEvent, &old[1].Position)
	b := next(t, sub)
	if b.Snapshot == nil || b.Snapshot.Position != old[9].Position {
		t.Fatalf("first batch %+v, want a snapshot at %s", b, old[9].Position)
	}
	fresh := s.add(streamEvent, 2)
	if got := collect(t, sub, 2); !slices.Equal(storetest.Positions(got), storetest.Positions(fresh)) {
		t.Fatalf("after the reset got %v, want %v", storetest.Positions(got), storetest.Positions(fresh))
	}
}

func TestFeedFollowsANewEventAtOnce(t *testing.T) {
	t.Parallel()
	// The store's Wait never times out: the follower, waiting for the
	// first event, must include the second without waiting for a record
	// of the first.
	s := newStreamStore(streamEvent, otherEvent)
	f := newFeed(t, s, application.FeedConfig{})
	subscribe(t, f, streamEvent, nil)
	sub := subscribe(t, f, otherEvent, nil)
	next(t, sub) // the snapshot
	want := s.add(otherEvent, 1)
	if got := collect(t, sub, 1); got[0].Position != want[0].Position {
		t.Fatalf("got %v, want %v", storetest.Positions(got), storetest.Positions(want))
	}
}

// meetingStore is a streamStore whose reads of records, once armed, wait
// for each other: the first waits until a second comes (or a few
// seconds), the others go at once. met says whether two met.
type meetingStore struct {
	*streamStore
	armed   atomic.Bool
	arrived atomic.Int64
	second  chan struct{} // closed by the second read
	met     atomic.Bool
}

func (s *meetingStore) Changes(ctx context.Context, e domain.EventID, after domain.Position, limit int) ([]domain.Record, error) {
	if s.armed.Load() {
		switch s.arrived.Add(1) {
		case 1:
			select {
			case <-s.second:
				s.met.Store(true)
			case <-time.After(3 * time.Second):
			}
		case 2:
			close(s.second)
		}
	}
	return s.streamStore.Changes(ctx, e, after, limit)
}

// TestFeedReadsEventsApart: two followed events get records at once; the
// follower reads them at the same time, so that the read of one (here
// held until the other's begins) does not hold up the other's records.
func TestFeedReadsEventsApart(t *testing.T) {
	t.Parallel()
	s := &meetingStore{streamStore: newStreamStore(streamEvent, otherEvent), second: make(chan struct{})}
	f := newFeed(t, s, application.FeedConfig{})
	a, b := subscribe(t, f, streamEvent, nil), subscribe(t, f, otherEvent, nil)
	next(t, a) // the snapshots
	next(t, b)
	s.armed.Store(true)
	s.addAll(1, streamEvent, otherEvent)
	collect(t, a, 1)
	collect(t, b, 1)
	if !s.met.Load() {
		t.Fatal("the follower read one event's records only after the other's read had ended")
	}
}

func TestFeedEndsTheStreamsOfADeletedEvent(t *testing.T) {
	t.Parallel()
	s := newStreamStore(streamEvent)
	f := newFeed(t, s, application.FeedConfig{})
	sub := subscribe(t, f, streamEvent, nil)
	next(t, sub)
	s.remove(streamEvent)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, domain.ErrEventNotFound) {
		t.Fatalf("Next after the delete: %v, want ErrEventNotFound", err)
	}
	if _, err := f.Subscribe(ctx, streamEvent, nil); !errors.Is(err, domain.ErrEventNotFound) {
		t.Fatalf("Subscribe to the deleted event: %v, want ErrEventNotFound", err)
	}
}

func TestFeedCapsItsSubscribers(t *testing.T) {
	t.Parallel()
	s := newStreamStore(streamEvent)
	f := newFeed(t, s, application.FeedConfig{MaxSubscribers: 2})
	subscribe(t, f, streamEvent, nil)
	second := subscribe(t, f, streamEvent, nil)
	if _, err := f.Subscribe(context.Background(), streamEvent, nil); !errors.Is(err, application.ErrTooManySubscribers) {
		t.Fatalf("third subscriber: %v, want ErrTooManySubscribers", err)
	}
	second.Close()
	second.Close() // once only
	subscribe(t, f, streamEvent, nil)
	if _, err := f.Subscribe(context.Background(), otherEvent, nil); !errors.Is(err, application.ErrTooManySubscribers) {
		t.Fatalf("past the cap: %v, want ErrTooManySubscribers", err)
	}
	// A refused or failed Subscribe holds no place.
	if n := f.Subscribers(); n != 2 {
		t.Fatalf("Subscribers = %d, want 2", n)
	}
}

func TestFeedUnknownEvent(t *testing.T) {
	t.Parallel()
	s := newStreamStore()
	f := newFeed(t, s, application.FeedConfig{MaxSubscribers: 1})
	for range 2 {
		if _, err := f.Subscribe(context.Background(), streamEvent, nil); !errors.Is(err, domain.ErrEventNotFound) {
			t.Fatalf("Subscribe: %v, want ErrEventNotFound", err)
		}
	}
	if n := f.Subscribers(); n != 0 {
		t.Fatalf("Subscribers = %d, want 0", n)
	}
}

func TestFeedCloseEndsEveryStream(t *testing.T) {
	t.Parallel()
	s := newStreamStore(streamEvent)
	f := newFeed(t, s, application.FeedConfig{})
	sub := subscribe(t, f, streamEvent, nil)
	next(t, sub)
	ended := make(chan error)
	go func() {
		_, err := sub.Next(context.Background())
		ended <- err
	}()
	f.Close()
	if err := <-ended; !errors.Is(err, application.ErrFeedClosed) || !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("Next once closed: %v, want ErrFeedClosed", err)
	}
	if _, err := f.Subscribe(context.Background(), streamEvent, nil); !errors.Is(err, application.ErrFeedClosed) {
		t.Fatalf("Subscribe once closed: %v", err)
	}
}

func TestFeedBatchesAreCapped(t *testing.T) {
	t.Parallel()
	s := newStreamStore(streamEvent)
	f := newFeed(t, s, application.FeedConfig{})
	sub := subscribe(t, f, streamEvent, nil)
	next(t, sub)
	want := s.add(streamEvent, 2500)
	var got []domain.Record
	for len(got) < len(want) {
		b := next(t, sub)
		if len(b.Records) > 1000 {
			t.Fatalf("a batch of %d records", len(b.Records))
		}
		got = append(got, b.Records...)
	}
	if !slices.Equal(storetest.Positions(got), storetest.Positions(want)) {
		t.Fatal("records out of order or repeated")
	}
}

// tracker records what it is told.
type tracker struct {
	mu    sync.Mutex
	calls map[domain.EventID][]time.Time
}

func (tr *tracker) Track(e domain.EventID, at time.Time) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.calls == nil {
		tr.calls = map[domain.EventID][]time.Time{}
	}
	tr.calls[e] = append(tr.calls[e], at)
}

func (tr *tracker) told(e domain.EventID, at time.Time) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.ContainsFunc(tr.calls[e], at.Equal)
}

func TestFeedTracksTheHoldsItReads(t *testing.T) {
	t.Parallel()
	s := newStreamStore(streamEvent)
	tr := &tracker{}
	f := newFeed(t, s, application.FeedConfig{Expiries: tr})
	sub := subscribe(t, f, streamEvent, nil)
	next(t, sub)
	tr.mu.Lock()
	followed := len(tr.calls[streamEvent])
	tr.mu.Unlock()
	if followed != 1 {
		t.Fatalf("a followed event tracked %d times, want once (due at once)", followed)
	}
	r := s.add(streamEvent, 1)
	collect(t, sub, 1)
	if at := r[0].Seats[0].HoldExpiresAt; !tr.told(streamEvent, at) {
		t.Fatalf("the hold's expiry %v was not tracked", at)
	}
}
