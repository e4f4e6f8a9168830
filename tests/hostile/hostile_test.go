// Package hostile sends the Redis-backed service ids and UUIDs that look
// like Redis keys, hash tags, patterns or script fragments, and checks with
// Redis itself that they reach no key but the ones of their own event: every
// other key is byte for byte as it was.
package hostile

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/domain"
	"github.com/seatres/reservation/tests/internal/harness"
)

func TestMain(m *testing.M) { redistest.Main(m) }

var policy = domain.HoldPolicy{TTL: time.Minute, MaxSeats: 1}

func TestHostileIDsTouchNoOtherKeys(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		run(t, redistest.SharedStandalone(t))
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		run(t, redistest.SharedCluster(t)...)
	})
}

// hostileUsers are UUIDs the service accepts (printable, at most 128
// characters) that mean something to Redis, to Lua or to the key layout;
// victim is replaced by the id of an event they must not reach.
var hostileUsers = []string{
	"*", "?", "[a-z]*", "{", "}", "{}", "}{", "{victim}", "rsv:{victim}:seats", "rsv:{victim}:user:owner",
	"x:y", "user:owner", "res:0", "holds", "' .. redis.call('FLUSHALL') .. '",
	"]] redis.call('DEL', KEYS[1]) --[[", "%s%n", `\x00`, strings.Repeat("ü", domain.MaxUserLength),
	strings.Repeat("{", domain.MaxUserLength),
}

// invalidUsers are refused before any store call.
var invalidUsers = []string{"", " ", "a\nb", "a\rb", "\x00", "a\x7f", strings.Repeat("u", domain.MaxUserLength+1), "\u2028"}

// hostileIDs are event and seat ids, built from the victim's, that must
// name nothing.
func hostileIDs(victim string) []string {
	return []string{
		"*", victim + "*", victim + ".*", victim + ".1*", victim + ".[1-9]", "{" + victim + "}", "{" + victim + "}.1",
		"rsv:{" + victim + "}:seats", "rsv:{" + victim + "}:holds", "rsv:*", victim + ":1", victim + ".1\n",
		victim + "\n", strings.ToUpper(victim) + ".1", victim + ".0", victim + ".-1", victim + ".1.1", victim + ". 1",
		victim + ".1 ", victim + ".１", victim + "%.1", strings.Repeat("{", 300), strings.Repeat("9", 10000),
	}
}

func run(t *testing.T, addrs ...string) {
	ctx := context.Background()
	c := harness.NewClient(t)
	base := harness.Serve(t, policy, harness.RedisStore(t, redisstore.Config{Addrs: addrs, Timeout: time.Second}))
	rc := redistest.Client(t, addrs...)

	// The victim: an event with a reservation and a hold.
	victim := c.CreateEvent(t, base, 10)
	want(t, c.Change(ctx, base, harness.HoldPath, victim.ID+".1", "owner"), http.StatusOK, "")
	want(t, c.Change(ctx, base, harness.ReservePath, victim.ID+".1", "owner"), http.StatusOK, "")
	want(t, c.Change(ctx, base, harness.HoldPath, victim.ID+".2", "owner"), http.StatusOK, "")
	before := snapshot(t, rc)

	// Each hostile user holds, refreshes and reserves a seat of the
	// target, and is refused a second: it counts its own holds only.
	target := c.CreateEvent(t, base, len(hostileUsers)+1)
	spare := target.ID + "." + strconv.Itoa(len(hostileUsers)+1)
	for i, u := range hostileUsers {
		u = strings.ReplaceAll(u, "victim", victim.ID)
		seat := target.ID + "." + strconv.Itoa(i+1)
		want(t, c.Change(ctx, base, harness.HoldPath, seat, u), http.StatusOK, "")
		want(t, c.Change(ctx, base, harness.HoldPath, spare, u), http.StatusTooManyRequests, "HOLD_LIMIT_REACHED")
		for _, step := range []string{harness.RefreshPath, harness.ReservePath, harness.ReservePath} {
			if a := want(t, c.Change(ctx, base, step, seat, u), http.StatusOK, ""); a.Seat.UUID != u {
				t.Errorf("%s %s by %q answered %+v", step, seat, u, a.Seat)
			}
		}
		// The victim's seats are out of its reach.
		want(t, c.Change(ctx, base, harness.HoldPath, victim.ID+".1", u), http.StatusConflict, "SEAT_RESERVED")
		want(t, c.Change(ctx, base, harness.HoldPath, victim.ID+".2", u), http.StatusConflict, "SEAT_HELD")
		want(t, c.Change(ctx, base, harness.RefreshPath, victim.ID+".2", u), http.StatusForbidden, "NOT_HOLDER")
		want(t, c.Change(ctx, base, harness.ReservePath, victim.ID+".2", u), http.StatusForbidden, "NO_LIVE_HOLD")
	}
	for _, u := range invalidUsers {
		for _, step := range []string{harness.HoldPath, harness.RefreshPath, harness.ReservePath} {
			want(t, c.Change(ctx, base, step, victim.ID+".3", u), http.StatusBadRequest, "INVALID_UUID")
		}
	}
	for _, id := range hostileIDs(victim.ID) {
		for _, step := range []string{harness.HoldPath, harness.RefreshPath, harness.ReservePath} {
			want(t, c.Change(ctx, base, step, id, "owner"), http.StatusNotFound, "SEAT_NOT_FOUND")
		}
		path := url.PathEscape(id)
		want(t, c.Get(ctx, base, "/seats/get/"+path), http.StatusNotFound, "SEAT_NOT_FOUND")
		want(t, c.Get(ctx, base, "/events/"+path), http.StatusNotFound, "EVENT_NOT_FOUND")
		want(t, c.Get(ctx, base, "/seats/list/"+path), http.StatusNotFound, "EVENT_NOT_FOUND")
	}

	// Only keys of the target event were written.
	after := snapshot(t, rc)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("key %q changed", k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok && !strings.HasPrefix(k, "rsv:{"+target.ID+"}:") {
			t.Errorf("key %q written, outside the target event", k)
		}
	}
	s := harness.ReadEvent(t, rc, target.ID)
	if err := s.Check(policy.MaxSeats); err != nil {
		t.Error(err)
	}
	if len(s.Reserved) != len(hostileUsers) || len(s.Holds) != 0 || len(s.Users) != 0 {
		t.Errorf("target event: %d reservations, %d holds, %d users holding; want %d, 0, 0",
			len(s.Reserved), len(s.Holds), len(s.Users), len(hostileUsers))
	}
}

// want checks an answer's status and error code.
func want(t *testing.T, a harness.Answer, status int, code string) harness.Answer {
	t.Helper()
	if a.Err != nil || a.Status != status || a.Code != code {
		t.Errorf("got %v, want %d %s", a, status, code)
	}
	return a
}

// snapshot is every key of the database and its serialized value.
func snapshot(t *testing.T, c rueidis.Client) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range harness.Keys(t, c, "*") {
		v, err := c.Do(context.Background(), c.B().Dump().Key(k).Build()).ToString()
		if err != nil && !rueidis.IsRedisNil(err) { // nil: it expired since the scan
			t.Fatalf("DUMP %q: %v", k, err)
		}
		out[k] = v
	}
	return out
}
