// Package hostile sends the Redis-backed service ids, UUIDs and
// Idempotency-Keys that look like Redis keys, hash tags, patterns or script
// fragments, carts of other events' seats and bodies built to exhaust a
// parser, and checks with Redis itself that they reach no key but the ones
// of their own event: every other key is byte for byte as it was.
package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
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

	carts := hostileCarts(t, c, base, victim)
	bodies := hugeBodies(t, c, base, victim)
	keyed := keyedRequests(t, c, base, victim)

	// Only keys of the events written to were written.
	after := snapshot(t, rc)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("key %q changed", k)
		}
	}
	written := append([]string{target.ID, carts.ID, bodies.ID}, keyed...)
	for k := range after {
		if _, ok := before[k]; !ok && !slices.ContainsFunc(written, func(e string) bool { return strings.HasPrefix(k, "rsv:{"+e+"}:") }) {
			t.Errorf("key %q written, outside the events written to", k)
		}
	}
	for _, e := range written {
		if err := harness.ReadEvent(t, rc, e).Check(policy.MaxSeats); err != nil {
			t.Errorf("event %s: %v", e, err)
		}
	}
	// Every hostile user reserved one seat of the target and one of the
	// carts' event, and released what else it held.
	for _, e := range []string{target.ID, carts.ID} {
		s := harness.ReadEvent(t, rc, e)
		if len(s.Reserved) != len(hostileUsers) || len(s.Holds) != 0 || len(s.Users) != 0 {
			t.Errorf("event %s: %d reservations, %d holds, %d users holding; want %d, 0, 0",
				e, len(s.Reserved), len(s.Holds), len(s.Users), len(hostileUsers))
		}
	}
}

// hostileCarts has each hostile user hold, refresh, reserve and release
// seats of an event of its own through the cart paths, and try the
// victim's seats in carts of either event. It returns the event.
func hostileCarts(t *testing.T, c *harness.Client, base string, victim harness.Event) harness.Event {
	ctx := t.Context()
	carts := c.CreateEvent(t, base, 2*len(hostileUsers))
	seat := func(n int) string { return carts.ID + "." + strconv.Itoa(n) }
	vseat := func(n int) string { return victim.ID + "." + strconv.Itoa(n) }
	cart := func(event, op, user string, ids ...string) harness.Answer {
		return c.Cart(ctx, base, event, op, harness.CartRequest{UUID: user, IDs: ids}, "")
	}
	for i, u := range hostileUsers {
		u = strings.ReplaceAll(u, "victim", victim.ID)
		mine, spare := seat(2*i+1), seat(2*i+2)
		wantSeats(t, cart(carts.ID, harness.CartHold, u, mine), u, mine)
		want(t, cart(carts.ID, harness.CartHold, u, spare), http.StatusTooManyRequests, "HOLD_LIMIT_REACHED")
		want(t, cart(carts.ID, harness.CartHold, u, mine, spare), http.StatusBadRequest, "INVALID_SEAT_IDS") // over the limit of 1
		wantSeats(t, cart(carts.ID, harness.CartRefresh, u), u, mine)
		wantSeats(t, cart(carts.ID, harness.CartReserve, u, mine), u, mine)
		wantSeats(t, cart(carts.ID, harness.CartHold, u, spare), u, spare)
		wantSeats(t, cart(carts.ID, harness.CartRelease, u), "", spare)

		// The victim's seats are no seats of this event, and out of reach
		// in their own.
		wantNamed(t, cart(carts.ID, harness.CartHold, u, vseat(1)), http.StatusNotFound, "SEAT_NOT_FOUND", vseat(1))
		wantNamed(t, cart(carts.ID, harness.CartReserve, u, vseat(2)), http.StatusNotFound, "SEAT_NOT_FOUND", vseat(2))
		wantNamed(t, cart(carts.ID, harness.CartRelease, u, vseat(2)), http.StatusNotFound, "SEAT_NOT_FOUND", vseat(2))
		wantNamed(t, cart(victim.ID, harness.CartHold, u, vseat(1)), http.StatusConflict, "SEAT_RESERVED", vseat(1))
		wantNamed(t, cart(victim.ID, harness.CartHold, u, vseat(2)), http.StatusConflict, "SEAT_HELD", vseat(2))
		wantNamed(t, cart(victim.ID, harness.CartReserve, u, vseat(2)), http.StatusForbidden, "NO_LIVE_HOLD", vseat(2))
		want(t, cart(victim.ID, harness.CartRefresh, u), http.StatusConflict, "NOT_ON_HOLD")
		wantSeats(t, cart(victim.ID, harness.CartRelease, u, vseat(2)), "")
		wantSeats(t, cart(victim.ID, harness.CartRelease, u), "")
	}
	for _, id := range hostileIDs(victim.ID) {
		// No seat of the event, named as sent.
		for _, op := range []string{harness.CartHold, harness.CartReserve, harness.CartRelease} {
			wantNamed(t, cart(carts.ID, op, "owner", id), http.StatusNotFound, "SEAT_NOT_FOUND", id)
		}
		// As the path's event.
		path := url.PathEscape(id)
		for _, op := range []string{harness.CartHold, harness.CartReserve, harness.CartRelease} {
			want(t, cart(path, op, "owner", id), http.StatusNotFound, "EVENT_NOT_FOUND")
		}
		want(t, cart(path, harness.CartRefresh, "owner"), http.StatusNotFound, "EVENT_NOT_FOUND")
		want(t, c.Get(ctx, base, "/events/"+path+"/summary"), http.StatusNotFound, "EVENT_NOT_FOUND")
	}
	if a := want(t, c.Summary(ctx, base, victim.ID), http.StatusOK, ""); a.Summary != (harness.Summary{Total: 10, Available: 8, OnHold: 1, Reserved: 1}) {
		t.Errorf("victim's summary %+v", a.Summary)
	}
	return carts
}

