package application

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/seatres/reservation/domain"
)

// The Feed fans the store's records out to the subscribers of this
// instance (GET /events/{eventId}/stream), at a cost that grows with the
// events followed, not with the subscribers:
//
//   - One follower goroutine per instance calls Store.Wait with the
//     position of every followed event (one call for all), then
//     Store.Changes once for each event that has records, and appends them
//     to that event's buffer in memory. Each record is read from the store
//     once, whatever the number of its subscribers.
//   - A Subscription is a cursor. Within the buffer, its records come from
//     memory, shared by every subscriber (no copy). Behind it (a slow
//     subscriber, or one that resumes from an older position), it reads the
//     store itself until it is back within the buffer; where the store no
//     longer keeps its next records (ErrTrimmed) it gets a new Snapshot, a
//     reset, never a silent gap.
//   - What a subscriber holds is its cursor and the batch it is writing, at
//     most maxBatchRecords records: a subscriber that cannot keep up falls
//     behind the buffer and reads from the store, costing no memory here;
//     its adapter disconnects it when its writes block (see httpapi's
//     stream.go).
//
// An event is followed while it has subscribers, and for followLinger
// after the last one left, so that a client that reconnects finds its
// buffer warm.

// Feed tuning. The buffer holds between bufferRecords and twice as many
// records of each followed event: trimming it only when it reaches twice
// its size copies each record once, instead of the whole buffer at each
// read.
const (
	// waitBlock bounds each Store.Wait. A newly followed event does not
	// wait for it: the follower cancels the Wait in progress when the set
	// of followed events grows (see init), rather than blocking briefly
	// and waking up often while nothing happens.
	waitBlock = time.Second
	// recheckEvery is how often an event with no records is read anyway:
	// Wait does not report a deleted event on every store (a Redis XREAD
	// of a stream that is gone just blocks), and Changes does, so the
	// subscribers of a deleted event learn it within this time.
	recheckEvery = 2 * time.Second
	// readsAtOnce bounds the events the follower reads at once, after a
	// Wait: one event's pages of records, or a store slow to answer for
	// it, do not hold up the others, nor do the rechecks of thousands of
	// events followed (one read each per recheckEvery) wait one round
	// trip after another.
	readsAtOnce = 16
	// readRecords is the page of each Changes call, the store's largest.
	readRecords = 1000
	// maxReadRounds bounds the pages the follower reads of one event in a
	// row, so that one busy event cannot keep the others waiting.
	maxReadRounds = 4
	// bufferRecords keeps a busy event's last seconds: at 6,000 changes a
	// second in carts of 4, 5 to 10 s, about 2 to 4 MB per busy event, so
	// that a subscriber held up for a moment (a GC, a busy CPU) reads
	// memory, not the store.
	bufferRecords = 8192
	// catchUpReads bounds the store reads of subscribers behind the buffer
	// in this instance at once: a crowd of subscribers that fell behind
	// together waits for its turn rather than taking the store from the
	// sale (a thousand XRANGEs of a thousand records at once is a second
	// of Redis).
	catchUpReads = 2
	// maxBatchRecords caps the records of one Next.
	maxBatchRecords = 1000
	followLinger    = 30 * time.Second
	// errorPause is the follower's pause after a failed Wait, so that a
	// store that is down is not called in a tight loop.
	errorPause = 500 * time.Millisecond
)

var (
	// ErrTooManySubscribers is a Subscribe past FeedConfig.MaxSubscribers.
	ErrTooManySubscribers = errors.New("too many stream subscribers on this instance; retry later, perhaps on another instance")
	// ErrFeedClosed is a Subscribe or Next once the Feed is closed: the
	// instance is shutting down, and the subscriber resumes elsewhere.
	ErrFeedClosed = fmt.Errorf("%w: the stream is closed, the instance is shutting down", ErrUnavailable)
)

// ExpiryTracker learns when holds of an event expire (Expirer.Track).
type ExpiryTracker interface {
	Track(e domain.EventID, at time.Time)
}

// FeedConfig configures a Feed.
type FeedConfig struct {
	// MaxSubscribers caps the subscriptions open at once; 0 is no cap.
	MaxSubscribers int
	// Expiries, when set, learns the expiry of every hold the Feed reads,
	// and each followed event (due at once, so that it asks the store).
	Expiries ExpiryTracker
}

