// Package browser tests the seat map page (GET /events/{id}/map) in a real
// browser: headless Chromium, driven by chromedp, against the built service
// over Redis.
package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/seatres/reservation/adapters/httpapi/browsertest"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/tests/internal/harness"
	"github.com/seatres/reservation/tests/servicetest"
)

// The event of the test: the largest an event can be, in rows of 100, so
// that the page draws and follows 10,000 seats.
const (
	eventSeats  = 10000
	seatsPerRow = 100
)

// shownWithin is how soon a change must show on the page once the API
// has answered it.
const shownWithin = time.Second

// TestSeatMapFollowsTheStream: two instances over one Redis, and a proxy
// in front that sends every request to instance A, then, once A is killed,
// to B. The map page, opened through the proxy, shows a hold made through
// the API within a second; its buttons hold and reserve; and after A is
// killed with SIGKILL while changes are made, the page's stream reconnects
// to B with the Last-Event-ID of the last message it applied, and ends
// showing every seat as the service has it, having applied every change
// once and no second snapshot; when the event is deleted, it says so. And
// the page of an id that names no event says so.
func TestSeatMapFollowsTheStream(t *testing.T) {
	bin := browsertest.Chromium(t)
	redis := redistest.Standalone(t)
	service := servicetest.Build(t)
	env := []string{"RESERVATION_REDIS_ADDRS=" + redis, "RESERVATION_HOLD_TTL=10m"} // no hold expires during the test
	a, b := servicetest.Start(t, service, env...), servicetest.Start(t, service, env...)
	proxy := newSwitchProxy(t, a.URL())
	c := harness.NewClient(t)
	e := c.CreateEventRows(t, b.URL(), eventSeats, seatsPerRow)
	ctx := openPage(t, bin, proxy.url+"/events/00000000-0000-4000-8000-000000000000/map")
	waitPage(ctx, t, 15*time.Second, "the page of no event saying so", func(s pageState) bool {
		return s.Stream == "not-found" && s.Seats == ""
	})
	goTo(ctx, t, proxy.url+"/events/"+e.ID+"/map")
	waitPage(ctx, t, 15*time.Second, "the page live on its snapshot", func(s pageState) bool {
		return s.Stream == "live" && s.Snapshots == 1 && strings.Count(s.Seats, "A") == eventSeats
	})
	changes := 0 // acknowledged, by seat

	// A hold through the API, by instance B: the page streams from A.
	held := c.Cart(t.Context(), b.URL(), e.ID, harness.CartHold,
		harness.CartRequest{UUID: "api-buyer", BestAvailable: &harness.BestAvailable{Count: 4}}, "")
	answered := time.Now()
	if !held.OK() {
		t.Fatalf("hold through the API: %v", held)
	}
	changes += len(held.Seats)
	s := waitPage(ctx, t, time.Until(answered.Add(shownWithin)), "the API's hold on the page", func(s pageState) bool {
		return allAre(s, held.Seats, 'H')
	})
	t.Logf("the API's hold shown %v after its answer", time.Since(answered).Round(time.Millisecond))
	if len(s.Mine) != 0 {
		t.Errorf("the page marks seats %v its own before holding any", s.Mine)
	}

	// The page's buttons, through the proxy to A.
	user, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("uuid")))
	if err != nil || len(user) != 36 {
		t.Fatalf("the page's UUID %q: %v", user, err)
	}
	click(ctx, t, "hold")
	s = waitPage(ctx, t, 5*time.Second, "the page's hold", func(s pageState) bool {
		return s.Code == "OK" && len(s.Mine) == 2 && allAre(s, seatsOf(e, s.Mine), 'H')
	})
	mine := s.Mine
	changes += len(mine)
	click(ctx, t, "reserve")
	waitPage(ctx, t, 5*time.Second, "the page's reservation", func(s pageState) bool {
		return s.Code == "OK" && len(s.Mine) == 0 && allAre(s, seatsOf(e, mine), 'R')
	})
	changes += len(mine)
	if got := c.Seat(t.Context(), b.URL(), seatsOf(e, mine)[0].ID); got.Seat.Status != "Reserved" || got.Seat.UUID != user {
		t.Errorf("a seat the page reserved is %v", got)
	}

	// Changes through B while A is killed and the proxy switched to B.
	sale := startChanges(t, c, b.URL(), e.ID)
	sale.until(20)
	a.Signal(syscall.SIGKILL)
	a.Wait(t)
	proxy.switchTo(b.URL())
	// The page has seen its stream end, so it has applied every message
	// that A sent; B is not asked yet (the stream's retry is 2 s): the page
	// holds still at the position it must resume from.
	atKill := waitPage(ctx, t, 2*time.Second, "the page reconnecting", func(s pageState) bool { return s.Stream == "reconnecting" })
	sale.until(sale.made() + 20)
	changes += sale.stop()

	want := serviceState(t, c, b.URL(), e)
	s = waitPage(ctx, t, 10*time.Second, "the page equal to the service", func(s pageState) bool {
		return s.Seats == want && s.Changes == changes
	})
	if s.Snapshots != 1 || s.Duplicates != 0 {
		t.Errorf("the page applied %d snapshots and skipped %d changes seen twice, want 1 and 0", s.Snapshots, s.Duplicates)
	}
	t.Logf("%d changes applied; position %s at the kill, %s at the end", s.Changes, atKill.Position, s.Position)

	streams := proxy.streams()
	if len(streams) < 2 {
		t.Fatalf("the stream was asked for %d times: %+v", len(streams), streams)
	}
	if first := streams[0]; first.to != a.URL() || first.lastEventID != "" || first.after != "" {
		t.Errorf("the first stream request %+v, want one to A from the start", first)
	}
	if again := streams[1]; again.to != b.URL() || again.lastEventID != atKill.Position || again.after != "" {
		t.Errorf("the stream resumed with %+v, want EventSource's own reconnection to B with Last-Event-ID %s", again, atKill.Position)
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, b.URL()+"/events/"+e.ID, nil)
	req.Close = true // no idle connection left behind
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete the event: %s", resp.Status)
	}
	waitPage(ctx, t, 5*time.Second, "the page saying the event is gone", func(s pageState) bool { return s.Stream == "gone" })
}

