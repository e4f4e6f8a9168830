// Package attacks runs the attacks of issue #10 against the built binary,
// configured as deployments/k8s/base configures it, over real HTTP: seat
// spinning with stolen and made-up identities, impersonation of another
// buyer, a rate limit split over two instances, secrets looked for in the
// logs and a flood of creates. Each test asserts what the defence stopped
// and logs the figures.
//
// Every client sends from a loopback address of its own choosing (Linux
// routes all of 127.0.0.0/8 to the loopback interface), so that the per-IP
// limit tells an attacker's addresses from a real buyer's as it would on the
// internet.
package attacks

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/identity/identitytest"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/tests/internal/harness"
)

// TestMain fails the tests if any leaves a goroutine running.
func TestMain(m *testing.M) { redistest.Main(m) }

// base is the k8s base, whose settings and development credentials the
// tests run with.
const base = "../../deployments/k8s/base"

// devKey is the secret of the development key box-office of
// base/auth/keys.yaml (its comment and the README's Security section say
// so; the file holds only its digest).
const devKey = "dev-box-office-key"

// deployment is the environment of base/config.env, in its order.
type deployment struct {
	names  []string
	values map[string]string
}

// readDeployment reads base/config.env with the paths of the Secret
// reservation-auth replaced by the repository's files of it.
func readDeployment(t testing.TB) deployment {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(base, "config.env"))
	if err != nil {
		t.Fatal(err)
	}
	d := deployment{values: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("config.env: %q", line)
		}
		d = d.with(name + "=" + value)
	}
	return d.with("RESERVATION_AUTH_KEYS_FILE="+abs(t, "auth/keys.yaml"),
		"RESERVATION_AUTH_BUYER_SECRET_FILE="+abs(t, "auth/buyer-secret"))
}

func abs(t testing.TB, path string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(base, path))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// with returns d with the settings NAME=value laid over it.
func (d deployment) with(settings ...string) deployment {
	out := deployment{names: slices.Clone(d.names), values: maps.Clone(d.values)}
	for _, s := range settings {
		name, value, _ := strings.Cut(s, "=")
		if _, ok := out.values[name]; !ok {
			out.names = append(out.names, name)
		}
		out.values[name] = value
	}
	return out
}

// int reads a numeric setting.
func (d deployment) int(t testing.TB, name string) int {
	t.Helper()
	n, err := strconv.Atoi(d.values[name])
	if err != nil {
		t.Fatalf("%s=%q: %v", name, d.values[name], err)
	}
	return n
}

// environ is the environment of the binary. The address is left to
// servicetest, which listens on a free loopback port.
func (d deployment) environ() []string {
	var env []string
	for _, name := range d.names {
		if name != "RESERVATION_HTTP_ADDR" {
			env = append(env, name+"="+d.values[name])
		}
	}
	return env
}

// buyerSecret is the HS256 secret of base/auth/buyer-secret, read as the
// service reads it (one trailing newline trimmed).
func buyerSecret(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(base, "auth/buyer-secret"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(data, []byte("\n"))
}

// token mints a buyer token for sub valid for an hour.
func token(t testing.TB, secret []byte, sub string) string {
	t.Helper()
	return identitytest.Mint(t, secret, sub, time.Now().Add(time.Hour), "")
}

// cred is what a request carries: an API key's secret, a buyer token, each
// left out when "".
type cred struct{ key, token string }

// client sends requests to one service instance from one loopback address.
type client struct {
	http *http.Client
	url  string
}

// newClient returns a client of the instance at url that connects from ip.
// Its idle connections close when the test ends.
func newClient(t testing.TB, url, ip string) *client {
	tr := &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)},
		}).DialContext,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     time.Minute,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{http: &http.Client{Transport: tr, Timeout: 10 * time.Second}, url: url}
}

// reply is what a request got: Err when no HTTP answer came; else the
// status, the error body's code, the headers and the raw body, and Got,
// when the answer came (after the service handled the request).
type reply struct {
	Err    error
	Status int
	Code   string
	Header http.Header
	Body   []byte
	Got    time.Time
}

func (r reply) OK() bool { return r.Err == nil && r.Status >= 200 && r.Status < 300 }

// outcome is the reply as the tallies count it: "201", "429 RATE_LIMITED",
// "no answer".
func (r reply) outcome() string {
	switch {
	case r.Err != nil:
		return "no answer"
	case r.Code != "":
		return strconv.Itoa(r.Status) + " " + r.Code
	}
	return strconv.Itoa(r.Status)
}

