package redisstore

import (
	"context"
	"errors"
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
// the expiry of its hold, 0 when not on hold). Reads are read-only scripts
// or XREAD, so they work on a Redis out of memory too.

// Snapshot implements application.Store.
func (s *Store) Snapshot(ctx context.Context, id domain.EventID) (domain.Event, []int, domain.Position, error) {
	e, err := s.event(ctx, id)
	if err != nil {
		return domain.Event{}, nil, domain.Position{}, err
	}
	msg, err := s.run(ctx, snapshotScript, []string{e.keys[keySeats], e.keys[keyChanges]}, nil)
	if err != nil {
		return domain.Event{}, nil, domain.Position{}, err
	}
	reply, err := msg.ToArray()
	if err != nil || len(reply) != 2 {
		return domain.Event{}, nil, domain.Position{}, errMalformed
	}
	seats, err := s.seatsString(e, reply[0])
	if err != nil {
		return domain.Event{}, nil, domain.Position{}, err
	}
	at, err := lastPosition(reply[1])
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
	msg, err := s.run(ctx, listVersionScript, []string{seatsKey(id), holdsKey(id), changesKey(id)}, nil)
	if err != nil {
		return domain.Version{}, false, err
	}
	if msg.IsInt64() {
		return domain.Version{}, false, s.gone(id, domain.ErrEventNotFound)
	}
	reply, err := msg.ToArray()
	if err != nil || len(reply) != 2 {
		return domain.Version{}, false, errMalformed
	}
	at, err1 := lastPosition(reply[0])
	exact, err2 := reply[1].AsInt64()
	if errors.Join(err1, err2) != nil {
		return domain.Version{}, false, errMalformed
	}
	return domain.Version{Position: at}, exact == 1, nil
}

// Changes implements application.Store.
func (s *Store) Changes(ctx context.Context, id domain.EventID, after domain.Position, limit int) ([]domain.Record, error) {
	msg, err := s.run(ctx, changesScript, []string{seatsKey(id), changesKey(id)}, []string{after.String(), strconv.Itoa(max(limit, 1))})
	if err != nil {
		return nil, err
	}
	if msg.IsInt64() {
		return nil, s.gone(id, domain.ErrEventNotFound)
	}
	reply, err := msg.ToArray()
	if err != nil || len(reply) != 3 {
		return nil, errMalformed
	}
	f, err1 := reply[0].ToString()
	trimmed, err2 := reply[1].AsInt64()
	first, err3 := domain.ParsePosition(f)
	if errors.Join(err1, err2, err3) != nil {
		return nil, errMalformed
	}
	// Records went, all of them before the first kept: some after after
	// may have gone, unless after is the last that went, which this
	// cannot tell apart but when it is right before the first (then no
	// record lies between). A reader further behind starts again from a
	// snapshot, needlessly at times, never with a gap.
	if last, ok := first.Prev(); trimmed == 1 && ok && after.Before(last) {
		return nil, &application.TrimmedError{Last: last}
	}
	entries, err := reply[2].AsXRange()
	if err != nil {
		return nil, errMalformed
	}
	return records(id, entries)
}

// Wait implements application.Store with XREAD BLOCK, on the client's
// connections for blocking commands: one call for all the events on a
// standalone Redis, one per slot on a Cluster (a command's keys must
// share a slot, even on one node), the first that answers ending the
// others.
func (s *Store) Wait(ctx context.Context, after map[domain.EventID]domain.Position, block time.Duration) ([]domain.EventID, error) {
	if len(after) == 0 {
		t := time.NewTimer(block)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, nil
		}
	}
	groups := map[uint16][]domain.EventID{}
	cluster := s.client.Mode() == rueidis.ClientModeCluster
	for id := range after {
		slot := uint16(0)
		if cluster {
			slot = hashSlot(string(id))
		}
		groups[slot] = append(groups[slot], id)
	}
	ctx, cancel := context.WithTimeout(ctx, block+s.timeout)
	defer cancel()
	var (
		mu    sync.Mutex
		ready []domain.EventID
		errs  []error
		wg    sync.WaitGroup
	)
	for _, ids := range groups {
		wg.Go(func() {
			got, err := s.wait(ctx, ids, after, block)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && ctx.Err() == nil {
				errs = append(errs, err)
			}
			if len(got) > 0 {
				ready = append(ready, got...)
				cancel() // the others need not wait on
			}
		})
	}
	wg.Wait()
	if len(ready) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ready, nil
}

// wait is one XREAD of the events ids, all of one slot.
func (s *Store) wait(ctx context.Context, ids []domain.EventID, after map[domain.EventID]domain.Position, block time.Duration) ([]domain.EventID, error) {
	keys := make([]string, len(ids))
	from := make([]string, len(ids))
	byKey := make(map[string]domain.EventID, len(ids))
	for i, id := range ids {
		keys[i], from[i] = changesKey(id), after[id].String()
		byKey[keys[i]] = id
	}
	// Ended early by Wait (another slot answered) or a caller going away,
	// the client unblocks the call (CLIENT UNBLOCK) and keeps its
	// connection, rather than hold it for the rest of the block.
	cmd := s.client.B().Xread().Count(1).Block(max(block.Milliseconds(), 1)).Streams().Key(keys...).Id(from...).Build().UnblockOnCancel()
	res, err := s.client.Do(ctx, cmd).AsXRead()
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
		user := domain.UserID(en.FieldValues["u"])
		fields := strings.Fields(en.FieldValues["s"])
		if len(fields)%2 != 0 {
			return nil, errMalformed
		}
		r.Seats = make([]domain.Seat, len(fields)/2)
		for k := range r.Seats {
			n, err1 := strconv.Atoi(fields[2*k])
			exp, err2 := strconv.ParseInt(fields[2*k+1], 10, 64)
			if errors.Join(err1, err2) != nil {
				return nil, errMalformed
			}
			seat := domain.NewSeat(domain.SeatID{Event: id, Number: n})
			switch r.Op {
			case domain.OpHold, domain.OpRefresh:
				seat.Status, seat.Holder, seat.HoldExpiresAt = domain.OnHold, user, time.UnixMilli(exp)
			case domain.OpReserve:
				seat.Status, seat.Holder = domain.Reserved, user
			}
			r.Seats[k] = seat
		}
		out[i] = r
	}
	return out, nil
}

// hashSlot is Redis Cluster's slot of a key whose hash tag is tag: CRC16
// (XMODEM) of the tag, mod 16384. Every key of an event has the tag {E}.
func hashSlot(tag string) uint16 {
	crc := uint16(0)
	for i := 0; i < len(tag); i++ {
		crc ^= uint16(tag[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}