// pageState is what the page shows, read from its DOM (see seatmap/map.js).
type pageState struct {
	Stream     string `json:"stream"`
	Position   string `json:"position"`
	Changes    int    `json:"changes"`
	Snapshots  int    `json:"snapshots"`
	Duplicates int    `json:"duplicates"`
	Seats      string `json:"seats"` // the status letter of seat n at n-1
	Mine       []int  `json:"mine"`  // the seats held for the page's UUID
	Answer     string `json:"answer"`
	Code       string `json:"code"` // OK, or the error code of the last answer
}

const readState = `(() => {
	const d = document.body.dataset, answer = document.getElementById('answer');
	return {
		stream: d.stream, position: d.position, changes: Number(d.changes),
		snapshots: Number(d.snapshots), duplicates: Number(d.duplicates),
		seats: Array.from(document.querySelectorAll('#seats [data-seat]'), (c) => c.dataset.status).join(''),
		mine: Array.from(document.querySelectorAll('#seats [data-mine]'), (c) => Number(c.dataset.seat)),
		answer: answer.textContent, code: answer.dataset.code ?? '',
	};
})()`

func readPage(ctx context.Context, t *testing.T) pageState {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](readState))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return s
}

// waitPage polls the page until ok holds, and fails the test if it does
// not within d.
func waitPage(ctx context.Context, t *testing.T, d time.Duration, what string, ok func(pageState) bool) pageState {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := readPage(ctx, t)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v: stream %s at %s, %d changes, %d snapshots, answer %q, mine %v, seats %s",
				what, d, s.Stream, s.Position, s.Changes, s.Snapshots, s.Answer, s.Mine, census(s.Seats))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// census counts a page's seats by status letter.
func census(seats string) string {
	var b strings.Builder
	for _, letter := range "AHRT" {
		fmt.Fprintf(&b, "%c=%d ", letter, strings.Count(seats, string(letter)))
	}
	return b.String()
}

var statusLetters = map[string]byte{"Available": 'A', "On hold": 'H', "Reserved": 'R'}

// allAre reports whether the page shows every one of seats with the
// status letter.
func allAre(s pageState, seats []harness.Seat, letter byte) bool {
	for _, seat := range seats {
		n := seatNumber(seat.ID)
		if n < 1 || n > len(s.Seats) || s.Seats[n-1] != letter {
			return false
		}
	}
	return true
}

func seatNumber(id string) int {
	n, _ := strconv.Atoi(id[strings.LastIndexByte(id, '.')+1:])
	return n
}

func seatsOf(e harness.Event, numbers []int) []harness.Seat {
	seats := make([]harness.Seat, len(numbers))
	for i, n := range numbers {
		seats[i] = harness.Seat{ID: e.ID + "." + strconv.Itoa(n)}
	}
	return seats
}

// serviceState is every seat of e as the service at base has it, as the
// page's status letters: the list's seats are available, and each other
// seat is read.
func serviceState(t *testing.T, c *harness.Client, base string, e harness.Event) string {
	t.Helper()
	ctx := t.Context()
	list := c.List(ctx, base, e.ID)
	if !list.OK() {
		t.Fatalf("list: %v", list)
	}
	available := make([]bool, e.TotalSeats+1)
	for _, seat := range list.Seats {
		available[seatNumber(seat.ID)] = true
	}
	letters := make([]byte, e.TotalSeats)
	for n := 1; n <= e.TotalSeats; n++ {
		letters[n-1] = 'A'
		if !available[n] {
			got := c.Seat(ctx, base, e.ID+"."+strconv.Itoa(n))
			if !got.OK() || statusLetters[got.Seat.Status] == 0 {
				t.Fatalf("seat %d: %v", n, got)
			}
			letters[n-1] = statusLetters[got.Seat.Status]
		}
	}
	return string(letters)
}