// hugeBodies sends carts of an event of its own, and of the victim's,
// that are too large, too deep or too long, and returns the event.
func hugeBodies(t *testing.T, c *harness.Client, base string, victim harness.Event) harness.Event {
	ctx := t.Context()
	e := c.CreateEvent(t, base, 300)
	ids := func(event string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = event + "." + strconv.Itoa(i%300+1)
		}
		return out
	}
	for _, event := range []string{e.ID, victim.ID} {
		for _, op := range []string{harness.CartHold, harness.CartReserve, harness.CartRelease} {
			for _, r := range []harness.CartRequest{
				{UUID: "owner", IDs: ids(event, 10000)},
				{UUID: "owner", IDs: ids(victim.ID, 10000)},
				{UUID: strings.Repeat("u", 16<<10), IDs: ids(event, 1)},
			} {
				want(t, c.Cart(ctx, base, event, op, r, ""), http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE")
			}
			// Within the cap, but over the hold limit.
			want(t, c.Cart(ctx, base, event, op, harness.CartRequest{UUID: "owner", IDs: ids(event, 300)}, ""), http.StatusBadRequest, "INVALID_SEAT_IDS")
			for _, body := range []string{
				`{"UUID":"owner","ids":` + strings.Repeat("[", 7000) + strings.Repeat("]", 7000) + `}`,
				`{"UUID":"owner","ids":` + strings.Repeat("[", 16000),
				`{"UUID":"owner","bestAvailable":` + strings.Repeat(`{"count":`, 1500) + "1" + strings.Repeat("}", 1500) + `}`,
				`{"UUID":"owner","ids":["` + event + `.1"],"ids":["` + victim.ID + `.2"]}`,
				`{"UUID":"owner","ids":["` + event + `.1"]` + strings.Repeat(`,"UUID":"x"`, 1000) + `}`,
			} {
				if r := post(t, base+"/events/"+event+"/"+op, body, nil); r.status != http.StatusBadRequest || r.code != "INVALID_JSON" {
					t.Errorf("POST %s %.60q…: %d %s, want 400 INVALID_JSON", op, body, r.status, r.code)
				}
			}
		}
	}
	return e
}

// hostileKeys are Idempotency-Keys the service accepts (1 to 255 printable
// ASCII characters) that mean something to Redis, to Lua or to the key
// layout; victim is replaced by the victim's id.
var hostileKeys = []string{
	"*", "?", "[a-z]*", "{", "}", "{}", "{victim}", "{victim}:seats", "rsv:{victim}:seats", "rsv:{victim}:*",
	"rsv:{victim}:idem:x", "rsv:*", "' .. redis.call('FLUSHALL') .. '", "]] redis.call('DEL', KEYS[1]) --[[",
	"%s%n", `\x00`, `"8e03978e-40d5-43e8-bc93-6894a57f9324"`, strings.Repeat("{", 255), strings.Repeat("k", 255),
}

