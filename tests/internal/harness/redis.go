package harness

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/rueidis"
)

// EventState is one event as Redis holds it, read key by key with the
// layout that adapters/redisstore describes (see ReadEvent: an expiry may
// come during the read).
type EventState struct {
	Exists      bool             // the event's hash is there
	Total, Rows int              // of the event's hash
	Counted     int              // its count of reserved seats
	Seats       string           // 'A' available, 'H' on hold (maybe expired), 'R' reserved, per seat
	Exp         string           // 8 bytes per seat: the expiry of its hold, big-endian Unix ms
	Holders     map[int]string   // seat -> its holder, for the seats on hold
	Carts       map[string]Cart  // user -> the user's cart, of the holds hash
	Min         int64            // the holds hash's lower bound of the queues' scores, -1 if none
	Low         int              // the holds hash's low: no seat below it is available (1 if none)
	Queue       map[int]int64    // seat -> its hold's expiry, the queue of expiries
	Cool        map[string]int64 // user -> the end of the cool-down their cart waits for
	Reserved    map[int]string   // seat -> the user who reserved it
	Expiring    map[string]int64 // key -> the Unix ms it expires at, for the idempotency keys
	Indexed     map[string]int64 // idempotency key -> its expiry, of the idems index
	Unknown     []string         // keys of the event of no kind the layout names
	// Replayed is the seats string that the stream's records make from
	// an event of all seats available, "" when the stream has lost
	// records to its retention or has none.
	Replayed string
	NowMs    int64 // Redis's clock when read

	// Holds are the holds of the seats on hold (Seats' 'H'), live or
	// expired, and Users the holds in each user's cart: of Holders, Exp
	// and Carts.
	Holds map[int]Hold
	Users map[string]map[int]int64
}

// Cart is a user's cart as Redis keeps it: its start, the latest expiry
// given to one of its holds, when it stops mattering, and its holds (seat
// -> expiry), live ones and maybe expired ones.
type Cart struct {
	Start, Till, Keep int64
	Holds             map[int]int64
}

// Hold is a seat's hold.
type Hold struct {
	ExpiresMs int64
	User      string
}

// expiry reads seat n's expiry in Exp, 0 if it has none.
func (s EventState) expiry(n int) int64 {
	if len(s.Exp) < 8*n {
		return 0
	}
	return int64(binary.BigEndian.Uint64([]byte(s.Exp[8*(n-1) : 8*n])))
}

// ReadEvent reads an event's keys from every node.
//
// An instance's Expirer may end holds at any time, which changes the keys
// between two of the reads; so the event is read until two reads in a row
// agree, which no change in the middle of either lets them do.
func ReadEvent(t testing.TB, c rueidis.Client, event string) EventState {
	t.Helper()
	last := readEvent(t, c, event)
	for range 20 {
		again := readEvent(t, c, event)
		now := again.NowMs
		again.NowMs = last.NowMs
		if reflect.DeepEqual(again, last) {
			again.NowMs = now
			return again
		}
		again.NowMs, last = now, again
	}
	t.Fatalf("event %s changed at each of 20 reads of it", event)
	return last
}