// buyers make changes of an event through one instance, in the
// background: each holds the best 3 seats available, then reserves or
// releases them.
type buyers struct {
	t     *testing.T
	seats atomic.Int64 // changes acknowledged, by seat
	count atomic.Int64 // cart changes acknowledged
	stopc chan struct{}
	done  chan struct{}
	once  sync.Once
}

// startChanges starts the buyers; they stop at the latest when the test
// ends.
func startChanges(t *testing.T, c *harness.Client, base, event string) *buyers {
	ch := &buyers{t: t, stopc: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { ch.stop() })
	go func() {
		defer close(ch.done)
		for i := 0; ; i++ {
			select {
			case <-ch.stopc:
				return
			default:
			}
			user := "buyer-" + strconv.Itoa(i%8)
			held := ch.do(c.Cart(t.Context(), base, event, harness.CartHold,
				harness.CartRequest{UUID: user, BestAvailable: &harness.BestAvailable{Count: 3}}, ""))
			next := harness.CartRequest{UUID: user}
			op := harness.CartRelease
			if i%2 == 0 {
				op = harness.CartReserve
				for _, seat := range held {
					next.IDs = append(next.IDs, seat.ID)
				}
			}
			ch.do(c.Cart(t.Context(), base, event, op, next, ""))
		}
	}()
	return ch
}

// do counts an answer's seats, which must have changed.
func (ch *buyers) do(a harness.Answer) []harness.Seat {
	if !a.OK() {
		ch.t.Errorf("a change through the live instance: %v", a)
		return nil
	}
	ch.seats.Add(int64(len(a.Seats)))
	ch.count.Add(1)
	return a.Seats
}

func (ch *buyers) made() int { return int(ch.count.Load()) }

// until waits for n cart changes.
func (ch *buyers) until(n int) {
	deadline := time.Now().Add(10 * time.Second)
	for ch.made() < n {
		if time.Now().After(deadline) {
			ch.t.Fatalf("%d cart changes made in 10 s, want %d", ch.made(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop stops the changes and returns how many seats they changed.
func (ch *buyers) stop() int {
	ch.once.Do(func() { close(ch.stopc) })
	<-ch.done
	return int(ch.seats.Load())
}

// switchProxy forwards every request to one instance, and from switchTo on
// to another, and records the requests for the stream.
type switchProxy struct {
	url    string
	target atomic.Pointer[url.URL]
	mu     sync.Mutex
	asked  []streamRequest
}

// streamRequest is a request for the stream: where it went, its
// Last-Event-ID header and its after parameter.
type streamRequest struct{ to, lastEventID, after string }

func newSwitchProxy(t *testing.T, first string) *switchProxy {
	p := &switchProxy{}
	p.switchTo(first)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(p.target.Load()) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/stream") {
			p.mu.Lock()
			p.asked = append(p.asked, streamRequest{p.target.Load().String(), r.Header.Get("Last-Event-ID"), r.URL.Query().Get("after")})
			p.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *switchProxy) switchTo(base string) {
	u, err := url.Parse(base)
	if err != nil {
		panic(err) // a test server's URL
	}
	p.target.Store(u)
}

func (p *switchProxy) streams() []streamRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.asked)
}

// violations is run in the page before its own scripts: it keeps every
// violation of the page's Content-Security-Policy.
const violations = `window.violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));`

// openPage opens target in a fresh headless Chromium, closed when the
// test ends. It fails the test for every request of the page to another
// origin than target's, every violation of the page's policy (see
// checkPolicy) and every uncaught exception of its script.
func openPage(t *testing.T, bin, target string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.UserDataDir(t.TempDir()), chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true), chromedp.Flag("no-pings", true))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox refuses root
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	origin, _ := url.Parse(target)
	var (
		mu       sync.Mutex
		problems []string
	)
	err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if u, err := url.Parse(ev.Request.URL); err != nil || u.Host != origin.Host && u.Scheme != "data" {
				problems = append(problems, "a request to "+ev.Request.URL)
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "an exception: "+ev.ExceptionDetails.Text+" "+exceptionMessage(ev.ExceptionDetails))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: violations}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(target)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		checkPolicy(ctx, t)
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("the page made %s", p)
		}
	})
	return ctx
}

// checkPolicy fails the test for the violations of the policy of the page
// shown: each page keeps its own.
func checkPolicy(ctx context.Context, t *testing.T) {
	t.Helper()
	if blocked, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.violations`)); err != nil || len(blocked) > 0 {
		t.Errorf("the page's policy blocked %q (%v)", blocked, err)
	}
}

// goTo checks the policy of the page shown, and leaves it for target.
func goTo(ctx context.Context, t *testing.T, target string) {
	t.Helper()
	checkPolicy(ctx, t)
	if err := chromedp.Do(ctx, chromedp.Navigate(target)); err != nil {
		t.Fatal(err)
	}
}

func exceptionMessage(d *runtime.ExceptionDetails) string {
	if d.Exception == nil {
		return ""
	}
	return d.Exception.Description
}

// click clicks the button of the page with the id.
func click(ctx context.Context, t *testing.T, id string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID(id))); err != nil {
		t.Fatalf("click %s: %v", id, err)
	}
}
