package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// The record of changes: what each change records (and what it does not),
// in order, read in pages; snapshots true at their position; expiries
// recorded before the change that finds them; Wait; the list's version.

// pageSize is small, so that reading every record takes many pages.
const pageSize = 2

// changesAfter reads every record of e after after, in pages of limit,
// and fails unless positions only grow and every page stays within limit.
func changesAfter(t *testing.T, s application.Store, e domain.Event, after domain.Position, limit int) []domain.Record {
	t.Helper()
	var out []domain.Record
	for {
		page, err := s.Changes(context.Background(), e.ID, after, limit)
		if err != nil {
			t.Fatalf("Changes after %v: %v", after, err)
		}
		if len(page) > limit {
			t.Fatalf("Changes after %v, limit %d: %d records", after, limit, len(page))
		}
		if len(page) == 0 {
			return out
		}
		for _, r := range page {
			if !after.Before(r.Position) {
				t.Fatalf("Changes: record at %v after %v", r.Position, after)
			}
			if len(r.Seats) == 0 || r.At.IsZero() {
				t.Fatalf("Changes: record %+v has no seats or no time", r)
			}
			after = r.Position
		}
		out = append(out, page...)
	}
}

// change is a record as a test expects it: its op and seats.
type change struct {
	op    domain.Op
	seats []domain.Seat
}

// key writes a change for comparison: op, and each seat's id, status,
// holder and expiry.
func (c change) key() string {
	var b strings.Builder
	b.WriteString(c.op.String())
	for _, s := range c.seats {
		fmt.Fprintf(&b, " %v/%v/%q/%d", s.ID, s.Status, s.Holder, s.HoldExpiresAt.UnixNano())
	}
	return b.String()
}

func changeOf(r domain.Record) change { return change{r.Op, r.Seats} }

// changesOf splits records into the changes they record. A record is one
// change, but a record of holds may be several (the Redis store records a
// batch of holds made together by several users at once, one user after
// another): each run of its seats of one holder is a change. So the tests
// that use it never make two holds of one user at once.
func changesOf(records []domain.Record) []change {
	var out []change
	for _, r := range records {
		if r.Op != domain.OpHold {
			out = append(out, changeOf(r))
			continue
		}
		for seats := r.Seats; len(seats) > 0; {
			n := 1
			for n < len(seats) && seats[n].Holder == seats[0].Holder {
				n++
			}
			out = append(out, change{r.Op, seats[:n]})
			seats = seats[n:]
		}
	}
	return out
}

func keys[T any](cs []T, key func(T) string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = key(c)
	}
	return out
}

// wantChanges fails unless the records are the changes, in order.
func wantChanges(t *testing.T, what string, got []domain.Record, want []change) {
	t.Helper()
	g := keys(got, func(r domain.Record) string { return changeOf(r).key() })
	w := keys(want, change.key)
	if !slices.Equal(g, w) {
		t.Fatalf("%s: records\n\t%s\nwant\n\t%s", what, strings.Join(g, "\n\t"), strings.Join(w, "\n\t"))
	}
}

// lastPosition is the event's position as its snapshot gives it.
// Positions returns the positions of records, in order.
func Positions(records []domain.Record) []domain.Position {
	out := make([]domain.Position, len(records))
	for i, r := range records {
		out[i] = r.Position
	}
	return out
}

func lastPosition(t *testing.T, s application.Store, e domain.Event) domain.Position {
	t.Helper()
	_, _, p, err := s.Snapshot(context.Background(), e.ID)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return p
}