func readEvent(t testing.TB, c rueidis.Client, event string) EventState {
	t.Helper()
	ctx := context.Background()
	prefix := "rsv:{" + event + "}:"
	s := EventState{
		Holders: map[int]string{}, Carts: map[string]Cart{}, Min: -1, Low: 1, Queue: map[int]int64{},
		Cool: map[string]int64{}, Reserved: map[int]string{}, Expiring: map[string]int64{},
		Indexed: map[string]int64{},
	}
	var err error
	for _, key := range Keys(t, c, prefix+"*") {
		kind := strings.TrimPrefix(key, prefix)
		switch {
		case kind == "event":
			s.Exists = true
			err = readHash(ctx, c, key, func(field, v string) error {
				n, err := strconv.Atoi(v)
				switch field {
				case "total":
					s.Total = n
				case "rows":
					s.Rows = n
				case "reserved":
					s.Counted = n
				case "name", "owner":
					err = nil
				case "born": // the event's birth, a stream ID (docs/redis-layout.md)
					ms, seq, ok := strings.Cut(v, "-")
					_, err1 := strconv.ParseUint(ms, 10, 64)
					_, err2 := strconv.ParseUint(seq, 10, 64)
					if err = errors.Join(err1, err2); !ok {
						err = errors.New("not a stream ID")
					}
				default:
					err = errors.New("unknown field")
				}
				return err
			})
		case kind == "seats":
			s.Seats, err = c.Do(ctx, c.B().Get().Key(key).Build()).ToString()
		case kind == "exp":
			s.Exp, err = c.Do(ctx, c.B().Get().Key(key).Build()).ToString()
		case kind == "holds":
			err = readHash(ctx, c, key, func(field, v string) error {
				if user, ok := strings.CutPrefix(field, "c:"); ok {
					cart, err := parseCart(v)
					s.Carts[user] = cart
					return err
				}
				if field == "min" {
					var err error
					s.Min, err = strconv.ParseInt(v, 10, 64)
					return err
				}
				if field == "low" {
					var err error
					s.Low, err = strconv.Atoi(v)
					return err
				}
				n, err := strconv.Atoi(field)
				s.Holders[n] = v
				return err
			})
		case kind == "idems":
			var zs []rueidis.ZScore
			zs, err = c.Do(ctx, c.B().Zrange().Key(key).Min("0").Max("-1").Withscores().Build()).AsZScores()
			for _, z := range zs {
				s.Indexed[z.Member] = int64(z.Score)
			}
		case kind == "expq" || kind == "cool":
			var zs []rueidis.ZScore
			zs, err = c.Do(ctx, c.B().Zrange().Key(key).Min("0").Max("-1").Withscores().Build()).AsZScores()
			for _, z := range zs {
				if kind == "cool" {
					user, ok := strings.CutPrefix(z.Member, "c:")
					if !ok {
						err = errors.Join(err, fmt.Errorf("member %q", z.Member))
					}
					s.Cool[user] = int64(z.Score)
					continue
				}
				n, perr := strconv.Atoi(z.Member)
				err = errors.Join(err, perr)
				s.Queue[n] = int64(z.Score)
			}
		case strings.HasPrefix(kind, "res:"):
			err = readHash(ctx, c, key, func(field, user string) error {
				n, err := strconv.Atoi(field)
				s.Reserved[n] = user
				return err
			})
		case strings.HasPrefix(kind, "idem:"):
			// Idempotency keys expire, maybe since the scan.
			err = s.readExpiry(ctx, c, key)
		case kind == "changes":
			s.Replayed, err = replay(ctx, c, key)
		default:
			s.Unknown = append(s.Unknown, key)
		}
		if err != nil {
			t.Fatalf("read %q: %v", key, err)
		}
	}
	s.NowMs = redisNow(t, c, prefix)
	s.Holds, s.Users = map[int]Hold{}, map[string]map[int]int64{}
	for i, c := range []byte(s.Seats) {
		if c == 'H' {
			s.Holds[i+1] = Hold{ExpiresMs: s.expiry(i + 1), User: s.Holders[i+1]}
		}
	}
	for user, cart := range s.Carts {
		if len(cart.Holds) > 0 {
			s.Users[user] = cart.Holds
		}
	}
	return s
}

// parseCart reads a cart: "<start> <until> <keep>" then "<n>
// <expiresAtMs>" per hold.
func parseCart(v string) (Cart, error) {
	words := strings.Fields(v)
	if len(words) < 3 || len(words)%2 != 1 {
		return Cart{}, fmt.Errorf("cart %q", v)
	}
	nums := make([]int64, len(words))
	for i, w := range words {
		n, err := strconv.ParseInt(w, 10, 64)
		if err != nil {
			return Cart{}, fmt.Errorf("cart %q", v)
		}
		nums[i] = n
	}
	c := Cart{Start: nums[0], Till: nums[1], Keep: nums[2], Holds: map[int]int64{}}
	for i := 3; i < len(nums); i += 2 {
		c.Holds[int(nums[i])] = nums[i+1]
	}
	return c, nil
}

