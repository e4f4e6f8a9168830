package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/tests/servicetest"
)

// The end-to-end tests run the built binary as an operator would: against a
// throwaway Redis, over real HTTP, stopped by a signal.

// TestMain fails the tests if any of them leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	bin := servicetest.Build(t)
	redis := redistest.Standalone(t)
	svc := servicetest.Start(t, bin, "RESERVATION_REDIS_ADDRS="+redis, "RESERVATION_HOLD_MAX_SEATS=6")
	c := client{t: t, base: svc.URL()}

	// The README's walk-through.
	ev := call[event](c, "POST", "/events/create", `{"name": "Flash sale", "totalSeats": 10}`, http.StatusCreated)
	if ev.Name != "Flash sale" || ev.TotalSeats != 10 || ev.ID == "" {
		t.Fatalf("created event = %+v", ev)
	}
	if got := call[event](c, "GET", "/events/"+ev.ID, "", http.StatusOK); got != ev {
		t.Errorf("GET event = %+v, want %+v", got, ev)
	}
	list := call[seatList](c, "GET", "/seats/list/"+ev.ID, "", http.StatusOK)
	if list.Total != 10 || len(list.Seats) != 10 || list.Event != ev {
		t.Fatalf("list = %+v, want the event and its 10 seats", list)
	}
	s1 := list.Seats[0].ID
	if got := call[seat](c, "GET", "/seats/get/"+s1, "", http.StatusOK); got.Status != "Available" || got.UUID != "" || got.EventID != ev.ID {
		t.Errorf("GET seat = %+v, want it available in event %s", got, ev.ID)
	}
	held := call[seatReply](c, "POST", "/seats/hold", body(s1, "alice"), http.StatusOK).Seat
	if held.Status != "On hold" || held.UUID != "alice" || held.HoldExpiresAt == nil {
		t.Errorf("hold = %+v, want on hold for alice with an expiry", held)
	}
	refreshed := call[seatReply](c, "POST", "/seats/refresh", body(s1, "alice"), http.StatusOK).Seat
	if refreshed.Status != "On hold" || refreshed.HoldExpiresAt == nil || refreshed.HoldExpiresAt.Before(*held.HoldExpiresAt) {
		t.Errorf("refresh = %+v, want a hold no shorter than %v", refreshed, held.HoldExpiresAt)
	}
	// The original service's path for refresh.
	call[seatReply](c, "POST", "/seats/hold/refresh", body(s1, "alice"), http.StatusOK)

	// Refusals while alice holds the seat.
	c.refused("POST", "/seats/hold", body(s1, "bob"), http.StatusConflict, "SEAT_HELD")
	c.refused("POST", "/seats/refresh", body(s1, "bob"), http.StatusForbidden, "NOT_HOLDER")
	c.refused("POST", "/seats/reserve", body(s1, "bob"), http.StatusForbidden, "NO_LIVE_HOLD")

	reserved := call[seatReply](c, "POST", "/seats/reserve", body(s1, "alice"), http.StatusOK).Seat
	if reserved.Status != "Reserved" || reserved.UUID != "alice" || reserved.HoldExpiresAt != nil {
		t.Errorf("reserve = %+v, want reserved by alice without expiry", reserved)
	}
	c.refused("POST", "/seats/hold", body(s1, "bob"), http.StatusConflict, "SEAT_RESERVED")
	c.refused("POST", "/seats/refresh", body(s1, "alice"), http.StatusConflict, "NOT_ON_HOLD")

	// bob holds seats 2..7, the limit, and is refused an eighth.
	for _, s := range list.Seats[1:7] {
		call[seatReply](c, "POST", "/seats/hold", body(s.ID, "bob"), http.StatusOK)
	}
	c.refused("POST", "/seats/hold", body(list.Seats[7].ID, "bob"), http.StatusTooManyRequests, "HOLD_LIMIT_REACHED")

	if got := call[seatList](c, "GET", "/seats/list/"+ev.ID, "", http.StatusOK); got.Total != 3 || len(got.Seats) != 3 || got.Seats[0].ID != list.Seats[7].ID {
		t.Errorf("list after holds = %+v, want seats 8, 9 and 10", got)
	}
	c.refused("GET", "/seats/get/"+ev.ID+".11", "", http.StatusNotFound, "SEAT_NOT_FOUND")
	c.refused("GET", "/events/00000000-0000-0000-0000-000000000000", "", http.StatusNotFound, "EVENT_NOT_FOUND")

	cartWalkThrough(t, c)

	finishesInFlight(t, svc, body(list.Seats[8].ID, "dave"))
	if code := svc.Wait(t); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0\n%s", code, svc.Log())
	}
}