// testStreamRecords: each change that changes seats records them once, in
// the order acknowledged; refusals and repeats record nothing.
func testStreamRecords(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEventRows(t, s, 10, 5)
	if got := changesAfter(t, s, e, domain.Position{}, pageSize); len(got) != 0 {
		t.Fatalf("a new event has records %+v", got)
	}
	// A new event is at its birth, which no record of it comes before
	// (see testStreamRecreated), and never at the zero position, every
	// new event's: the version of its list would be another's.
	born := lastPosition(t, s, e)
	if born == (domain.Position{}) || len(changesAfter(t, s, e, born, pageSize)) != 0 {
		t.Fatalf("a new event's snapshot is at %v, want a position of its own with no record after it", born)
	}

	var want []change
	// ok is a change that succeeds, recording its answer's seats that
	// changed (all of them for a hold, that extends its own).
	ok := func(what string, op domain.Op) func([]domain.Seat, error) []domain.Seat {
		return func(seats []domain.Seat, err error) []domain.Seat {
			t.Helper()
			if err != nil || len(seats) == 0 {
				t.Fatalf("%s: %+v, %v", what, seats, err)
			}
			want = append(want, change{op, seats})
			return seats
		}
	}
	refused := func(what string) func([]domain.Seat, error) {
		return func(seats []domain.Seat, err error) {
			t.Helper()
			if err == nil {
				t.Fatalf("%s: %+v, want a refusal", what, seats)
			}
		}
	}
	held := ok("Hold", domain.OpHold)(s.Hold(ctx, e.ID, ids(e, 2, 1), "alice", cartHold, noIdem))
	refused("Hold of alice's seat by bob")(s.Hold(ctx, e.ID, ids(e, 2), "bob", cartHold, noIdem))
	ok("HoldBest", domain.OpHold)(s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2, Adjacent: true}, "bob", cartHold, noIdem))
	// A hold of a seat alice has and a new one: both in the record.
	ok("Hold of her own seat and another", domain.OpHold)(s.Hold(ctx, e.ID, ids(e, 2, 5), "alice", cartHold, noIdem))
	// A refresh records the seats it extended: those whose hold started
	// before its millisecond of the store's clock (none, if every change
	// so far fell in one).
	refreshed, err := s.Refresh(ctx, e.ID, nil, "alice", cartHold, noIdem)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	var extended []domain.Seat
	last := map[int]time.Time{1: held[1].HoldExpiresAt, 2: want[2].seats[0].HoldExpiresAt, 5: want[2].seats[1].HoldExpiresAt}
	for _, seat := range refreshed {
		if !seat.HoldExpiresAt.Equal(last[seat.ID.Number]) {
			extended = append(extended, seat)
		}
	}
	if extended != nil {
		want = append(want, change{domain.OpRefresh, extended})
	}
	ok("Reserve", domain.OpReserve)(s.Reserve(ctx, e.ID, ids(e, 1), "alice", noIdem))
	again, err := s.Reserve(ctx, e.ID, ids(e, 1), "alice", noIdem)
	if err != nil || len(again) != 1 {
		t.Fatalf("Reserve again: %+v, %v", again, err)
	}
	refused("Reserve of bob's seat by alice")(s.Reserve(ctx, e.ID, ids(e, 3), "alice", noIdem))
	ok("Release", domain.OpRelease)(s.Release(ctx, e.ID, ids(e, 2), "alice", noIdem))
	if none, err := s.Release(ctx, e.ID, ids(e, 2), "alice", noIdem); err != nil || len(none) != 0 {
		t.Fatalf("Release again: %+v, %v", none, err)
	}
	key := idem("carol 6")
	first := ok("Hold under a key", domain.OpHold)(s.Hold(ctx, e.ID, ids(e, 6), "carol", cartHold, key))
	if replay, err := s.Hold(ctx, e.ID, ids(e, 6), "carol", cartHold, key); err != nil || (change{domain.OpHold, replay}).key() != (change{domain.OpHold, first}).key() {
		t.Fatalf("Hold replayed under its key: %+v, %v; want %+v", replay, err, first)
	}
	ok("Release of a cart", domain.OpRelease)(s.Release(ctx, e.ID, nil, "bob", noIdem))
	// Seat 1 is reserved already: only seat 5 is in the record.
	both, err := s.Reserve(ctx, e.ID, ids(e, 1, 5), "alice", noIdem)
	if err != nil || len(both) != 2 {
		t.Fatalf("Reserve of seats 1 and 5: %+v, %v", both, err)
	}
	want = append(want, change{domain.OpReserve, both[1:]})

	got := changesAfter(t, s, e, domain.Position{}, pageSize)
	wantChanges(t, "every change", got, want)
	// Read from a position, and in one page.
	wantChanges(t, "after the third", changesAfter(t, s, e, got[2].Position, 1000), want[3:])
	if p := lastPosition(t, s, e); p != got[len(got)-1].Position {
		t.Fatalf("snapshot at %v, want the last record's %v", p, got[len(got)-1].Position)
	}
	// A position that is no record of the event is none a reader got from
	// it: made up, or of a record the store lost, whose place later ones
	// take. Reading on from it could skip them: it is trimmed, at the
	// event's last position, and a reader starts again from a snapshot.
	lastRecord := got[len(got)-1].Position
	for _, after := range []domain.Position{
		{Ms: lastRecord.Ms, Seq: lastRecord.Seq + 1}, {Ms: lastRecord.Ms + 1}, {Ms: math.MaxUint64, Seq: math.MaxUint64}, // after the last
		{Ms: got[1].Position.Ms, Seq: got[1].Position.Seq + 1000}, // between two records
	} {
		var trimmed *application.TrimmedError
		if records, err := s.Changes(ctx, e.ID, after, pageSize); !errors.As(err, &trimmed) || trimmed.Last != lastRecord {
			t.Errorf("Changes after %v, no record's position: %+v, %v; want trimmed at the last, %v", after, records, err, lastRecord)
		}
	}
	// The clock of the records is the store's: a hold's record is made
	// when it starts, TTL before its expiry.
	if exp := got[0].Seats[0].HoldExpiresAt; !got[0].At.Add(cartHold.TTL).Equal(exp) {
		t.Fatalf("hold recorded at %v expires at %v, want %v later", got[0].At, exp, cartHold.TTL)
	}
}

