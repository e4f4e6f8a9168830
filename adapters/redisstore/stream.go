package redisstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// The record of changes is a Redis Stream per event (changesKey), under the
// event's hash tag, which every change script appends to in its own step
// (luaRecord): entry id = the record's position, fields o (domain.Op), t
// (the script's now, ms), u (the user) and s ("n e n e ...": each seat and
// the expiry of its hold, 0 when not on hold), then u2 and s2, u3 and s3,
// and so on, for the other users of a batch of holds. Reads are read-only
// scripts or XREAD, so they work on a Redis out of memory too.

// Snapshot implements application.Store.
func (s *Store) Snapshot(ctx context.Context, id domain.EventID) (domain.Event, []int, domain.Position, error) {
	e, err := s.event(ctx, id)
	if err != nil {
		return domain.Event{}, nil, domain.Position{}, err
	}
	msg, err := s.run(ctx, snapshotScript, []string{e.keys[keySeats], e.keys[keyChanges], e.keys[keyEvent]}, nil)
	if err != nil {
		return domain.Event{}, nil, domain.Position{}, err
	}
	reply, err := msg.ToArray()
	if err != nil || len(reply) != 3 {
		return domain.Event{}, nil, domain.Position{}, errMalformed
	}
	seats, err := s.seatsString(e, reply[0])
	if err != nil {
		return domain.Event{}, nil, domain.Position{}, err
	}
	at, err := position(reply[1], reply[2])
	if err != nil {
		return domain.Event{}, nil, domain.Position{}, errMalformed
	}
	// As recorded: an 'H' whose hold expired unrecorded is still held here.
	free := make([]int, 0, strings.Count(seats, "A"))
	for i := range len(seats) {
		if seats[i] == 'A' {
			free = append(free, i+1)
		}
	}
	return e.Event, free, at, nil
}

// ListVersion implements application.Store.
func (s *Store) ListVersion(ctx context.Context, id domain.EventID) (domain.Version, bool, error) {
	msg, err := s.run(ctx, listVersionScript, []string{seatsKey(id), holdsKey(id), changesKey(id), eventKey(id)}, nil)
	if err != nil {
		return domain.Version{}, false, err
	}
	if msg.IsInt64() {
		return domain.Version{}, false, s.gone(id, domain.ErrEventNotFound)
	}
	reply, err := msg.ToArray()
	if err != nil || len(reply) != 3 {
		return domain.Version{}, false, errMalformed
	}
	at, err1 := position(reply[0], reply[2])
	exact, err2 := reply[1].AsInt64()
	if errors.Join(err1, err2) != nil {
		return domain.Version{}, false, errMalformed
	}
	return domain.Version{Position: at}, exact == 1, nil
}

// Changes implements application.Store.
func (s *Store) Changes(ctx context.Context, id domain.EventID, after domain.Position, limit int) ([]domain.Record, error) {
	// From the position right after after: XRANGE's exclusive start
	// refuses the last ID there can be, which no record follows.
	from := ""
	if next, ok := after.Next(); ok {
		from = next.String()
	}
	msg, err := s.run(ctx, changesScript, []string{seatsKey(id), changesKey(id), eventKey(id)}, []string{from, strconv.Itoa(max(limit, 1)), after.String()})
	if err != nil {
		return nil, err
	}
	if msg.IsInt64() {
		return nil, s.gone(id, domain.ErrEventNotFound)
	}
	reply, err := msg.ToArray()
	if err != nil || len(reply) != 6 {
		return nil, errMalformed
	}
	f, err1 := reply[0].ToString()
	trimmed, err2 := reply[1].AsInt64()
	first, err3 := domain.ParsePosition(f)
	born, err4 := birth(reply[3])
	at, err5 := reply[4].AsInt64()
	l, err6 := reply[5].ToString()
	last, err7 := domain.ParsePosition(l)
	if errors.Join(err1, err2, err3, err4, err5, err6, err7) != nil {
		return nil, errMalformed
	}
	if after.Predates(born) {
		return nil, &application.TrimmedError{Last: born}
	}
	// Records went, all of them before the first kept: some after after
	// may have gone, unless after is the last that went, which this
	// cannot tell apart but when it is right before the first (then no
	// record lies between). A reader further behind starts again from a
	// snapshot, needlessly at times, never with a gap.
	edge, ok := first.Prev()
	ok = ok && trimmed == 1
	if ok && after.Before(edge) {
		return nil, &application.TrimmedError{Last: edge}
	}
	// Any other position that is no record kept is none this event gave:
	// one that Redis lost (restarted from an AOF behind its last writes,
	// or a replica promoted before it had them), or made up. Reading on
	// from it could skip the records that took the lost ones' place. A
	// record of a lost one's millisecond may take its very ID: that, no
	// position can tell.
	if at == 0 && after != (domain.Position{}) && after != born && (!ok || after != edge) {
		return nil, &application.TrimmedError{Last: last}
	}
	entries, err := reply[2].AsXRange()
	if err != nil {
		return nil, errMalformed
	}
	return records(id, entries)
}