// Snapshot is the state of an event's seats at a position.
type Snapshot struct {
	Event domain.Event
	// Available is the seats available there, as runs of consecutive
	// numbers, ascending. The Feed keeps the latest snapshot of every
	// event it follows: as numbers, the seats of a 10,000-seat event took
	// 80 KB, and an instance that followed 2,000 events kept 160 MB of
	// them.
	Available []SeatRun
	Position  domain.Position
}

// SeatRun is the seats From to To, inclusive.
type SeatRun struct{ From, To int32 }

// newSnapshot is the snapshot of event e at pos, whose available seats
// are seats, ascending (as Store.Snapshot answers them).
func newSnapshot(e domain.Event, seats []int, pos domain.Position) *Snapshot {
	n := 0
	for i := range seats {
		if i == 0 || seats[i] != seats[i-1]+1 {
			n++
		}
	}
	runs := make([]SeatRun, 0, n)
	for i, seat := range seats {
		if i > 0 && seat == seats[i-1]+1 {
			runs[len(runs)-1].To = int32(seat)
		} else {
			runs = append(runs, SeatRun{From: int32(seat), To: int32(seat)})
		}
	}
	return &Snapshot{Event: e, Available: runs, Position: pos}
}

// Batch is what Next answers: a Snapshot, when the subscriber starts or
// starts again (it replaces all the subscriber knew), and the records after
// it or after the subscriber's last batch, oldest first. The records are
// shared: read them, do not change them.
type Batch struct {
	Snapshot *Snapshot
	Records  []domain.Record
}

// Feed follows events for the subscribers of one instance; see above.
type Feed struct {
	store Store
	log   *zap.Logger
	cfg   FeedConfig
	now   func() time.Time

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	done   chan struct{} // closed by Close
	ended  chan struct{} // closed when the follower has returned

	mu          sync.Mutex
	events      map[domain.EventID]*followed
	subscribers int
	closed      bool
	started     bool
	wake        chan struct{}      // one token: the follow set grew
	catchUps    chan struct{}      // the catch-up reads in progress (catchUpReads)
	cancelWait  context.CancelFunc // of the Wait in progress; nil: none
}

// followed is one followed event. Its records, position and snapshot are
// written by the follower (or, before the event is followed, by the
// Subscribe that starts following it), under Feed.mu.
type followed struct {
	id   domain.EventID
	subs int
	idle time.Time // when subs fell to 0
	// ready is closed once the event's position is known (initErr nil) or
	// could not be (initErr set: the event is no longer in Feed.events).
	ready   chan struct{}
	initErr error
	// buf holds the records after start, up to pos, ascending.
	start, pos domain.Position
	buf        []domain.Record
	snap       *Snapshot     // the latest snapshot taken, for new subscribers
	more       chan struct{} // closed when records come, or gone; then replaced
	gone       bool          // the event was deleted
	checked    time.Time     // when the follower last read it
}

// NewFeed returns a Feed over store, not yet following anything (Start).
func NewFeed(store Store, log *zap.Logger, cfg FeedConfig) *Feed {
	ctx, cancel := context.WithCancel(context.Background())
	return &Feed{
		store: store, log: log, cfg: cfg, now: time.Now,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), ended: make(chan struct{}),
		events:   make(map[domain.EventID]*followed),
		wake:     make(chan struct{}, 1),
		catchUps: make(chan struct{}, catchUpReads),
	}
}

// Start starts the follower.
func (f *Feed) Start() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started || f.closed {
		return
	}
	f.started = true
	go f.run()
}

// Close ends every subscription (their Next answers ErrFeedClosed) and the
// follower, and waits for the follower to return. It may be called more
// than once: on the HTTP server's shutdown, so that streams end before
// Shutdown waits for them, and on the application's stop.
func (f *Feed) Close() {
	f.mu.Lock()
	started := f.started
	if !f.closed {
		f.closed = true
		close(f.done)
		f.cancel()
	}
	f.mu.Unlock()
	if started {
		<-f.ended
	}
}

// Subscribers is the number of subscriptions open now.
func (f *Feed) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subscribers
}