// replay applies records to seats as they were (seat n at index n-1).
func replay(seats []domain.Seat, records []domain.Record) {
	for _, r := range records {
		for _, s := range r.Seats {
			seats[s.ID.Number-1] = s
		}
	}
}

// applyAvailable applies records to the set of available seat numbers.
func applyAvailable(free map[int]bool, records []domain.Record) {
	for _, r := range records {
		for _, s := range r.Seats {
			free[s.ID.Number] = s.Status == domain.Available
		}
	}
}

func availableSet(numbers []int) map[int]bool {
	out := make(map[int]bool, len(numbers))
	for _, n := range numbers {
		out[n] = true
	}
	return out
}

func sortedAvailable(free map[int]bool) []int {
	var out []int
	for n, ok := range free {
		if ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// testStreamConcurrent: under concurrent changes every acknowledged
// change is in exactly one record, and the records replayed on the
// first state give the last.
func testStreamConcurrent(t *testing.T, s application.Store) {
	ctx := context.Background()
	const workers, rounds = 8, 15
	e := newEventRows(t, s, 40, 10)
	start := lastPosition(t, s, e)
	var (
		mu    sync.Mutex
		acked []change
	)
	acknowledge := func(op domain.Op, seats []domain.Seat) {
		mu.Lock()
		defer mu.Unlock()
		acked = append(acked, change{op, seats})
	}
	errs := race(workers, func(i int) error {
		u := user(i)
		for range rounds {
			// Everyone wants seats 1 and 2 (which one may have reserved
			// already); then the best two left.
			if seats, err := s.Hold(ctx, e.ID, ids(e, 1, 2), u, cartHold, noIdem); err == nil {
				acknowledge(domain.OpHold, seats)
			} else if !errors.Is(err, domain.ErrSeatHeld) && !errors.Is(err, domain.ErrSeatReserved) {
				return err
			}
			seats, err := s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 2}, u, cartHold, noIdem)
			if err != nil {
				return err
			}
			acknowledge(domain.OpHold, seats)
			if seats, err = s.Release(ctx, e.ID, nil, u, noIdem); err != nil {
				return err
			}
			acknowledge(domain.OpRelease, seats)
		}
		seats, err := s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 1}, u, cartHold, noIdem)
		if err != nil {
			return err
		}
		acknowledge(domain.OpHold, seats)
		if seats, err = s.Reserve(ctx, e.ID, seatIDs(seats), u, noIdem); err != nil {
			return err
		}
		acknowledge(domain.OpReserve, seats)
		return nil
	})
	tally(t, errs)

	got := changesAfter(t, s, e, start, 7)
	// As multisets: each acknowledged change is recorded once, whole, in
	// one record, and each recorded change was acknowledged.
	g := keys(changesOf(got), change.key)
	w := keys(acked, change.key)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Fatalf("%d records of %d changes for %d acknowledged changes:\n\t%s\nwant\n\t%s", len(got), len(g), len(w), strings.Join(g, "\n\t"), strings.Join(w, "\n\t"))
	}
	seats := make([]domain.Seat, e.TotalSeats)
	for n := range seats {
		seats[n] = domain.NewSeat(e.Seat(n + 1))
	}
	replay(seats, got)
	for n, want := range seats {
		seat := must(t, "Seat")(s.Seat(ctx, e.Seat(n+1)))
		if seat.Status != want.Status || seat.Holder != want.Holder || !seat.HoldExpiresAt.Equal(want.HoldExpiresAt) {
			t.Fatalf("seat %+v, the records make it %+v", seat, want)
		}
	}
}

