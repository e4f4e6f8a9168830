package harness

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/rueidis"
)

// EventState is one event as Redis holds it, read key by key with the
// layout that adapters/redisstore/doc.go describes. It is read while
// nothing changes the event.
type EventState struct {
	Seats    string                   // 'A' or 'R' per seat
	Holds    map[int]Hold             // seat -> the last hold taken on it
	Reserved map[int]string           // seat -> the user who reserved it
	Users    map[string]map[int]int64 // user -> seat -> expiry, the user's list of holds
	Unknown  []string                 // keys of the event of no kind the layout names
	NowMs    int64                    // Redis's clock when read
}

// Hold is an entry of the holds hash.
type Hold struct {
	ExpiresMs int64
	User      string
}

// ReadEvent reads an event's keys from every node.
func ReadEvent(t testing.TB, c rueidis.Client, event string) EventState {
	t.Helper()
	ctx := context.Background()
	prefix := "rsv:{" + event + "}:"
	s := EventState{Holds: map[int]Hold{}, Reserved: map[int]string{}, Users: map[string]map[int]int64{}}
	var err error
	for _, key := range Keys(t, c, prefix+"*") {
		kind := strings.TrimPrefix(key, prefix)
		switch {
		case kind == "event":
		case kind == "seats":
			s.Seats, err = c.Do(ctx, c.B().Get().Key(key).Build()).ToString()
		case kind == "holds":
			err = s.readHolds(ctx, c, key)
		case strings.HasPrefix(kind, "res:"):
			err = readHash(ctx, c, key, func(field, user string) error {
				n, err := strconv.Atoi(field)
				s.Reserved[n] = user
				return err
			})
		default:
			s.Unknown = append(s.Unknown, key)
		}
		if err != nil {
			t.Fatalf("read %q: %v", key, err)
		}
	}
	s.NowMs = redisNow(t, c, prefix)
	return s
}

// Keys lists the keys that match pattern on every node, once each (a
// replica lists its master's keys too).
func Keys(t testing.TB, c rueidis.Client, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	seen := map[string]bool{}
	var keys []string
	for _, node := range c.Nodes() {
		for cursor := uint64(0); ; {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
			if err != nil {
				t.Fatalf("SCAN %s: %v", pattern, err)
			}
			for _, k := range e.Elements {
				if !seen[k] {
					seen[k] = true
					keys = append(keys, k)
				}
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	return keys
}

// readHolds reads the holds hash: seat fields n -> "<expiresAtMs>:<user>"
// and user fields "u:<user>" -> "<n> <expiresAtMs> ...".
func (s *EventState) readHolds(ctx context.Context, c rueidis.Client, key string) error {
	return readHash(ctx, c, key, func(field, v string) error {
		if user, ok := strings.CutPrefix(field, "u:"); ok {
			words := strings.Fields(v)
			if len(words) == 0 || len(words)%2 != 0 {
				return fmt.Errorf("list of %q: %q", user, v)
			}
			seats := map[int]int64{}
			for i := 0; i < len(words); i += 2 {
				n, err1 := strconv.Atoi(words[i])
				exp, err2 := strconv.ParseInt(words[i+1], 10, 64)
				if errors.Join(err1, err2) != nil {
					return fmt.Errorf("list of %q: %q", user, v)
				}
				seats[n] = exp
			}
			s.Users[user] = seats
			return nil
		}
		n, err := strconv.Atoi(field)
		exp, user, ok := strings.Cut(v, ":")
		ms, perr := strconv.ParseInt(exp, 10, 64)
		if err != nil || !ok || perr != nil {
			return fmt.Errorf("hold %q: %q", field, v)
		}
		s.Holds[n] = Hold{ExpiresMs: ms, User: user}
		return nil
	})
}

func readHash(ctx context.Context, c rueidis.Client, key string, put func(field, v string) error) error {
	m, err := c.Do(ctx, c.B().Hgetall().Key(key).Build()).AsStrMap()
	if err != nil {
		return err
	}
	for field, v := range m {
		if err := put(field, v); err != nil {
			return fmt.Errorf("field %q: %w", field, err)
		}
	}
	return nil
}

// redisNow reads the clock of the node that holds key.
func redisNow(t testing.TB, c rueidis.Client, key string) int64 {
	t.Helper()
	tm, err := c.Do(context.Background(), c.B().Time().Build().SetSlot(key)).AsIntSlice()
	if err != nil || len(tm) != 2 {
		t.Fatalf("TIME: %v %v", tm, err)
	}
	return tm[0]*1000 + tm[1]/1000
}

// Check returns what is wrong with the state, nil if nothing: each seat
// either reserved by one user or not, no hold left on a reserved seat, each
// live hold counted against its holder and no one else, every user's list
// naming seats the user's holds are on, no user over maxSeats live holds,
// no stray key.
func (s EventState) Check(maxSeats int) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for i, c := range []byte(s.Seats) {
		n := i + 1
		switch _, reserved := s.Reserved[n]; {
		case c == 'R' && !reserved:
			bad("seat %d is reserved but names no user", n)
		case c == 'A' && reserved:
			bad("seat %d is available but reserved by %q", n, s.Reserved[n])
		case c != 'A' && c != 'R':
			bad("seat %d has state %q", n, c)
		}
	}
	for n := range s.Reserved {
		if n < 1 || n > len(s.Seats) {
			bad("reservation of seat %d, out of 1..%d", n, len(s.Seats))
		}
	}
	for n, h := range s.Holds {
		if n < 1 || n > len(s.Seats) || s.Seats[n-1] != 'A' {
			bad("hold %+v left on seat %d, which is not an available seat", h, n)
		}
		if h.ExpiresMs > s.NowMs && s.Users[h.User][n] != h.ExpiresMs {
			bad("live hold %+v of seat %d is not counted against its user (%v)", h, n, s.Users[h.User])
		}
	}
	for user, seats := range s.Users {
		live := 0
		for n, exp := range seats {
			// Every seat of a list has its hold name the user, expired or
			// not: that keeps the lists no more than the seats.
			if h := s.Holds[n]; h.User != user {
				bad("user %q lists seat %d, whose hold is %+v", user, n, h)
			}
			if exp <= s.NowMs {
				continue // expired: ignored, and dropped at the user's next write
			}
			live++
			if h := s.Holds[n]; h != (Hold{ExpiresMs: exp, User: user}) {
				bad("user %q is counted a hold of seat %d until %d, but the seat's hold is %+v", user, n, exp, h)
			}
		}
		if live > maxSeats {
			bad("user %q has %d live holds, over the limit of %d", user, live, maxSeats)
		}
	}
	if len(s.Unknown) > 0 {
		bad("keys of no known kind: %q", s.Unknown)
	}
	return errors.Join(errs...)
}