// Subscribe opens a subscription to the records of event e: with after
// nil, its first batch is a Snapshot; otherwise the records after *after.
// An unknown event is domain.ErrEventNotFound.
func (f *Feed) Subscribe(ctx context.Context, e domain.EventID, after *domain.Position) (*Subscription, error) {
	f.mu.Lock()
	switch {
	case f.closed:
		f.mu.Unlock()
		return nil, ErrFeedClosed
	case f.cfg.MaxSubscribers > 0 && f.subscribers >= f.cfg.MaxSubscribers:
		f.mu.Unlock()
		return nil, ErrTooManySubscribers
	}
	f.subscribers++
	ev := f.events[e]
	first := ev == nil
	if first {
		ev = &followed{id: e, ready: make(chan struct{}), more: make(chan struct{})}
		f.events[e] = ev
	}
	ev.subs++
	f.mu.Unlock()

	s := &Subscription{f: f, ev: ev}
	if err := f.init(ctx, ev, first); err != nil {
		s.Close()
		return nil, err
	}
	if after != nil {
		s.cursor = *after
		f.mu.Lock()
		s.unsure = !ev.knows(*after)
		f.mu.Unlock()
		return s, nil
	}
	snap, err := f.snapshot(ctx, ev)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.pending, s.cursor = snap, snap.Position
	return s, nil
}

// init makes ev's position known: the first subscriber of an event takes a
// Snapshot, whose position starts the buffer (a position a subscriber gave
// could be one the store never reaches, and would hide every record before
// it from the others); the others wait for it. The snapshot also tells
// that the event exists, before a stream starts, and serves the first
// subscribers that need one.
func (f *Feed) init(ctx context.Context, ev *followed, first bool) error {
	if !first {
		select {
		case <-ev.ready:
			return ev.initErr
		default:
		}
		select {
		case <-ev.ready:
			return ev.initErr
		case <-ctx.Done():
			return fmt.Errorf("%w: wait for the snapshot of %s: %w", ErrUnavailable, ev.id, ctx.Err())
		}
	}
	// Not cancelled with the first subscriber's request: the others wait
	// for it too. The store bounds the call with its own timeout.
	event, seats, pos, err := f.store.Snapshot(context.WithoutCancel(ctx), ev.id)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		ev.initErr = fmt.Errorf("snapshot of %s: %w", ev.id, err)
		if f.events[ev.id] == ev {
			delete(f.events, ev.id)
		}
		close(ev.ready)
		return ev.initErr
	}
	ev.snap = newSnapshot(event, seats, pos)
	ev.start, ev.pos, ev.checked = pos, pos, f.now()
	close(ev.ready)
	// Follow it now, not after the Wait in progress.
	if f.cancelWait != nil {
		f.cancelWait()
	}
	select {
	case f.wake <- struct{}{}:
	default:
	}
	if f.cfg.Expiries != nil {
		f.cfg.Expiries.Track(ev.id, f.now())
	}
	return nil
}

// snapshot returns a snapshot of ev from which the buffer goes on: the
// latest one taken while the buffer still holds every record after it, or
// a new one. So a crowd that subscribes at once costs one snapshot, and a
// subscriber reads the records after its snapshot from memory.
func (f *Feed) snapshot(ctx context.Context, ev *followed) (*Snapshot, error) {
	f.mu.Lock()
	snap := ev.snap
	if snap != nil && !snap.Position.Before(ev.start) {
		f.mu.Unlock()
		return snap, nil
	}
	f.mu.Unlock()
	event, seats, pos, err := f.store.Snapshot(ctx, ev.id)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s: %w", ev.id, err)
	}
	snap = newSnapshot(event, seats, pos)
	f.mu.Lock()
	if ev.snap == nil || ev.snap.Position.Before(pos) {
		ev.snap = snap
	}
	f.mu.Unlock()
	return snap, nil
}

// run is the follower.
func (f *Feed) run() {
	defer close(f.ended)
	for {
		after, ctx, ok := f.nextWait()
		if !ok {
			return
		}
		if len(after) == 0 {
			select {
			case <-f.wake:
			case <-f.done:
			}
			continue
		}
		ready, err := f.store.Wait(ctx, after, waitBlock)
		cancelled := ctx.Err() != nil
		f.clearWait()
		switch {
		case cancelled:
			// Closed, or the follow set grew: read what is ready anyway,
			// then wait again with the new set.
		case err != nil:
			f.log.Warn("wait for the records of followed events", zap.Error(err), zap.Int("events", len(after)))
			select {
			case <-f.done:
				return
			case <-time.After(errorPause):
			}
			continue
		}
		f.readAll(ready)
	}
}