func seatIDs(seats []domain.Seat) []domain.SeatID {
	out := make([]domain.SeatID, len(seats))
	for i, s := range seats {
		out[i] = s.ID
	}
	return out
}

// testStreamSnapshots: snapshots taken while changes race are each true
// at their position: one, with the records up to the next's position,
// gives the next.
func testStreamSnapshots(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEventRows(t, s, 30, 10)
	type shot struct {
		free []int
		at   domain.Position
	}
	take := func() shot {
		t.Helper()
		got, free, at, err := s.Snapshot(ctx, e.ID)
		if err != nil || got != e {
			t.Fatalf("Snapshot = %+v, %v; want %+v", got, err, e)
		}
		return shot{free, at}
	}
	shots := []shot{take()}
	if !slices.Equal(shots[0].free, seq(1, 30)) {
		t.Fatalf("snapshot of a new event: %v available", shots[0].free)
	}
	const workers, rounds = 4, 50
	done := make(chan []error)
	go func() {
		done <- race(workers, func(i int) error {
			for n := range rounds {
				if _, err := s.HoldBest(ctx, e.ID, domain.BestAvailable{Count: 1 + n%3}, user(i), cartHold, noIdem); err != nil {
					return err
				}
				if _, err := s.Release(ctx, e.ID, nil, user(i), noIdem); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	// Snapshots while the changes run, then one after.
	for running := true; running; {
		select {
		case errs := <-done:
			tally(t, errs)
			running = false
		default:
		}
		shots = append(shots, take())
	}

	records := changesAfter(t, s, e, shots[0].at, 100)
	if n := len(changesOf(records)); n != 2*workers*rounds {
		t.Fatalf("%d records of %d changes, want %d changes", len(records), n, 2*workers*rounds)
	}
	for i := 1; i < len(shots); i++ {
		prev, cur := shots[i-1], shots[i]
		if cur.at.Before(prev.at) {
			t.Fatalf("snapshot %d at %v, before the one before it at %v", i, cur.at, prev.at)
		}
		free := availableSet(prev.free)
		n := 0
		for ; n < len(records) && !cur.at.Before(records[n].Position); n++ {
		}
		applyAvailable(free, records[:n])
		records = records[n:]
		if got := sortedAvailable(free); !slices.Equal(got, cur.free) {
			t.Fatalf("snapshot at %v %v, with the records up to %v: %v; the snapshot there: %v", prev.at, prev.free, cur.at, got, cur.free)
		}
	}
}

// testStreamExpiry: holds that expire are recorded by Expire, or by the
// next change before its own record; until then the list's version counts
// them.
func testStreamExpiry(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	if next, err := s.Expire(ctx, e.ID); err != nil || !next.IsZero() {
		t.Fatalf("Expire of an event without holds = %v, %v; want the zero time", next, err)
	}
	from := lastPosition(t, s, e)
	exp := wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 3, 1, 2), "alice", shortHold, noIdem)), e, "alice", 3, 1, 2)
	long := wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 9), "bob", longHold, noIdem)), e, "bob", 9)
	// Poll Expire until it records the end of alice's holds.
	deadline := exp.Add(5 * time.Second)
	var expired []domain.Record
	for {
		polled := time.Now()
		next, err := s.Expire(ctx, e.ID)
		if err != nil {
			t.Fatalf("Expire: %v", err)
		}
		for _, r := range changesAfter(t, s, e, from, pageSize) {
			if r.Op == domain.OpExpire {
				expired = append(expired, r)
			}
		}
		if expired != nil {
			if !next.Equal(long) {
				t.Fatalf("Expire after alice's holds ended: next %v, want bob's expiry %v", next, long)
			}
			break
		}
		if next.IsZero() || next.After(exp) {
			t.Fatalf("Expire before alice's holds ended: next %v, want at most %v", next, exp)
		}
		if polled.After(deadline) {
			t.Fatalf("holds until %v not recorded as expired at %v", exp, polled)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var ended []domain.Seat
	for _, n := range []int{1, 2, 3} {
		ended = append(ended, domain.NewSeat(e.Seat(n)))
	}
	wantChanges(t, "expiry", expired, []change{{domain.OpExpire, ended}})
	if expired[0].At.Add(clockSlack).Before(exp) {
		t.Fatalf("holds until %v recorded as expired at %v", exp, expired[0].At)
	}
	if _, ok, err := s.ListVersion(ctx, e.ID); err != nil || !ok {
		t.Fatalf("ListVersion with no hold expired unrecorded: ok %v, %v", ok, err)
	}

	// A hold that ends with no Expire: the list counts it, and the next
	// change records it first.
	from = lastPosition(t, s, e)
	short := wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 4), "carol", shortHold, noIdem)), e, "carol", 4)
	waitAvailable(t, s, e.Seat(4), short)
	at := lastPosition(t, s, e)
	_, free, v, err := s.AvailableSeats(ctx, e.ID)
	if err != nil || !slices.Equal(free, seq(1, 10, 9)) || v != (domain.Version{Position: at, Expired: 1}) {
		t.Fatalf("AvailableSeats with carol's hold ended unrecorded = %v, %v, %v; want all but 9, version %v.1", free, v, err, at)
	}
	if v, ok, err := s.ListVersion(ctx, e.ID); err != nil || ok {
		t.Fatalf("ListVersion with a hold ended unrecorded = %v, ok %v, %v; want not ok", v, ok, err)
	}
	held := wantHeld(t, "Hold", ans(s.Hold(ctx, e.ID, ids(e, 5), "dave", longHold, noIdem)), e, "dave", 5)
	got := changesAfter(t, s, e, from, pageSize)
	wantChanges(t, "a hold, its end and a change", got, []change{
		{domain.OpHold, []domain.Seat{{ID: e.Seat(4), Status: domain.OnHold, Holder: "carol", HoldExpiresAt: short}}},
		{domain.OpExpire, []domain.Seat{domain.NewSeat(e.Seat(4))}},
		{domain.OpHold, []domain.Seat{{ID: e.Seat(5), Status: domain.OnHold, Holder: "dave", HoldExpiresAt: held}}},
	})
}