// Wait implements application.Store with XREAD BLOCK, on the blocking
// connections of the follower's client (see followBuffer): one call per
// group of events (see waitGroup), the first that answers ending the
// Wait. The others go on: an XREAD outlives the Wait that sent it, and
// the next Wait that asks the same of its group (the same events, from
// the same positions) waits for it again rather than send it again. So a
// change of one event, while an instance follows thousands, costs one
// XREAD of its group, not one of every group followed. An XREAD that no
// Wait waits for and the next one does not ask is ended (CLIENT UNBLOCK).
func (s *Store) Wait(ctx context.Context, after map[domain.EventID]domain.Position, block time.Duration) ([]domain.EventID, error) {
	timer := time.NewTimer(block)
	defer timer.Stop()
	if len(after) == 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, nil
		}
	}
	groups := map[uint16][]domain.EventID{}
	cluster := s.client.Mode() == rueidis.ClientModeCluster
	for id := range after {
		g := waitGroup(id, cluster)
		groups[g] = append(groups[g], id)
	}
	asks := make([]xreadAsk, 0, len(groups))
	for _, ids := range groups {
		asks = append(asks, newXreadAsk(ids, after))
	}
	for {
		woken := make(chan struct{}, 1)
		calls := s.xreads.take(asks, woken, func(a xreadAsk) *xread { return s.startXread(a, max(block, xreadBlock)) })
		timedOut := false
		select {
		case <-woken:
		case <-ctx.Done():
		case <-timer.C:
			timedOut = true
		}
		ready, errs := s.xreads.collect(calls, woken)
		switch {
		case len(ready) > 0 || ctx.Err() != nil:
			return ready, nil
		case len(errs) > 0:
			return nil, errors.Join(errs...)
		case timedOut:
			return nil, nil
		}
		// An XREAD sent before this Wait, whose own block passed first,
		// or one ended: its group is read again.
	}
}

// xreadBlock is the least block of an XREAD that Wait sends: it may
// outlast the Wait, its own block bounding it, so that the next Wait finds
// it still blocked. Every XREAD that ends for nothing is sent again, so a
// block of a second, the feed's, made an instance that follows thousands
// of events on a cluster send each of their slots' XREAD again every
// second, most for nothing.
const xreadBlock = 10 * time.Second

// The connections of Wait's XREADs (Store.follow). Each XREAD holds a
// connection of its client's blocking pool while it waits, one per slot
// of the events followed on a cluster: as many as the events, up to
// rueidis's 1,024 a node. A connection of the store's main client has
// buffers of 0.5 MiB each way and a ring of 1,024 commands, made for the
// pipelined holds; an XREAD of a group writes a few keys and reads a few
// records, one command at a time. On those connections an instance whose
// subscribers followed 2,000 events on a cluster reached an RSS of 1.1 GB
// (bufio and rings: 90% of its heap); on the follower's own client, with
// small ones, 250 MB.
const (
	followBuffer    = 4 << 10 // bytes, each way; a longer answer is read in parts
	followRingScale = 2       // 4 commands in flight a connection
)

// waitShards is how many groups the events followed on a standalone Redis
// make, each its XREAD: a change then sends again the XREAD of a 16th of
// them, for 16 of the client's blocking connections at most.
const waitShards = 16

// waitGroup is the group of event id's XREAD: its slot on a cluster, where
// a command's keys must share one (even on one node); a shard of the
// events on a standalone Redis.
func waitGroup(id domain.EventID, cluster bool) uint16 {
	slot := hashSlot(string(id))
	if !cluster {
		return slot % waitShards
	}
	return slot
}

// xreadAsk is what an XREAD asks: records of the events ids (sorted)
// after their positions, from; text names it.
type xreadAsk struct {
	ids  []domain.EventID
	from []domain.Position
	text string
}

func newXreadAsk(ids []domain.EventID, after map[domain.EventID]domain.Position) xreadAsk {
	slices.Sort(ids)
	a := xreadAsk{ids: ids, from: make([]domain.Position, len(ids))}
	var b strings.Builder
	for i, id := range ids {
		a.from[i] = after[id]
		b.WriteString(string(id))
		b.WriteByte(' ')
		b.WriteString(a.from[i].String())
		b.WriteByte(' ')
	}
	a.text = b.String()
	return a
}

