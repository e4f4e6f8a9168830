package attacks

import (
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/tests/internal/harness"
	"github.com/seatres/reservation/tests/servicetest"
)

// TestSharedLimitAcrossInstances: two instances on one Redis, a buyer limit
// of 10/s with a burst of 10 (the other limits off, so that it alone
// refuses), and goroutines sending one buyer's seat changes through both
// for a few seconds. Every answer but a 429 is a request the limiter let
// through: over both instances they are at most the burst plus the rate
// times the time taken (plus one for rounding), where two limits of their
// own would let twice as many through. Every 429 says when to come back.
func TestSharedLimitAcrossInstances(t *testing.T) {
	t.Parallel()
	const (
		rate, burst = 10, 10
		senders     = 8
	)
	run := time.Duration(harness.Size(3, 10)) * time.Second
	d := readDeployment(t).with("RESERVATION_REDIS_ADDRS="+redistest.Standalone(t),
		"RESERVATION_LIMIT_BUYER_RATE="+strconv.Itoa(rate), "RESERVATION_LIMIT_BUYER_BURST="+strconv.Itoa(burst),
		"RESERVATION_LIMIT_IP_RATE=0", "RESERVATION_LIMIT_KEY_RATE=0")
	bin := servicetest.Build(t)
	a, b := servicetest.Start(t, bin, d.environ()...), servicetest.Start(t, bin, d.environ()...)
	instances := []*client{newClient(t, a.URL(), "127.0.0.1"), newClient(t, b.URL(), "127.0.0.1")}
	event := instances[0].mustCreate(t, devKey, 100, 10)
	user := "buyer-" + randomID()
	as := cred{token: token(t, buyerSecret(t), user)}

	var (
		mu      sync.Mutex
		granted [2]int // answers other than 429, by instance
		limited int
		codes   tally
		wg      sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(run)
	for g := range senders {
		wg.Go(func() {
			// Paced at 200 tries a second each, far above the limit, to
			// spare the shared machine.
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for n := g; time.Now().Before(deadline); n++ {
				i := n % 2
				var r reply
				switch n % 3 {
				case 0:
					r = instances[i].cart(t.Context(), event, harness.CartHold, as,
						harness.CartRequest{UUID: user, BestAvailable: &harness.BestAvailable{Count: 1}})
				case 1:
					r = instances[i].cart(t.Context(), event, harness.CartRefresh, as, harness.CartRequest{UUID: user})
				default:
					r = instances[i].cart(t.Context(), event, harness.CartRelease, as, harness.CartRequest{UUID: user})
				}
				codes.add(r)
				mu.Lock()
				switch {
				case r.Err != nil || r.Status >= http.StatusInternalServerError:
					t.Errorf("through instance %d: %v", i, r)
				case r.Status == http.StatusTooManyRequests && r.Code == "RATE_LIMITED":
					limited++
					if err := limitHeaders(r, "buyer", burst); err != "" {
						t.Errorf("429 through instance %d: %s", i, err)
					}
				default:
					granted[i]++
				}
				mu.Unlock()
				<-tick.C
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	most := burst + int(took.Seconds()*rate) + 1
	t.Logf("%v through 2 instances: %d let through (%d by one, %d by the other), %d refused, at most %d allowed (%d + %d/s x %.2fs + 1); %v",
		took.Round(time.Millisecond), granted[0]+granted[1], granted[0], granted[1], limited, most, burst, rate, took.Seconds(), &codes)
	if sum := granted[0] + granted[1]; sum > most {
		t.Errorf("the instances let %d seat changes through, over the limit's %d", sum, most)
	}
	if limited == 0 {
		t.Error("no request was refused: the limit was not tried")
	}
}

// The rate-limit headers of the IETF httpapi draft, as the service writes
// them: the policy's quota and window, what remains and when it is whole.
var (
	policyHeader = regexp.MustCompile(`^"([a-z]+)";q=(\d+);w=(\d+)$`)
	limitHeader  = regexp.MustCompile(`^"([a-z]+)";r=(\d+);t=(\d+)$`)
)

// limitHeaders says what is wrong with a 429's headers for the limit named
// name of burst q, "" if nothing: a Retry-After of whole seconds, and the
// RateLimit-Policy and RateLimit headers of that limit.
func limitHeaders(r reply, name string, q int) string {
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
		return "Retry-After " + strconv.Quote(r.Header.Get("Retry-After"))
	}
	p := policyHeader.FindStringSubmatch(r.Header.Get("RateLimit-Policy"))
	l := limitHeader.FindStringSubmatch(r.Header.Get("RateLimit"))
	if p == nil || l == nil || p[1] != name || p[2] != strconv.Itoa(q) || l[1] != name {
		return "RateLimit-Policy " + strconv.Quote(r.Header.Get("RateLimit-Policy")) + ", RateLimit " + strconv.Quote(r.Header.Get("RateLimit"))
	}
	return ""
}