func (r reply) String() string {
	if r.Err != nil {
		return "no answer: " + r.Err.Error()
	}
	return fmt.Sprintf("%d %s", r.Status, r.Body)
}

// seats are the seats of a seat change's or a cart change's answer.
func (r reply) seats() ([]harness.Seat, error) {
	var b struct {
		Seat  *harness.Seat  `json:"seat"`
		Seats []harness.Seat `json:"seats"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		return nil, fmt.Errorf("%d %q: %w", r.Status, r.Body, err)
	}
	if b.Seat != nil {
		return []harness.Seat{*b.Seat}, nil
	}
	return b.Seats, nil
}

// do sends one request with body as JSON (none when nil). An error answer
// without the {"error","code"} body is an error of the reply.
func (c *client) do(ctx context.Context, method, path string, as cred, body any) reply {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return reply{Err: err}
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, bytes.NewReader(data))
	if err != nil {
		return reply{Err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if as.key != "" {
		req.Header.Set("Authorization", "Bearer "+as.key)
	}
	if as.token != "" {
		req.Header.Set("X-Buyer-Token", as.token)
	}
	return c.send(req)
}

// send sends req and reads its answer.
func (c *client) send(req *http.Request) reply {
	var r reply
	resp, err := c.http.Do(req)
	if err != nil {
		r.Err = err
		return r
	}
	defer resp.Body.Close()
	r.Body, r.Err = io.ReadAll(resp.Body)
	r.Got, r.Status, r.Header = time.Now(), resp.StatusCode, resp.Header
	if r.Err == nil && !r.OK() {
		var e struct{ Error, Code string }
		if err := json.Unmarshal(r.Body, &e); err != nil || e.Error == "" || e.Code == "" {
			r.Err = fmt.Errorf("status %d without an error body: %q", r.Status, r.Body)
		}
		r.Code = e.Code
	}
	return r
}

// The requests of the API that the tests send.

func (c *client) create(ctx context.Context, as cred, seats, perRow int) reply {
	return c.do(ctx, http.MethodPost, "/events/create", as,
		map[string]any{"name": "Attack", "totalSeats": seats, "seatsPerRow": perRow})
}

// seat posts a one-seat change: path is harness.HoldPath, RefreshPath or
// ReservePath.
func (c *client) seat(ctx context.Context, path string, as cred, id, user string) reply {
	return c.do(ctx, http.MethodPost, path, as, map[string]string{"id": id, "UUID": user})
}

// cart posts a change of a cart in event: op is harness.CartHold, ...
func (c *client) cart(ctx context.Context, event, op string, as cred, r harness.CartRequest) reply {
	return c.do(ctx, http.MethodPost, "/events/"+event+"/"+op, as, r)
}

func (c *client) get(ctx context.Context, path string, as cred) reply {
	return c.do(ctx, http.MethodGet, path, as, nil)
}

// mustCreate creates an event with the key, failing the test unless it is
// created, and returns its id.
func (c *client) mustCreate(t testing.TB, key string, seats, perRow int) string {
	t.Helper()
	r := c.create(t.Context(), cred{key: key}, seats, perRow)
	var e harness.Event
	if r.Status != http.StatusCreated || json.Unmarshal(r.Body, &e) != nil || e.TotalSeats != seats {
		t.Fatalf("create an event of %d seats: %v", seats, r)
	}
	return e.ID
}

// summary gets an event's counts.
func (c *client) summary(ctx context.Context, event string, as cred) (harness.Summary, reply) {
	r := c.get(ctx, "/events/"+event+"/summary", as)
	var s harness.Summary
	if r.OK() {
		if err := json.Unmarshal(r.Body, &s); err != nil {
			r.Err = err
		}
	}
	return s, r
}

// tally counts replies by outcome, from any goroutine.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func (t *tally) add(r reply) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = map[string]int{}
	}
	t.n[r.outcome()]++
}

// String lists the outcomes in order with their counts.
func (t *tally) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	total := 0
	var parts []string
	for _, o := range slices.Sorted(maps.Keys(t.n)) {
		parts = append(parts, fmt.Sprintf("%s: %d", o, t.n[o]))
		total += t.n[o]
	}
	return fmt.Sprintf("%d requests (%s)", total, strings.Join(parts, ", "))
}