// nextWait drops the events no longer followed and returns the positions
// of the others, with the context of the next Wait, which follow cancels.
func (f *Feed) nextWait() (map[domain.EventID]domain.Position, context.Context, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, nil, false
	}
	now := f.now()
	after := make(map[domain.EventID]domain.Position, len(f.events))
	for id, ev := range f.events {
		if !isClosed(ev.ready) {
			continue // its first subscriber is taking its snapshot
		}
		if ev.subs == 0 && now.Sub(ev.idle) >= followLinger {
			delete(f.events, id)
			continue
		}
		after[id] = ev.pos
	}
	ctx, cancel := context.WithCancel(f.ctx)
	f.cancelWait = cancel
	return after, ctx, true
}

func (f *Feed) clearWait() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cancelWait != nil {
		f.cancelWait()
		f.cancelWait = nil
	}
}

// readAll reads the records of the events ready and of those not read for
// recheckEvery.
func (f *Feed) readAll(ready []domain.EventID) {
	f.mu.Lock()
	now := f.now()
	read := make(map[*followed]bool, len(ready))
	for _, id := range ready {
		if ev := f.events[id]; ev != nil {
			read[ev] = true
		}
	}
	for _, ev := range f.events {
		if isClosed(ev.ready) && now.Sub(ev.checked) >= recheckEvery {
			read[ev] = true
		}
	}
	f.mu.Unlock()
	var g errgroup.Group
	g.SetLimit(readsAtOnce)
	for ev := range read {
		g.Go(func() error {
			f.read(ev)
			return nil
		})
	}
	_ = g.Wait() // f.read reports its own failures
}

// read appends the records of ev after its position to its buffer.
func (f *Feed) read(ev *followed) {
	for range maxReadRounds {
		f.mu.Lock()
		pos := ev.pos
		ev.checked = f.now()
		f.mu.Unlock()
		records, err := f.store.Changes(f.ctx, ev.id, pos, readRecords)
		switch {
		case errors.Is(err, domain.ErrEventNotFound):
			f.gone(ev)
			return
		case errors.Is(err, ErrTrimmed):
			// The follower fell behind the store's retention (or the
			// store lost records): start the buffer again from a
			// snapshot; subscribers behind it read the store, which
			// answers them ErrTrimmed too, and reset.
			f.reset(ev)
			return
		case err != nil:
			if f.ctx.Err() == nil {
				f.log.Warn("read the records of a followed event", zap.String("event", string(ev.id)), zap.Error(err))
			}
			return
		}
		f.append(ev, records)
		if len(records) < readRecords {
			return
		}
	}
}

func (f *Feed) append(ev *followed, records []domain.Record) {
	if len(records) == 0 {
		return
	}
	if f.cfg.Expiries != nil {
		for _, r := range records {
			if at, ok := earliestHold(r.Seats); ok {
				f.cfg.Expiries.Track(ev.id, at)
			}
		}
	}
	f.mu.Lock()
	ev.buf = append(ev.buf, records...)
	if len(ev.buf) >= 2*bufferRecords {
		drop := len(ev.buf) - bufferRecords
		ev.start = ev.buf[drop-1].Position
		ev.buf = slices.Clone(ev.buf[drop:])
	}
	ev.pos = records[len(records)-1].Position
	ev.broadcast()
	f.mu.Unlock()
}

func (f *Feed) reset(ev *followed) {
	event, seats, pos, err := f.store.Snapshot(f.ctx, ev.id)
	if errors.Is(err, domain.ErrEventNotFound) {
		f.gone(ev)
		return
	}
	if err != nil {
		if f.ctx.Err() == nil {
			f.log.Warn("snapshot of a followed event whose records were trimmed", zap.String("event", string(ev.id)), zap.Error(err))
		}
		return // tried again at its next read
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ev.snap = newSnapshot(event, seats, pos)
	ev.start, ev.pos, ev.buf = pos, pos, nil
	ev.broadcast()
}

func (f *Feed) gone(ev *followed) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ev.gone = true
	if f.events[ev.id] == ev {
		delete(f.events, ev.id)
	}
	ev.broadcast()
}

// broadcast wakes the subscribers waiting for ev. Feed.mu is held.
func (ev *followed) broadcast() {
	close(ev.more)
	ev.more = make(chan struct{})
}

