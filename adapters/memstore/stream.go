package memstore

import (
	"context"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// DefaultStreamMaxLen is how many records of changes an event keeps by
// default, as RESERVATION_STREAM_MAX_LEN's default.
const DefaultStreamMaxLen = 100_000

// WithStreamMaxLen keeps the last n records of changes of each event
// (exactly n; at least 1), DefaultStreamMaxLen without it.
func WithStreamMaxLen(n int) Option {
	return func(s *Store) { s.maxLen = max(n, 1) }
}

// changes is an event's record of changes and what it needs to record
// expiries. It is the event's, under the event's lock.
type changes struct {
	kept ring            // the last maxLen records
	last domain.Position // of the last record ever, kept or not
	// trimmed is the position of the last record dropped: Changes after a
	// position before it would skip it.
	trimmed domain.Position
	// born is the event's position before its first record (domain.Born),
	// and so its last while it has none.
	born  domain.Position
	holds expiries
	// wake is closed at the next record, for Wait; nil while nobody waits,
	// so that a change that nobody follows makes no channel.
	wake chan struct{}
}

// record is a domain.Record as kept: its seats in less than half the
// memory of domain.Seats, with one pointer each for the collector to scan
// instead of two, since the event keeps up to maxLen of them.
type record struct {
	pos   domain.Position
	op    domain.Op
	at    time.Time
	seats []seatChange
}

// seatChange is a seat of a record as it became. The event's id is the
// record's, and the expiry is in Unix nanoseconds, set only on hold.
type seatChange struct {
	n      int32
	status domain.Status
	holder domain.UserID
	exp    int64
}

// Record returns the record as the port gives it.
func (r record) Record(e domain.EventID) domain.Record {
	seats := make([]domain.Seat, len(r.seats))
	for i, c := range r.seats {
		seats[i] = domain.Seat{ID: domain.SeatID{Event: e, Number: int(c.n)}, Status: c.status, Holder: c.holder}
		if c.status == domain.OnHold {
			seats[i].HoldExpiresAt = time.Unix(0, c.exp).In(r.at.Location())
		}
	}
	return domain.Record{Position: r.pos, Op: r.op, At: r.at, Seats: seats}
}

// record appends the seats that one step changes, called before the step
// stores them: a refresh or a reserve records only the seats that differ
// from those stored (a hold it did not extend, a seat reserved already),
// the others all they are given. It returns how many seats it recorded,
// and ends the oldest records past maxLen. A hold or refresh also
// schedules the expiry of its seats, so that a later step records it.
func (ev *event) record(op domain.Op, now time.Time, seats []domain.Seat) int {
	changedOnly := op == domain.OpRefresh || op == domain.OpReserve
	// The rules answer a seat they leave as it was with a copy of it: ==
	// tells it from a changed one.
	skip := func(s domain.Seat) bool { return changedOnly && s == ev.seats[s.ID.Number-1] }
	n := 0
	for _, s := range seats {
		if !skip(s) {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	kept := make([]seatChange, 0, n)
	for _, s := range seats {
		if skip(s) {
			continue
		}
		sc := seatChange{n: int32(s.ID.Number), status: s.Status, holder: s.Holder}
		if s.Status == domain.OnHold {
			sc.exp = s.HoldExpiresAt.UnixNano()
		}
		kept = append(kept, sc)
	}
	c := &ev.changes
	c.last = c.next(now)
	if dropped, ok := c.kept.push(record{pos: c.last, op: op, at: now, seats: kept}, ev.maxLen); ok {
		c.trimmed = dropped
	}
	if op == domain.OpHold || op == domain.OpRefresh {
		// One entry for each run of seats of one expiry (a cart's seats
		// share theirs): fewer entries than seats.
		for len(kept) > 0 {
			run := 1
			for run < len(kept) && kept[run].exp == kept[0].exp {
				run++
			}
			c.holds.push(expiry{at: kept[0].exp, seats: kept[:run:run]})
			kept = kept[run:]
		}
	}
	if c.wake != nil {
		close(c.wake)
		c.wake = nil
	}
	return n
}

// next is the position of a record made at now: Redis's rule for stream
// ids, so that positions only grow even when the clock stands still or
// goes back, and the first is after the zero position.
func (c *changes) next(now time.Time) domain.Position {
	ms := uint64(max(now.UnixMilli(), 0))
	if ms <= c.last.Ms {
		return domain.Position{Ms: c.last.Ms, Seq: c.last.Seq + 1}
	}
	return domain.Position{Ms: ms}
}

// expire ends the holds that expired by now, as one OpExpire record of
// their seats in ascending order: every change does it first, so that
// its own record comes after.
func (ev *event) expire(now time.Time) {
	var ended []domain.Seat
	for {
		e, ok := ev.changes.holds.peek()
		if !ok || now.UnixNano() < e.at {
			break
		}
		ev.changes.holds.pop()
		for _, c := range e.seats {
			if seat := &ev.seats[c.n-1]; ev.current(c) {
				*seat = domain.NewSeat(seat.ID)
				ended = append(ended, *seat)
			}
		}
	}
	slices.SortFunc(ended, func(a, b domain.Seat) int { return a.ID.Number - b.ID.Number })
	ev.record(domain.OpExpire, now, ended)
}

// current reports whether the hold that c recorded is the seat's as
// stored: a hold since released, reserved, extended or ended counts for
// nothing.
func (ev *event) current(c seatChange) bool {
	seat := ev.seats[c.n-1]
	return seat.Status == domain.OnHold && seat.HoldExpiresAt.UnixNano() == c.exp
}

// nextExpiry is the expiry of the first hold to end (passed or not), the
// zero Time when no seat is on hold. It drops the entries that no longer
// count on its way.
func (ev *event) nextExpiry() time.Time {
	for {
		e, ok := ev.changes.holds.peek()
		if !ok {
			return time.Time{}
		}
		for _, c := range e.seats {
			if ev.current(c) {
				return ev.seats[c.n-1].HoldExpiresAt
			}
		}
		ev.changes.holds.pop()
	}
}

// ListVersion implements application.Store: it knows the version while
// no hold has passed its expiry unrecorded.
func (s *Store) ListVersion(_ context.Context, id domain.EventID) (domain.Version, bool, error) {
	ev, err := s.event(id)
	if err != nil {
		return domain.Version{}, false, err
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if next := ev.nextExpiry(); !next.IsZero() && !s.now().Before(next) {
		return domain.Version{}, false, nil
	}
	return domain.Version{Position: ev.changes.last}, true, nil
}

// Snapshot implements application.Store.
func (s *Store) Snapshot(_ context.Context, id domain.EventID) (domain.Event, []int, domain.Position, error) {
	ev, err := s.event(id)
	if err != nil {
		return domain.Event{}, nil, domain.Position{}, err
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	free := make([]int, 0, len(ev.seats))
	for i, seat := range ev.seats {
		if seat.Status == domain.Available {
			free = append(free, i+1)
		}
	}
	return ev.info, free, ev.changes.last, nil
}

// Changes implements application.Store.
func (s *Store) Changes(_ context.Context, id domain.EventID, after domain.Position, limit int) ([]domain.Record, error) {
	ev, err := s.event(id)
	if err != nil {
		return nil, err
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	c := &ev.changes
	if after.Predates(c.born) {
		return nil, &application.TrimmedError{Last: c.born}
	}
	if after.Before(c.trimmed) {
		return nil, &application.TrimmedError{Last: c.trimmed}
	}
	from := sort.Search(c.kept.n, func(i int) bool { return after.Before(c.kept.at(i).pos) })
	if !c.gave(after, from) {
		return nil, &application.TrimmedError{Last: c.last}
	}
	out := make([]domain.Record, min(max(limit, 0), c.kept.n-from))
	for i := range out {
		out[i] = c.kept.at(from + i).Record(id)
	}
	return out, nil
}

// gave reports whether after, from the first kept record after it on, is
// a position that a reader of the event can hold: the start, its birth,
// a record kept, or the last record dropped (see application.TrimmedError).
func (c *changes) gave(after domain.Position, from int) bool {
	switch after {
	case domain.Position{}, c.born, c.trimmed:
		return true
	}
	return from > 0 && c.kept.at(from-1).pos == after
}

// Wait implements application.Store. An event it does not know (deleted,
// or never made) has nothing to wait for; block <= 0 answers at once.
func (s *Store) Wait(ctx context.Context, after map[domain.EventID]domain.Position, block time.Duration) ([]domain.EventID, error) {
	timer := time.NewTimer(block)
	defer timer.Stop()
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
	}
	for {
		ready, wakes := s.ready(after)
		if len(ready) > 0 || block <= 0 {
			return ready, nil
		}
		cases = cases[:2]
		for _, w := range wakes {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w)})
		}
		switch chosen, _, _ := reflect.Select(cases); chosen {
		case 0:
			return nil, ctx.Err()
		case 1:
			return nil, nil
		}
	}
}

// ready returns the events of after that have records after their
// position, in ascending order, or else the channels that the next record
// of each closes.
func (s *Store) ready(after map[domain.EventID]domain.Position) ([]domain.EventID, []chan struct{}) {
	var (
		ready []domain.EventID
		wakes []chan struct{}
	)
	for id, p := range after {
		ev, err := s.event(id)
		if err != nil {
			continue
		}
		ev.mu.Lock()
		c := &ev.changes
		switch {
		case p.Before(c.last) && c.last != c.born: // a record after p
			ready = append(ready, id)
		case ready == nil:
			if c.wake == nil {
				c.wake = make(chan struct{})
			}
			wakes = append(wakes, c.wake)
		}
		ev.mu.Unlock()
	}
	slices.Sort(ready)
	return ready, wakes
}

// Expire implements application.Store. A cool-down's end changes no seat
// and is not recorded: the next time is that of a hold.
func (s *Store) Expire(_ context.Context, id domain.EventID) (time.Time, error) {
	ev, err := s.event(id)
	if err != nil {
		return time.Time{}, err
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.expire(s.now())
	return ev.nextExpiry(), nil
}

// ring keeps the last records, oldest first: once it holds maxLen, each
// new record takes the place of the oldest, so that the record of a busy
// event costs no copy nor allocation but its seats.
type ring struct {
	buf     []record
	head, n int // the oldest at buf[head], n of them
}

func (r *ring) at(i int) *record { return &r.buf[(r.head+i)%len(r.buf)] }

// push appends rec, keeping at most maxLen, and returns the position of
// the record it dropped for it, if it did.
func (r *ring) push(rec record, maxLen int) (dropped domain.Position, ok bool) {
	if r.n == len(r.buf) && r.n < maxLen {
		buf := make([]record, min(max(2*r.n, 8), maxLen))
		for i := range r.n {
			buf[i] = *r.at(i)
		}
		r.buf, r.head = buf, 0
	}
	if r.n < len(r.buf) {
		*r.at(r.n) = rec
		r.n++
		return domain.Position{}, false
	}
	oldest := r.at(0)
	dropped = oldest.pos
	*oldest = rec
	r.head = (r.head + 1) % len(r.buf)
	return dropped, true
}

// expiry is when the holds of seats end, in Unix nanoseconds: seats of
// one record, which they share.
type expiry struct {
	at    int64
	seats []seatChange
}

// expiries is a min-heap of holds by expiry, without container/heap's
// boxing of every entry in an interface.
type expiries []expiry

func (h expiries) peek() (expiry, bool) {
	if len(h) == 0 {
		return expiry{}, false
	}
	return h[0], true
}

func (h *expiries) push(e expiry) {
	if *h == nil {
		*h = make(expiries, 0, 8) // not 1, 2, 4, 8 for an event's first holds
	}
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		parent := (i - 1) / 2
		if a[parent].at <= a[i].at {
			break
		}
		a[parent], a[i] = a[i], a[parent]
		i = parent
	}
}

func (h *expiries) pop() {
	a := *h
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(a) && a[l].at < a[least].at {
			least = l
		}
		if r < len(a) && a[r].at < a[least].at {
			least = r
		}
		if least == i {
			break
		}
		a[i], a[least] = a[least], a[i]
		i = least
	}
	*h = a
}