// readExpiry reads when key expires: -1 for never. A key gone since
// (-2) is left out.
func (s *EventState) readExpiry(ctx context.Context, c rueidis.Client, key string) error {
	at, err := c.Do(ctx, c.B().Pexpiretime().Key(key).Build()).AsInt64()
	if at != -2 {
		s.Expiring[key] = at
	}
	return err
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
// available, on hold or reserved; a reserved seat reserved by one user, and
// counted; a seat on hold, and only such a seat, with a holder and one
// entry in the queue of expiries, at its expiry; each live hold in its
// holder's cart and no one else's, at its expiry and within the cart's
// until; no user over maxSeats live holds; the bound below every score of
// the queues; every idempotency key bound to expire; no stray key.
func (s EventState) Check(maxSeats int) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if (s.Exists || s.Seats != "") && (s.Total != len(s.Seats) || s.Rows < 1 || s.Rows > s.Total) {
		bad("event of %d seats in rows of %d has %d seats", s.Total, s.Rows, len(s.Seats))
	}
	if len(s.Exp) != 0 && len(s.Exp) != 8*len(s.Seats) {
		bad("the expiries are %d bytes for %d seats", len(s.Exp), len(s.Seats))
	}
	reserved := 0
	for i, c := range []byte(s.Seats) {
		n := i + 1
		_, isReserved := s.Reserved[n]
		holder, isHeld := s.Holders[n]
		exp, queued := s.Queue[n]
		switch c {
		case 'R':
			reserved++
			if !isReserved {
				bad("seat %d is reserved but names no user", n)
			}
		case 'H':
			if !isHeld || !queued || exp != s.expiry(n) {
				bad("seat %d is on hold, by %q (%t) until %d, queued %t at %d", n, holder, isHeld, s.expiry(n), queued, exp)
			}
			if exp <= s.NowMs {
				continue // expired, and given back by the next change
			}
			if cart := s.Carts[holder]; cart.Holds[n] != exp {
				bad("live hold of seat %d by %q until %d is not in the holder's cart %+v", n, holder, exp, cart)
			}
		case 'A':
		default:
			bad("seat %d has state %q", n, c)
		}
		if c != 'R' && isReserved {
			bad("seat %d is %q but reserved by %q", n, c, s.Reserved[n])
		}
		if c != 'H' && (isHeld || queued) {
			bad("seat %d is %q, but held by %q (%t), queued %t", n, c, holder, isHeld, queued)
		}
	}
	if s.Counted != reserved {
		bad("%d seats are reserved, and %d counted", reserved, s.Counted)
	}
	for n := range s.Reserved {
		if n < 1 || n > len(s.Seats) {
			bad("reservation of seat %d, out of 1..%d", n, len(s.Seats))
		}
	}
	for n := range maps.Keys(s.Holders) {
		if n < 1 || n > len(s.Seats) {
			bad("holder of seat %d, out of 1..%d", n, len(s.Seats))
		}
	}
	for user, cart := range s.Carts {
		live := 0
		for n, exp := range cart.Holds {
			if exp <= s.NowMs {
				continue // expired: ignored, and dropped at the user's next change
			}
			live++
			if n < 1 || n > len(s.Seats) || s.Seats[n-1] != 'H' || s.Holders[n] != user || s.Queue[n] != exp {
				bad("cart of %q has a live hold of seat %d until %d, but the seat is %+v", user, n, exp, s.Holds[n])
			}
			if exp > cart.Till {
				bad("cart of %q has a hold until %d, after its until %d", user, exp, cart.Till)
			}
		}
		if live > maxSeats {
			bad("user %q has %d live holds, over the limit of %d", user, live, maxSeats)
		}
		if cart.Start > cart.Till || cart.Till > cart.Keep {
			bad("cart of %q: start %d, until %d, keep %d", user, cart.Start, cart.Till, cart.Keep)
		}
	}
	// An entry of cool may outlive its cart, or its cart start anew: the
	// reclaim at its score reads the cart again.
	if s.Min >= 0 {
		for n, exp := range s.Queue {
			if exp < s.Min {
				bad("seat %d is queued at %d, before the bound %d", n, exp, s.Min)
			}
		}
		for user, keep := range s.Cool {
			if keep < s.Min {
				bad("cart of %q is queued at %d, before the bound %d", user, keep, s.Min)
			}
		}
	}
	// The best-available search reads the seats from low on.
	if i := strings.IndexByte(s.Seats, 'A'); s.Low < 1 || i >= 0 && i+1 < s.Low {
		bad("seat %d is available, below the low mark %d", i+1, s.Low)
	}
	for _, key := range slices.Sorted(maps.Keys(s.Expiring)) {
		if at := s.Expiring[key]; at <= 0 {
			bad("key %q does not expire (%d)", key, at)
		}
		// A delete finds the answers kept by their index (an entry may
		// outlive its key, which expired since).
		if _, ok := s.Indexed[key]; !ok {
			bad("key %q is not in the idems index", key)
		}
	}
	if len(s.Unknown) > 0 {
		bad("keys of no known kind: %q", s.Unknown)
	}
	if s.Replayed != "" && len(s.Replayed) <= len(s.Seats) {
		// Seats after the highest a record names were never changed.
		s.Replayed += strings.Repeat("A", len(s.Seats)-len(s.Replayed))
	}
	if s.Replayed != "" && s.Replayed != s.Seats {
		bad("the stream's records make the seats %q, the seats are %q", s.Replayed, s.Seats)
	}
	return errors.Join(errs...)
}