// xread is one XREAD BLOCK, in a goroutine of its own, and then its
// answer.
type xread struct {
	ask    xreadAsk
	cancel context.CancelFunc
	// Under xreads' lock: done once ready and err are set; woken are
	// the Waits waiting for it, each told once.
	done  bool
	ready []domain.EventID
	err   error
	woken []chan<- struct{}
}

// xreads are the XREADs in flight, or answered and not yet collected, by
// what they ask.
type xreads struct {
	mu     sync.Mutex
	byAsk  map[string]*xread
	closed bool
}

// take returns the XREADs of asks, those there that ask the same and new
// ones (start) for the others, and ends those that no Wait waits for and
// asks do not name. woken is told when one of them answers.
func (w *xreads) take(asks []xreadAsk, woken chan<- struct{}, start func(xreadAsk) *xread) []*xread {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byAsk == nil {
		w.byAsk = map[string]*xread{}
	}
	named := make(map[string]bool, len(asks))
	for _, a := range asks {
		named[a.text] = true
	}
	for text, x := range w.byAsk {
		if !named[text] && len(x.woken) == 0 {
			x.cancel()
			delete(w.byAsk, text)
		}
	}
	calls := make([]*xread, 0, len(asks))
	for _, a := range asks {
		x := w.byAsk[a.text]
		if x == nil {
			x = start(a)
			if w.closed {
				x.cancel()
			}
			w.byAsk[a.text] = x
		}
		if x.done {
			notify(woken)
		} else {
			x.woken = append(x.woken, woken)
		}
		calls = append(calls, x)
	}
	return calls
}

// answer sets x's answer and tells the Waits that wait for it.
func (w *xreads) answer(x *xread, ready []domain.EventID, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	x.done, x.ready, x.err = true, ready, err
	for _, c := range x.woken {
		notify(c)
	}
	x.woken = nil
}

// collect returns what the answered calls read, which no later Wait gets
// again, and stops telling woken of the others.
func (w *xreads) collect(calls []*xread, woken chan<- struct{}) ([]domain.EventID, []error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var (
		ready []domain.EventID
		errs  []error
	)
	for _, x := range calls {
		if !x.done {
			x.woken = slices.DeleteFunc(x.woken, func(c chan<- struct{}) bool { return c == woken })
			continue
		}
		ready = append(ready, x.ready...)
		if x.err != nil {
			errs = append(errs, x.err)
		}
		if w.byAsk[x.ask.text] == x {
			delete(w.byAsk, x.ask.text)
		}
	}
	return ready, errs
}

// close ends every XREAD, and those that take starts later at once.
func (w *xreads) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for _, x := range w.byAsk {
		x.cancel()
	}
}