// cartWalkThrough is the README's walk-through of a cart: in an event of
// 4 rows of 10, carol holds seats 1 and 2, dave the 4 best available (3 to
// 6, and the same 4 again when he repeats his Idempotency-Key), gives one
// back and reserves the other 3; the summary adds up. Erin's cart of a
// reserved seat is refused, naming it, and changes nothing; carol
// refreshes, then releases all her holds.
func cartWalkThrough(t *testing.T, c client) {
	t.Helper()
	ev := call[event](c, "POST", "/events/create", `{"name": "Concert", "totalSeats": 40, "seatsPerRow": 10}`, http.StatusCreated)
	if ev.Name != "Concert" || ev.TotalSeats != 40 || ev.SeatsPerRow != 10 {
		t.Fatalf("created event = %+v, want 40 seats in rows of 10", ev)
	}
	if got := call[event](c, "GET", "/events/"+ev.ID, "", http.StatusOK); got != ev {
		t.Errorf("GET event = %+v, want %+v", got, ev)
	}
	cart := "/events/" + ev.ID
	id := func(n int) string { return ev.ID + "." + strconv.Itoa(n) }
	ids := func(ns ...int) string {
		quoted := make([]string, len(ns))
		for i, n := range ns {
			quoted[i] = strconv.Quote(id(n))
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	}
	// wantSeats checks that the seats of a reply are ns, in that order,
	// with status for user (and one expiry when on hold).
	wantSeats := func(what string, got seatsReply, status, user string, ns ...int) {
		t.Helper()
		if len(got.Seats) != len(ns) || got.Message == "" {
			t.Fatalf("%s = %+v, want %d seats and a message", what, got, len(ns))
		}
		first := got.Seats[0].HoldExpiresAt
		for i, s := range got.Seats {
			onHold := s.HoldExpiresAt != nil && first != nil && s.HoldExpiresAt.Equal(*first)
			if s.ID != id(ns[i]) || s.EventID != ev.ID || s.Status != status || s.UUID != user || onHold != (status == "On hold") {
				t.Errorf("%s: seat %d = %+v, want seat %s %s by %q", what, i, s, id(ns[i]), status, user)
			}
		}
	}

	carol := call[seatsReply](c, "POST", cart+"/hold", `{"UUID": "carol", "ids": `+ids(1, 2)+`}`, http.StatusOK)
	wantSeats("carol's hold", carol, "On hold", "carol", 1, 2)
	daveBest := `{"UUID": "dave", "bestAvailable": {"count": 4}}`
	first := c.withKey("dave-1").send("POST", cart+"/hold", daveBest, http.StatusOK)
	var dave seatsReply
	if err := json.Unmarshal(first, &dave); err != nil {
		t.Fatal(err)
	}
	wantSeats("dave's best available", dave, "On hold", "dave", 3, 4, 5, 6)
	// His retry with the same key gets the same seats, and holds no more.
	if again := c.withKey("dave-1").send("POST", cart+"/hold", daveBest, http.StatusOK); !bytes.Equal(first, again) {
		t.Errorf("the same hold with the same Idempotency-Key answered %s, then %s", first, again)
	}
	c.withKey("dave-1").refused("POST", cart+"/hold", `{"UUID": "dave", "bestAvailable": {"count": 3}}`, http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED")

	released := call[seatsReply](c, "POST", cart+"/release", `{"UUID": "dave", "ids": `+ids(6)+`}`, http.StatusOK)
	wantSeats("dave's release", released, "Available", "", 6)
	reserved := call[seatsReply](c, "POST", cart+"/reserve", `{"UUID": "dave", "ids": `+ids(3, 4, 5)+`}`, http.StatusOK)
	wantSeats("dave's reserve", reserved, "Reserved", "dave", 3, 4, 5)
	if got := call[summary](c, "GET", cart+"/summary", "", http.StatusOK); got != (summary{Total: 40, Available: 35, OnHold: 2, Reserved: 3}) {
		t.Errorf("summary = %+v, want 35 available, 2 on hold and 3 reserved of 40", got)
	}

	refused := call[errorReply](c, "POST", cart+"/hold", `{"UUID": "erin", "ids": `+ids(2, 5, 6)+`}`, http.StatusConflict)
	if refused.Code != "SEAT_RESERVED" || refused.Error == "" || !slices.Equal(refused.Seats, []string{id(5)}) {
		t.Errorf("erin's hold = %+v, want SEAT_RESERVED naming seat 5", refused)
	}
	if got := call[seat](c, "GET", "/seats/get/"+id(6), "", http.StatusOK); got.Status != "Available" {
		t.Errorf("seat 6 after erin's refused hold = %+v, want it available", got)
	}
	refreshed := call[seatsReply](c, "POST", cart+"/refresh", `{"UUID": "carol"}`, http.StatusOK)
	wantSeats("carol's refresh", refreshed, "On hold", "carol", 1, 2)
	if was, is := carol.Seats[0].HoldExpiresAt, refreshed.Seats[0].HoldExpiresAt; is == nil || was == nil || is.Before(*was) {
		t.Errorf("carol's refresh = %+v, want holds no shorter than %v", refreshed, carol.Seats[0].HoldExpiresAt)
	}
	wantSeats("carol's release", call[seatsReply](c, "POST", cart+"/release", `{"UUID": "carol"}`, http.StatusOK), "Available", "", 1, 2)
	c.refused("POST", cart+"/refresh", `{"UUID": "carol"}`, http.StatusConflict, "NOT_ON_HOLD")
	if got := call[summary](c, "GET", cart+"/summary", "", http.StatusOK); got != (summary{Total: 40, Available: 37, Reserved: 3}) {
		t.Errorf("summary at the end = %+v, want 37 available and 3 reserved of 40", got)
	}
}

// finishesInFlight sends SIGTERM while a hold request is in flight and
// checks that the request still succeeds. The server's "100 Continue" shows
// that the handler is reading the body; the body follows once the server
// has stopped accepting connections.
func finishesInFlight(t *testing.T, svc *servicetest.Service, reqBody string) {
	t.Helper()
	conn, err := net.Dial("tcp", svc.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /seats/hold HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		svc.Addr, len(reqBody))
	replies := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(replies, nil); err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v, %v", resp, err)
	}
	svc.Signal(syscall.SIGTERM)
	waitRefused(t, svc.Addr)
	if _, err := io.WriteString(conn, reqBody); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(replies, nil)
	if err != nil {
		t.Fatalf("in-flight request: %v\n%s", err, svc.Log())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("in-flight request: status %d, want 200", resp.StatusCode)
	}
}

// waitRefused returns once addr refuses connections: the server has closed
// its listener and is draining.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(servicetest.Timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		conn.Close()
	}
	t.Fatalf("%s still accepts connections %v after SIGTERM", addr, servicetest.Timeout)
}