// testStreamWait: Wait answers the events with records after their
// positions, when one comes, or none after block.
func testStreamWait(t *testing.T, s application.Store) {
	ctx := context.Background()
	e, other := newEvent(t, s, 10), newEvent(t, s, 10)
	unknown := domain.EventID(uuid.NewString())
	must(t, "Hold")(Hold(ctx, s, e.Seat(1), "alice", longHold))
	at := lastPosition(t, s, e)

	wait := func(after map[domain.EventID]domain.Position, block time.Duration) ([]domain.EventID, time.Duration) {
		t.Helper()
		start := time.Now()
		got, err := s.Wait(ctx, after, block)
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
		return got, time.Since(start)
	}
	// Records there already: at once.
	if got, _ := wait(map[domain.EventID]domain.Position{e.ID: {}, other.ID: {}, unknown: {}}, time.Minute); !slices.Equal(got, []domain.EventID{e.ID}) {
		t.Fatalf("Wait from the zero position = %v, want %v", got, e.ID)
	}
	// None: after block.
	const block = 100 * time.Millisecond
	if got, took := wait(map[domain.EventID]domain.Position{e.ID: at, other.ID: {}, unknown: {}}, block); len(got) != 0 || took < block-clockSlack {
		t.Fatalf("Wait with no change = %v after %v, want none after %v", got, took, block)
	}
	// One comes: it wakes, well before its block.
	type waited struct {
		got  []domain.EventID
		took time.Duration
	}
	woke := make(chan waited)
	go func() {
		start := time.Now()
		got, err := s.Wait(ctx, map[domain.EventID]domain.Position{e.ID: at, other.ID: {}, unknown: {}}, 20*time.Second)
		if err != nil {
			t.Errorf("Wait: %v", err)
		}
		woke <- waited{got, time.Since(start)}
	}()
	time.Sleep(block) // most likely blocked by then; if not, it answers at once
	must(t, "Hold")(Hold(ctx, s, other.Seat(1), "bob", longHold))
	if w := <-woke; !slices.Equal(w.got, []domain.EventID{other.ID}) || w.took > 10*time.Second {
		t.Fatalf("Wait woken by a change of %v = %v after %v", other.ID, w.got, w.took)
	}
}

