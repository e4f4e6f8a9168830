package attacks

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/identity"
	"github.com/seatres/reservation/adapters/identity/identitytest"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/tests/internal/harness"
	"github.com/seatres/reservation/tests/servicetest"
)

// TestCreateFlood is the flood of creates of issue #10 against the binary
// with the deployment's create limit and a quota of 3 live events per key:
// no create without a key with events:write; a key's 4th live event is
// refused until it deletes one; and past the limit's burst every create is
// 429 RATE_LIMITED, for that key only.
func TestCreateFlood(t *testing.T) {
	t.Parallel()
	const quota = 3
	office, other, seller := "office-"+randomID(), "other-"+randomID(), "seller-"+randomID()
	keys := identitytest.WriteKeys(t,
		identitytest.Key{Name: "box-office", Secret: office, Scopes: []identity.Scope{identity.ScopeEventsWrite}},
		identitytest.Key{Name: "other", Secret: other, Scopes: []identity.Scope{identity.ScopeEventsWrite}},
		identitytest.Key{Name: "seller", Secret: seller, Scopes: []identity.Scope{identity.ScopeSeatsWrite}})
	d := readDeployment(t).with("RESERVATION_REDIS_ADDRS="+redistest.Standalone(t),
		"RESERVATION_AUTH_KEYS_FILE="+keys, "RESERVATION_EVENTS_MAX_PER_KEY="+strconv.Itoa(quota))
	rate, burst := d.int(t, "RESERVATION_LIMIT_CREATE_RATE"), d.int(t, "RESERVATION_LIMIT_CREATE_BURST")
	svc := servicetest.Start(t, servicetest.Build(t), d.environ()...)
	c := newClient(t, svc.URL(), "127.0.0.1")
	ctx := t.Context()

	start := time.Now()
	passed := 0 // creates with the key that the limit let through
	create := func(as cred, status int, code string) string {
		t.Helper()
		r := c.create(ctx, as, 10, 10)
		if as.key == office && r.Status != http.StatusTooManyRequests {
			passed++
		}
		if r.Status != status || r.Code != code {
			t.Fatalf("create: %v, want %d %s", r, status, code)
		}
		var e harness.Event
		if r.OK() && json.Unmarshal(r.Body, &e) != nil {
			t.Fatalf("create: %v", r)
		}
		return e.ID
	}
	if r := c.create(ctx, cred{}, 10, 10); r.Code != "UNAUTHENTICATED" || r.Header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("create without a key: %v, WWW-Authenticate %q; want 401 UNAUTHENTICATED, Bearer", r, r.Header.Get("WWW-Authenticate"))
	}
	create(cred{key: "wrong-" + randomID()}, http.StatusUnauthorized, "UNAUTHENTICATED")
	create(cred{key: seller}, http.StatusForbidden, "FORBIDDEN")
	first := create(cred{key: office}, http.StatusCreated, "")
	for range quota - 1 {
		create(cred{key: office}, http.StatusCreated, "")
	}
	create(cred{key: office}, http.StatusConflict, "QUOTA_EXCEEDED")
	if r := c.do(ctx, http.MethodDelete, "/events/"+first, cred{key: office}, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %v", r)
	}
	if r := c.get(ctx, "/events/"+first, cred{}); r.Status != http.StatusNotFound {
		t.Errorf("deleted event: %v", r)
	}
	create(cred{key: office}, http.StatusCreated, "")
	create(cred{key: office}, http.StatusConflict, "QUOTA_EXCEEDED")

	// The flood: the quota refuses every create, the limit counts them
	// all, and refuses them once the burst is spent.
	var limited reply
	for range burst + 2 {
		if r := c.create(ctx, cred{key: office}, 10, 10); r.Status == http.StatusTooManyRequests {
			limited = r
			break
		} else if r.Code != "QUOTA_EXCEEDED" {
			t.Fatalf("create past the quota: %v", r)
		}
		passed++
	}
	took := time.Since(start)
	most := burst + int(took.Minutes()*float64(rate)) + 1
	if limited.Code != "RATE_LIMITED" {
		t.Fatalf("%d creates in %v and none refused RATE_LIMITED, want at most %d", passed, took, most)
	}
	if err := limitHeaders(limited, "create", burst); err != "" {
		t.Errorf("429 of a create: %s", err)
	}
	if passed > most {
		t.Errorf("%d creates let through in %v, over the limit's %d", passed, took, most)
	}
	// The limit and the quota are the key's: another key creates.
	create(cred{key: other}, http.StatusCreated, "")
	t.Logf("%d creates of the key let through in %v (at most %d: %d + %d/min), then %s (Retry-After %ss); quota %d live events",
		passed, took.Round(time.Millisecond), most, burst, rate, limited.outcome(), limited.Header.Get("Retry-After"), quota)
}