func TestUnreachableRedis(t *testing.T) {
	t.Parallel()
	bin := servicetest.Build(t)
	ctx, cancel := context.WithTimeout(t.Context(), servicetest.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{
		"RESERVATION_REDIS_ADDRS=" + closedAddr(t),
		"RESERVATION_REDIS_DIAL_TIMEOUT=1s",
		"RESERVATION_HTTP_ADDR=127.0.0.1:0",
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	began := time.Now()
	_ = cmd.Run() // judged by its exit code
	// -1 means killed by the timeout.
	if code := cmd.ProcessState.ExitCode(); code <= 0 {
		t.Fatalf("exit code = %d, want a failure\n%s", code, &stderr)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("took %v to give up, want a quick failure", took)
	}
	last := lastLine(stderr.String())
	if !strings.Contains(strings.ToLower(last), "redis") {
		t.Errorf("last line of stderr %q does not name Redis\n%s", last, &stderr)
	}
}

// client calls the service and fails the test on any surprise. key, if
// not empty, is sent as the Idempotency-Key.
type client struct {
	t    *testing.T
	base string
	key  string
}

func (c client) withKey(key string) client {
	c.key = key
	return c
}

type event struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	TotalSeats  int    `json:"totalSeats"`
	SeatsPerRow int    `json:"seatsPerRow"`
}

type summary struct {
	Total     int `json:"total"`
	Available int `json:"available"`
	OnHold    int `json:"onHold"`
	Reserved  int `json:"reserved"`
}

type seat struct {
	ID            string     `json:"id"`
	EventID       string     `json:"eventId"`
	UUID          string     `json:"UUID"`
	Status        string     `json:"status"`
	HoldExpiresAt *time.Time `json:"holdExpiresAt"`
}

type seatList struct {
	Total int    `json:"total"`
	Event event  `json:"event"`
	Seats []seat `json:"seats"`
}

type seatReply struct {
	Message string `json:"message"`
	Seat    seat   `json:"seat"`
}

type seatsReply struct {
	Message string `json:"message"`
	Seats   []seat `json:"seats"`
}

type errorReply struct {
	Error string   `json:"error"`
	Code  string   `json:"code"`
	Seats []string `json:"seats"`
}

// body is a hold, refresh or reserve request. %q quotes plain ASCII as JSON does.
func body(seatID, user string) string {
	return fmt.Sprintf(`{"id": %q, "UUID": %q}`, seatID, user)
}

// call sends the request, checks the status and decodes the reply as T.
func call[T any](c client, method, path, reqBody string, wantStatus int) T {
	c.t.Helper()
	raw := c.send(method, path, reqBody, wantStatus)
	var out T
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
	}
	return out
}

// send sends the request, checks the status and returns the reply's body.
func (c client) send(method, path, reqBody string, wantStatus int) []byte {
	c.t.Helper()
	var reader io.Reader
	if reqBody != "" {
		reader = strings.NewReader(reqBody)
	}
	req, err := http.NewRequest(method, c.base+path, reader)
	if err != nil {
		c.t.Fatal(err)
	}
	if reqBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("Idempotency-Key", c.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode != wantStatus {
		c.t.Fatalf("%s %s %s: status %d, want %d: %s", method, path, reqBody, resp.StatusCode, wantStatus, raw)
	}
	return raw
}

// refused checks that a request is refused with status and code.
func (c client) refused(method, path, reqBody string, status int, code string) {
	c.t.Helper()
	got := call[errorReply](c, method, path, reqBody, status)
	if got.Code != code || got.Error == "" {
		c.t.Errorf("%s %s %s = %+v, want code %s and a message", method, path, reqBody, got, code)
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