// earliestHold is the earliest expiry of the seats on hold.
func earliestHold(seats []domain.Seat) (time.Time, bool) {
	var at time.Time
	for _, s := range seats {
		if s.Status == domain.OnHold && (at.IsZero() || s.HoldExpiresAt.Before(at)) {
			at = s.HoldExpiresAt
		}
	}
	return at, !at.IsZero()
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Subscription is one subscriber's cursor in the records of an event. Its
// Next is called from one goroutine at a time; Close from any.
type Subscription struct {
	f       *Feed
	ev      *followed
	cursor  domain.Position // the position of the last record answered
	pending *Snapshot       // the first batch, when it is a snapshot
	// unsure is set while cursor is a position the subscriber gave that the
	// buffer does not know: the store tells first whether the event gave
	// it (Store.Changes), lest records after it in the buffer skip those
	// that took the place of records the store lost.
	unsure bool
	once   sync.Once
}

// Next answers the subscriber's next batch, waiting for one until ctx is
// done. Once the event is deleted it answers domain.ErrEventNotFound; once
// the Feed is closed, ErrFeedClosed.
func (s *Subscription) Next(ctx context.Context) (Batch, error) {
	if snap := s.pending; snap != nil {
		s.pending = nil
		return Batch{Snapshot: snap}, nil
	}
	f, ev := s.f, s.ev
	for {
		f.mu.Lock()
		switch {
		case f.closed:
			f.mu.Unlock()
			return Batch{}, ErrFeedClosed
		case ev.gone:
			f.mu.Unlock()
			return Batch{}, fmt.Errorf("records of %s: %w", ev.id, domain.ErrEventNotFound)
		}
		behind := s.cursor.Before(ev.start) || s.unsure
		var records []domain.Record
		if !behind {
			records = ev.after(s.cursor)
		}
		more := ev.more
		f.mu.Unlock()
		if behind {
			b, err := s.catchUp(ctx)
			if err != nil || b.Snapshot != nil || len(b.Records) > 0 {
				return b, err
			}
		} else if len(records) > 0 {
			s.cursor = records[len(records)-1].Position
			return Batch{Records: records}, nil
		}
		select {
		case <-more:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		case <-f.done:
		}
	}
}

// after returns at most maxBatchRecords records of the buffer after
// cursor, which is not before ev.start. Feed.mu is held.
func (ev *followed) after(cursor domain.Position) []domain.Record {
	i, _ := ev.find(cursor)
	for i < len(ev.buf) && !cursor.Before(ev.buf[i].Position) {
		i++ // the record at cursor itself was answered
	}
	j := min(len(ev.buf), i+maxBatchRecords)
	return ev.buf[i:j:j] // full: an append by the caller cannot reach the buffer
}

// find is where p is, or would be, in the buffer, and whether a record is
// there. Feed.mu is held.
func (ev *followed) find(p domain.Position) (int, bool) {
	return slices.BinarySearchFunc(ev.buf, p, func(r domain.Record, p domain.Position) int {
		switch {
		case r.Position.Before(p):
			return -1
		case p.Before(r.Position):
			return 1
		}
		return 0
	})
}

// knows reports whether p is a position of the event that the buffer
// tells: its start or a record of it; one before the start is the
// store's to tell (see Subscription.catchUp). Feed.mu is held.
func (ev *followed) knows(p domain.Position) bool {
	_, found := ev.find(p)
	return found || !ev.start.Before(p)
}

// catchUp reads the store for a subscriber behind the buffer, or whose
// position the buffer does not know.
func (s *Subscription) catchUp(ctx context.Context) (Batch, error) {
	select {
	case s.f.catchUps <- struct{}{}:
		defer func() { <-s.f.catchUps }()
	case <-ctx.Done():
		return Batch{}, ctx.Err()
	}
	records, err := s.f.store.Changes(ctx, s.ev.id, s.cursor, maxBatchRecords)
	if errors.Is(err, ErrTrimmed) {
		snap, err := s.f.snapshot(ctx, s.ev)
		if err != nil {
			return Batch{}, err
		}
		s.cursor, s.unsure = snap.Position, false
		return Batch{Snapshot: snap}, nil
	}
	if err != nil {
		return Batch{}, fmt.Errorf("records of %s after %s: %w", s.ev.id, s.cursor, err)
	}
	s.unsure = false
	if len(records) > 0 {
		s.cursor = records[len(records)-1].Position
	}
	return Batch{Records: records}, nil
}

// Close ends the subscription; its event is followed for followLinger
// more once it has no subscriber.
func (s *Subscription) Close() {
	s.once.Do(func() {
		f := s.f
		f.mu.Lock()
		defer f.mu.Unlock()
		f.subscribers--
		s.ev.subs--
		if s.ev.subs == 0 {
			s.ev.idle = f.now()
		}
	})
}