// testStreamVersion: every change moves the list's version, a refusal
// does not, and ListVersion agrees with AvailableSeats when it knows.
func testStreamVersion(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	seen := map[domain.Version]bool{}
	check := func(what string, changed bool) {
		t.Helper()
		_, _, v, err := s.AvailableSeats(ctx, e.ID)
		if err != nil {
			t.Fatalf("%s: AvailableSeats: %v", what, err)
		}
		if v.Expired != 0 || v.Position != lastPosition(t, s, e) {
			t.Fatalf("%s: version %v, want the last record's position %v and nothing expired", what, v, lastPosition(t, s, e))
		}
		if seen[v] == changed {
			t.Fatalf("%s: version %v, seen before: %v", what, v, seen[v])
		}
		seen[v] = true
		lv, ok, err := s.ListVersion(ctx, e.ID)
		if err != nil || !ok || lv != v {
			t.Fatalf("%s: ListVersion = %v, ok %v, %v; want %v", what, lv, ok, err, v)
		}
	}
	check("a new event", true)
	must(t, "Hold")(Hold(ctx, s, e.Seat(1), "alice", longHold))
	check("Hold", true)
	_, err := Hold(ctx, s, e.Seat(1), "bob", longHold)
	wantErr(t, "Hold of alice's seat", err, domain.ErrSeatHeld)
	check("a refused hold", false)
	// A refresh in the hold's millisecond extends nothing and records
	// nothing: the records tell.
	before := len(changesAfter(t, s, e, domain.Position{}, 100))
	must(t, "Refresh")(Refresh(ctx, s, e.Seat(1), "alice", longHold))
	check("Refresh", len(changesAfter(t, s, e, domain.Position{}, 100)) > before)
	must(t, "Reserve")(Reserve(ctx, s, e.Seat(1), "alice"))
	check("Reserve", true)
	must(t, "Reserve again")(Reserve(ctx, s, e.Seat(1), "alice"))
	check("Reserve again", false)
	wantSeats(t, "Release", ans(s.Release(ctx, e.ID, nil, "bob", noIdem)), e, domain.Available, "")
	check("Release of nothing", false)
	must(t, "Hold")(Hold(ctx, s, e.Seat(2), "bob", longHold))
	check("Hold", true)
	wantSeats(t, "Release", ans(s.Release(ctx, e.ID, nil, "bob", noIdem)), e, domain.Available, "", 2)
	check("Release", true)
}