// notify tells c, which has room for one, without waiting.
func notify(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// startXread sends the XREAD of a, which answers when one of its events
// has records after its position, or after block.
func (s *Store) startXread(a xreadAsk, block time.Duration) *xread {
	ctx, cancel := context.WithTimeout(context.Background(), block+s.timeout)
	x := &xread{ask: a, cancel: cancel}
	go func() {
		defer cancel()
		ready, err := s.wait(ctx, a.ids, a.from, block)
		if errors.Is(ctx.Err(), context.Canceled) {
			ready, err = nil, nil // ended: see Wait
		}
		s.xreads.answer(x, ready, err)
	}()
	return x
}

// wait is one XREAD of the events ids from the positions from, all of one
// slot.
func (s *Store) wait(ctx context.Context, ids []domain.EventID, from []domain.Position, block time.Duration) ([]domain.EventID, error) {
	keys := make([]string, len(ids))
	froms := make([]string, len(ids))
	byKey := make(map[string]domain.EventID, len(ids))
	for i, id := range ids {
		keys[i], froms[i] = changesKey(id), from[i].String()
		byKey[keys[i]] = id
	}
	// Ended (see Wait), the client unblocks the call (CLIENT UNBLOCK) and
	// keeps its connection, rather than hold it for the rest of the block.
	cmd := s.follow.B().Xread().Count(1).Block(max(block.Milliseconds(), 1)).Streams().Key(keys...).Id(froms...).Build().UnblockOnCancel()
	res, err := s.follow.Do(ctx, cmd).AsXRead()
	if rueidis.IsRedisNil(err) {
		return nil, nil // block passed
	}
	if err != nil {
		return nil, unavailable(err)
	}
	ready := make([]domain.EventID, 0, len(res))
	for k := range res {
		if id, ok := byKey[k]; ok {
			ready = append(ready, id)
		}
	}
	return ready, nil
}

// Expire implements application.Store.
func (s *Store) Expire(ctx context.Context, id domain.EventID) (time.Time, error) {
	e, err := s.event(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	msg, err := s.run(ctx, s.scripts.expire, e.keys[keySeats:keyIdems], nil)
	if err != nil {
		return time.Time{}, err
	}
	if !msg.IsInt64() {
		// {EVENT_NOT_FOUND}, of the reclaim's check
		v, err := msg.AsIntSlice()
		if err != nil || len(v) != 1 {
			return time.Time{}, errMalformed
		}
		return time.Time{}, s.gone(id, codeRefusal(v[0]))
	}
	next, _ := msg.ToInt64()
	if next == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(next), nil
}

// lastPosition reads the position of an XREVRANGE ... COUNT 1: the zero
// Position when the stream has no record (none was ever made).
func lastPosition(reply rueidis.RedisMessage) (domain.Position, error) {
	entries, err := reply.AsXRange()
	if err != nil {
		return domain.Position{}, err
	}
	if len(entries) == 0 {
		return domain.Position{}, nil
	}
	return domain.ParsePosition(entries[0].ID)
}

// birth reads an event's birth from its hash (see createScript): the zero
// Position for an event made before births were kept.
func birth(reply rueidis.RedisMessage) (domain.Position, error) {
	if reply.IsNil() {
		return domain.Position{}, nil
	}
	b, err := reply.ToString()
	if err != nil {
		return domain.Position{}, err
	}
	return domain.ParsePosition(b)
}

// position reads an event's position from the replies of its last record
// (lastPosition's) and its birth: the birth while it has no record.
func position(last, born rueidis.RedisMessage) (domain.Position, error) {
	at, err1 := lastPosition(last)
	b, err2 := birth(born)
	if err := errors.Join(err1, err2); err != nil {
		return domain.Position{}, err
	}
	if at.Before(b) {
		return b, nil
	}
	return at, nil
}

// records reads stream entries of event id as the records they are.
func records(id domain.EventID, entries []rueidis.XRangeEntry) ([]domain.Record, error) {
	out := make([]domain.Record, len(entries))
	for i, en := range entries {
		at, err1 := domain.ParsePosition(en.ID)
		op, err2 := strconv.Atoi(en.FieldValues["o"])
		ms, err3 := strconv.ParseInt(en.FieldValues["t"], 10, 64)
		if errors.Join(err1, err2, err3) != nil || op < int(domain.OpHold) || op > int(domain.OpExpire) {
			return nil, errMalformed
		}
		r := domain.Record{Position: at, Op: domain.Op(op), At: time.UnixMilli(ms)}
		for k := 1; ; k++ {
			uf, sf := recordFields(k)
			seats, ok := en.FieldValues[sf]
			if !ok && k > 1 {
				break
			}
			var err error
			if r.Seats, err = recordSeats(r.Seats, id, r.Op, domain.UserID(en.FieldValues[uf]), seats); err != nil {
				return nil, err
			}
		}
		out[i] = r
	}
	return out, nil
}

// recordFields names the fields of the k-th user of a record (from 1) and
// of their seats: u and s, then u2 and s2, u3 and s3, ... (see luaRecord).
func recordFields(k int) (user, seats string) {
	if k == 1 {
		return "u", "s"
	}
	return "u" + strconv.Itoa(k), "s" + strconv.Itoa(k)
}

// recordSeats appends the seats of s ("n e n e ...") as the change op of
// user left them.
func recordSeats(out []domain.Seat, id domain.EventID, op domain.Op, user domain.UserID, s string) ([]domain.Seat, error) {
	fields := strings.Fields(s)
	if len(fields)%2 != 0 {
		return nil, errMalformed
	}
	out = slices.Grow(out, len(fields)/2)
	for k := 0; k < len(fields); k += 2 {
		n, err1 := strconv.Atoi(fields[k])
		exp, err2 := strconv.ParseInt(fields[k+1], 10, 64)
		if errors.Join(err1, err2) != nil {
			return nil, errMalformed
		}
		seat := domain.NewSeat(domain.SeatID{Event: id, Number: n})
		switch op {
		case domain.OpHold, domain.OpRefresh:
			seat.Status, seat.Holder, seat.HoldExpiresAt = domain.OnHold, user, time.UnixMilli(exp)
		case domain.OpReserve:
			seat.Status, seat.Holder = domain.Reserved, user
		}
		out = append(out, seat)
	}
	return out, nil
}

// hashSlot is Redis Cluster's slot of a key whose hash tag is tag: CRC16
// (XMODEM) of the tag, mod 16384. Every key of an event has the tag {E}.
// Wait computes it for every event followed, thousands of them: a byte at
// a time, from crc16Table.
func hashSlot(tag string) uint16 {
	crc := uint16(0)
	for i := 0; i < len(tag); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^tag[i]]
	}
	return crc % 16384
}

// crc16Table is the CRC16 (XMODEM, polynomial 0x1021) of each byte.
var crc16Table = func() (t [256]uint16) {
	for b := range t {
		crc := uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[b] = crc
	}
	return t
}()