// recordPart is the seats of one user in a record of the stream: the
// fields "n e n e ...", each seat and the expiry of its hold.
type recordPart struct {
	user  string
	seats []string
}

// recordParts reads a record of the stream as redisstore writes it: the
// fields u and s of its first user, then u2 and s2, u3 and s3, and so on
// (a batch of holds by several users is one record).
func recordParts(e rueidis.XRangeEntry) []recordPart {
	parts := []recordPart{{e.FieldValues["u"], strings.Fields(e.FieldValues["s"])}}
	for k := 2; ; k++ {
		s, ok := e.FieldValues["s"+strconv.Itoa(k)]
		if !ok {
			return parts
		}
		parts = append(parts, recordPart{e.FieldValues["u"+strconv.Itoa(k)], strings.Fields(s)})
	}
}

// replay applies the records of the stream key to seats all available,
// as docs/redis-layout.md describes them: "" when records were trimmed.
func replay(ctx context.Context, c rueidis.Client, key string) (string, error) {
	info, err := c.Do(ctx, c.B().XinfoStream().Key(key).Build()).AsMap()
	if err != nil {
		return "", err
	}
	added, length := info["entries-added"], info["length"]
	a, err1 := added.AsInt64()
	l, err2 := length.AsInt64()
	if err := errors.Join(err1, err2); err != nil || a != l {
		return "", err // or trimmed: the records no longer start from the event's creation
	}
	entries, err := c.Do(ctx, c.B().Xrange().Key(key).Start("-").End("+").Build()).AsXRange()
	if err != nil || len(entries) == 0 {
		return "", err
	}
	var seats []byte
	for _, e := range entries {
		state, ok := map[string]byte{"1": 'H', "2": 'H', "3": 'R', "4": 'A', "5": 'A'}[e.FieldValues["o"]]
		if !ok {
			return "", fmt.Errorf("record %s: %v", e.ID, e.FieldValues)
		}
		for _, part := range recordParts(e) {
			if len(part.seats)%2 != 0 {
				return "", fmt.Errorf("record %s: %v", e.ID, e.FieldValues)
			}
			for i := 0; i < len(part.seats); i += 2 {
				n, err := strconv.Atoi(part.seats[i])
				if err != nil || n < 1 {
					return "", fmt.Errorf("record %s: seat %q", e.ID, part.seats[i])
				}
				for len(seats) < n {
					seats = append(seats, 'A')
				}
				seats[n-1] = state
			}
		}
	}
	return string(seats), nil
}

// Unrecorded returns the seat changes that calls were told of (a 200 to a
// hold or a reserve, of one seat or a cart) and that the stream of their
// event in Redis has no record of: a hold of that seat by that user until
// that expiry, or a reserve of it by that user. A reserve retried after
// its first try took effect records nothing the second time, but the
// first try's record is there.
func Unrecorded(t testing.TB, c rueidis.Client, calls []Call) []string {
	t.Helper()
	recorded := map[string]bool{}  // "event.n op user exp"
	read := map[string]bool{}      // events whose stream was read
	record := func(event string) { // reads the stream of event into recorded
		if read[event] {
			return
		}
		read[event] = true
		key := "rsv:{" + event + "}:changes"
		entries, err := c.Do(context.Background(), c.B().Xrange().Key(key).Start("-").End("+").Build()).AsXRange()
		if err != nil {
			t.Fatalf("read %s: %v", key, err)
		}
		for _, e := range entries {
			for _, part := range recordParts(e) {
				f := part.seats
				for i := 0; i+1 < len(f); i += 2 {
					recorded[event+"."+f[i]+" "+e.FieldValues["o"]+" "+part.user+" "+f[i+1]] = true
				}
			}
		}
	}
	var missing []string
	for _, call := range calls {
		if !call.OK() || (call.Path != HoldPath && call.Path != ReservePath && call.Path != CartPath(CartHold) && call.Path != CartPath(CartReserve)) {
			continue
		}
		seats := call.Seats
		if call.Path == HoldPath || call.Path == ReservePath {
			seats = []Seat{call.Seat}
		}
		for _, s := range seats {
			record(s.EventID)
			n := strings.TrimPrefix(s.ID, s.EventID+".")
			want := n + " 3 " + s.UUID + " 0" // a reserve
			if s.HoldExpiresAt != nil {
				want = fmt.Sprintf("%s 1 %s %d", n, s.UUID, s.HoldExpiresAt.UnixMilli())
			}
			if !recorded[s.EventID+"."+want] {
				missing = append(missing, s.EventID+"."+want)
			}
		}
	}
	return missing
}