// testStreamDeleted: a deleted event's record goes with it.
func testStreamDeleted(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	must(t, "Hold")(Hold(ctx, s, e.Seat(1), "alice", longHold))
	if err := s.DeleteEvent(ctx, e.ID); err != nil {
		t.Fatalf("DeleteEvent: %v", err)
	}
	for _, id := range []domain.EventID{e.ID, unknownEvent().ID} {
		_, err := s.Changes(ctx, id, domain.Position{}, 10)
		wantErr(t, "Changes", err, domain.ErrEventNotFound)
		_, _, _, err = s.Snapshot(ctx, id)
		wantErr(t, "Snapshot", err, domain.ErrEventNotFound)
		if got, err := s.Wait(ctx, map[domain.EventID]domain.Position{id: {}}, 10*time.Millisecond); err != nil || len(got) != 0 {
			t.Fatalf("Wait of an event that is not = %v, %v; want none", got, err)
		}
	}
	// Made again, it starts with no record.
	if err := s.CreateEvent(ctx, e); err != nil {
		t.Fatalf("CreateEvent again: %v", err)
	}
	if got := changesAfter(t, s, e, domain.Position{}, pageSize); len(got) != 0 {
		t.Fatalf("the event made again has records %+v", got)
	}
}

// testStreamRecreated: an event deleted and created again under its id
// (an Idempotency-Key on create names the id) is another event. Its list's
// version is none of the old one's, and a reader that resumes from a
// position of the old one is told to start again from a snapshot
// (ErrTrimmed, naming the new event's birth): the new records do not
// follow the ones it read.
func testStreamRecreated(t *testing.T, s application.Store) {
	ctx := context.Background()
	e := newEvent(t, s, 10)
	_, _, fresh, err := s.AvailableSeats(ctx, e.ID)
	if err != nil {
		t.Fatalf("AvailableSeats: %v", err)
	}
	must(t, "Hold")(Hold(ctx, s, e.Seat(1), "alice", longHold))
	held := lastPosition(t, s, e)
	if err := s.DeleteEvent(ctx, e.ID); err != nil {
		t.Fatalf("DeleteEvent: %v", err)
	}
	// The store's clock passes the old event's last record before the
	// new one is born: within one millisecond the two cannot be told
	// apart (domain.Born). A hold of a millisecond ends after it.
	scratch := newEvent(t, s, 10)
	tick := domain.HoldPolicy{TTL: time.Millisecond, MaxSeats: 1}
	clock := must(t, "Hold")(Hold(ctx, s, scratch.Seat(1), "clock", tick)).HoldExpiresAt
	waitAvailable(t, s, scratch.Seat(1), clock)

	again, err := domain.NewEvent(e.ID, "Made again", 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateEvent(ctx, again); err != nil {
		t.Fatalf("CreateEvent again: %v", err)
	}
	// The store's time after the create, read as the clock hold's was (a
	// hold without a cap ends a TTL after it is made).
	after := must(t, "Hold")(Hold(ctx, s, scratch.Seat(2), "clock", longHold)).HoldExpiresAt.Add(-longHold.TTL)
	_, _, v, err := s.AvailableSeats(ctx, e.ID)
	if err != nil {
		t.Fatalf("AvailableSeats: %v", err)
	}
	born := lastPosition(t, s, again)
	if v == fresh || v.Position != born || !held.Before(born) {
		t.Fatalf("the event made again is at %v (version %v), the old one was at %v and %v; want a version of its own, after them", born, v, fresh, held)
	}
	// The birth is domain.Born of the store's time at the create, which
	// the Redis script computes itself: between the clock hold's end and
	// the hold after the create.
	if earliest, latest := domain.Born(clock), domain.Born(after); born.Before(earliest) || latest.Before(born) || born.Seq != 0 {
		t.Fatalf("the event made again is born at %v, want domain.Born of a time of its create: from %v to %v", born, earliest, latest)
	}
	if lv, ok, err := s.ListVersion(ctx, e.ID); err != nil || !ok || lv != v {
		t.Fatalf("ListVersion = %v, %v, %v; want %v", lv, ok, err, v)
	}
	trimmed := func(what string) {
		t.Helper()
		for _, after := range []domain.Position{fresh.Position, held} {
			_, err := s.Changes(ctx, e.ID, after, 10)
			if te := (*application.TrimmedError)(nil); !errors.As(err, &te) || te.Last != born {
				t.Fatalf("%s: Changes after %v of the old event = %v, want ErrTrimmed naming the birth %v", what, after, err, born)
			}
		}
	}
	trimmed("a new event")
	if got := changesAfter(t, s, again, domain.Position{}, pageSize); len(got) != 0 {
		t.Fatalf("the event made again has records %+v", got)
	}
	must(t, "Hold")(Hold(ctx, s, again.Seat(15), "bob", longHold))
	trimmed("after a change")
	got := changesAfter(t, s, again, born, pageSize)
	if len(got) != 1 || !born.Before(got[0].Position) || got[0].Seats[0].ID != again.Seat(15) {
		t.Fatalf("records after the birth %v: %+v, want bob's hold after it", born, got)
	}
	if ids, err := s.Wait(ctx, map[domain.EventID]domain.Position{e.ID: born}, time.Minute); err != nil || !slices.Equal(ids, []domain.EventID{e.ID}) {
		t.Fatalf("Wait from the birth = %v, %v; want the event", ids, err)
	}
}

// RunTrim checks retention on stores made by newStore to keep maxLen
// records of each event (at least; Redis trims in whole nodes): the
// oldest go, and reading from a position before them is ErrTrimmed.
func RunTrim(t *testing.T, newStore func(t *testing.T, maxLen int) application.Store) {
	const maxLen, made = 10, 1000
	ctx := context.Background()
	s := newStore(t, maxLen)
	e := newEvent(t, s, 10)
	// The position of each record: the snapshot's after its change.
	at := make([]domain.Position, made)
	for i := range at {
		var err error
		if i%2 == 0 {
			_, err = s.Hold(ctx, e.ID, ids(e, 1), "alice", longHold, noIdem)
		} else {
			_, err = s.Release(ctx, e.ID, nil, "alice", noIdem)
		}
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		at[i] = lastPosition(t, s, e)
	}
	for _, after := range []domain.Position{{}, at[0]} {
		_, err := s.Changes(ctx, e.ID, after, 100)
		var trimmed *application.TrimmedError
		if !errors.As(err, &trimmed) {
			t.Fatalf("Changes after %v, with %d records made and %d kept: %v, want a TrimmedError", after, made, maxLen, err)
		}
		// From the last record gone: the oldest kept, and those after it.
		kept := changesAfter(t, s, e, trimmed.Last, 3)
		first := slices.Index(at, kept[0].Position)
		if first < 0 || first > made-maxLen || kept[len(kept)-1].Position != at[made-1] || len(kept) != made-first {
			t.Fatalf("Changes after the last record gone (%v): %d records from %v, want the %d kept at least, to the last", trimmed.Last, len(kept), kept[0].Position, maxLen)
		}
	}
	got := changesAfter(t, s, e, at[made-maxLen-1], 3)
	if len(got) != maxLen || got[0].Position != at[made-maxLen] || got[maxLen-1].Position != at[made-1] {
		t.Fatalf("Changes of the last %d records: %d records from %v to %v", maxLen, len(got), got[0].Position, got[len(got)-1].Position)
	}
	if got := changesAfter(t, s, e, at[made-1], 3); len(got) != 0 {
		t.Fatalf("Changes after the last: %+v", got)
	}
}