// keyedRequests has each hostile key hold, replay, reuse and create an
// event, and has the invalid ones refused. It returns the ids of the
// events it wrote to.
func keyedRequests(t *testing.T, c *harness.Client, base string, victim harness.Event) []string {
	ctx := t.Context()
	e := c.CreateEvent(t, base, len(hostileKeys))
	written := []string{e.ID}
	for i, key := range hostileKeys {
		key = strings.ReplaceAll(key, "victim", victim.ID)
		user, seat := "keyed-"+strconv.Itoa(i), e.ID+"."+strconv.Itoa(i+1)
		hold := harness.CartRequest{UUID: user, IDs: []string{seat}}
		first := wantSeats(t, c.Cart(ctx, base, e.ID, harness.CartHold, hold, key), user, seat)
		if again := c.Cart(ctx, base, e.ID, harness.CartHold, hold, key); !again.OK() || !slices.Equal(seatTexts(again), seatTexts(first)) {
			t.Errorf("replay of key %q: %v, want %v", key, again, first)
		}
		want(t, c.Cart(ctx, base, e.ID, harness.CartRelease, harness.CartRequest{UUID: user}, key), http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED")
		wantSeats(t, c.Cart(ctx, base, e.ID, harness.CartRelease, harness.CartRequest{UUID: user}, ""), "", seat)

		created := createWithKey(t, base, key, `{"name":"keyed","totalSeats":10}`)
		if created.status != http.StatusCreated || createWithKey(t, base, key, `{"name":"keyed","totalSeats":10}`) != created {
			t.Errorf("create with key %q: %+v, then not the same again", key, created)
		}
		if r := createWithKey(t, base, key, `{"name":"other","totalSeats":10}`); r.status != http.StatusUnprocessableEntity || r.code != "IDEMPOTENCY_KEY_REUSED" {
			t.Errorf("create with key %q and another body: %+v", key, r)
		}
		written = append(written, created.id)
	}
	// Keys the service refuses; the Go client sends no control character
	// but tab (the httpapi tests send the others).
	for _, keys := range [][]string{{""}, {strings.Repeat("k", 256)}, {"a\tb"}, {"ключ"}, {"k\xff"}, {"k", "k"}} {
		header := http.Header{"Idempotency-Key": keys}
		for op, body := range map[string]string{
			harness.CartHold:    `{"UUID":"owner","ids":["` + victim.ID + `.3"]}`,
			harness.CartRefresh: `{"UUID":"owner"}`,
			harness.CartReserve: `{"UUID":"owner","ids":["` + victim.ID + `.2"]}`,
			harness.CartRelease: `{"UUID":"owner"}`,
		} {
			if r := post(t, base+"/events/"+victim.ID+"/"+op, body, header); r.status != http.StatusBadRequest || r.code != "INVALID_IDEMPOTENCY_KEY" {
				t.Errorf("%s with Idempotency-Key %q: %+v", op, keys, r)
			}
		}
		if r := post(t, base+"/events/create", `{"name":"keyed","totalSeats":10}`, header); r.status != http.StatusBadRequest || r.code != "INVALID_IDEMPOTENCY_KEY" {
			t.Errorf("create with Idempotency-Key %q: %+v", keys, r)
		}
	}
	return written
}

// seatTexts are an answer's seats as text, expiries included, to compare
// answers.
func seatTexts(a harness.Answer) []string {
	out := make([]string, len(a.Seats))
	for i, s := range a.Seats {
		out[i] = s.ID + " " + s.UUID + " " + s.Status
		if s.HoldExpiresAt != nil {
			out[i] += " " + s.HoldExpiresAt.String()
		}
	}
	return out
}

// reply is what post read of an answer: its status, and the event id or
// the error code of its body.
type reply struct {
	status   int
	id, code string
}

// post sends a body that harness.Client cannot build (malformed JSON,
// Idempotency-Keys that are empty or repeated).
func post(t *testing.T, url, body string, header http.Header) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	var v struct{ ID, Code string }
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatalf("POST %s: %d %q: %v", url, resp.StatusCode, b.Bytes(), err)
	}
	return reply{resp.StatusCode, v.ID, v.Code}
}

func createWithKey(t *testing.T, base, key, body string) reply {
	t.Helper()
	return post(t, base+"/events/create", body, http.Header{"Idempotency-Key": {key}})
}

// want checks an answer's status and error code.
func want(t *testing.T, a harness.Answer, status int, code string) harness.Answer {
	t.Helper()
	if a.Err != nil || a.Status != status || a.Code != code {
		t.Errorf("got %v, want %d %s", a, status, code)
	}
	return a
}

// wantNamed checks a cart's refusal, which names the seats ids.
func wantNamed(t *testing.T, a harness.Answer, status int, code string, ids ...string) {
	t.Helper()
	if want(t, a, status, code); !slices.Equal(a.Named, ids) {
		t.Errorf("%v names %q, want %q", a, a.Named, ids)
	}
}

// wantSeats checks a cart change's success: the seats ids, in order, of
// holder user ("" for seats released).
func wantSeats(t *testing.T, a harness.Answer, user string, ids ...string) harness.Answer {
	t.Helper()
	want(t, a, http.StatusOK, "")
	got := make([]string, len(a.Seats))
	for i, s := range a.Seats {
		got[i] = s.ID
		if s.UUID != user {
			t.Errorf("%v: seat %s of %q, want %q", a, s.ID, s.UUID, user)
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("%v: seats %q, want %q", a, got, ids)
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
