package main

import (
	"bufio"
	"bytes"
	"context"
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
	"github.com/seatres/reservation/api/client"
	"github.com/seatres/reservation/tests/servicetest"
)

// The end-to-end tests run the built binary as an operator would: against a
// throwaway Redis, over real HTTP, stopped by a signal. They call it through
// the generated Go client (api/client), so that every run proves the client
// against the service; raw HTTP is kept for bytes no client would send.

// TestMain fails the tests if any of them leaves a goroutine running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	bin := servicetest.Build(t)
	redis := redistest.Standalone(t)
	svc := servicetest.Start(t, bin, "RESERVATION_REDIS_ADDRS="+redis, "RESERVATION_HOLD_MAX_SEATS=6")
	api := newClient(t, svc.URL())
	ctx := t.Context()

	// The README's walk-through.
	created, err := api.CreateEventWithResponse(ctx, nil, client.CreateEventRequest{Name: "Flash sale", TotalSeats: 10})
	ev := *answered(t, created, err, http.StatusCreated).JSON201
	if ev.Name != "Flash sale" || ev.TotalSeats != 10 || ev.ID == "" {
		t.Fatalf("created event = %+v", ev)
	}
	gotEvent, err := api.GetEventWithResponse(ctx, ev.ID)
	if got := *answered(t, gotEvent, err, http.StatusOK).JSON200; got != ev {
		t.Errorf("GET event = %+v, want %+v", got, ev)
	}
	listed, err := api.ListAvailableSeatsWithResponse(ctx, ev.ID, nil)
	list := *answered(t, listed, err, http.StatusOK).JSON200
	if list.Total != 10 || len(list.Seats) != 10 || list.Event != ev {
		t.Fatalf("list = %+v, want the event and its 10 seats", list)
	}
	s1 := list.Seats[0].ID
	gotSeat, err := api.GetSeatWithResponse(ctx, s1)
	if got := *answered(t, gotSeat, err, http.StatusOK).JSON200; got.Status != client.Available || got.UUID != "" || got.EventID != ev.ID {
		t.Errorf("GET seat = %+v, want it available in event %s", got, ev.ID)
	}
	alice := client.SeatRequest{ID: s1, UUID: "alice"}
	hold, err := api.HoldSeatWithResponse(ctx, alice)
	held := answered(t, hold, err, http.StatusOK).JSON200.Seat
	if held.Status != client.OnHold || held.UUID != "alice" || held.HoldExpiresAt == nil {
		t.Errorf("hold = %+v, want on hold for alice with an expiry", held)
	}
	refresh, err := api.RefreshHoldWithResponse(ctx, alice)
	refreshed := answered(t, refresh, err, http.StatusOK).JSON200.Seat
	if refreshed.Status != client.OnHold || refreshed.HoldExpiresAt == nil || refreshed.HoldExpiresAt.Before(*held.HoldExpiresAt) {
		t.Errorf("refresh = %+v, want a hold no shorter than %v", refreshed, held.HoldExpiresAt)
	}
	// The original service's path for refresh.
	original, err := api.RefreshHoldOriginalPathWithResponse(ctx, alice)
	answered(t, original, err, http.StatusOK)

	// Refusals while alice holds the seat.
	bob := client.SeatRequest{ID: s1, UUID: "bob"}
	bobHold, err := api.HoldSeatWithResponse(ctx, bob)
	refused(t, answered(t, bobHold, err, http.StatusConflict).JSON409, client.SEATHELD)
	bobRefresh, err := api.RefreshHoldWithResponse(ctx, bob)
	refused(t, answered(t, bobRefresh, err, http.StatusForbidden).JSON403, client.NOTHOLDER)
	bobReserve, err := api.ReserveSeatWithResponse(ctx, bob)
	refused(t, answered(t, bobReserve, err, http.StatusForbidden).JSON403, client.NOLIVEHOLD)

	reserve, err := api.ReserveSeatWithResponse(ctx, alice)
	reserved := answered(t, reserve, err, http.StatusOK).JSON200.Seat
	if reserved.Status != client.Reserved || reserved.UUID != "alice" || reserved.HoldExpiresAt != nil {
		t.Errorf("reserve = %+v, want reserved by alice without expiry", reserved)
	}
	bobHold, err = api.HoldSeatWithResponse(ctx, bob)
	refused(t, answered(t, bobHold, err, http.StatusConflict).JSON409, client.SEATRESERVED)
	aliceRefresh, err := api.RefreshHoldWithResponse(ctx, alice)
	refused(t, answered(t, aliceRefresh, err, http.StatusConflict).JSON409, client.NOTONHOLD)

	// bob holds seats 2..7, the limit, and is refused an eighth.
	for _, s := range list.Seats[1:7] {
		hold, err := api.HoldSeatWithResponse(ctx, client.SeatRequest{ID: s.ID, UUID: "bob"})
		answered(t, hold, err, http.StatusOK)
	}
	bobHold, err = api.HoldSeatWithResponse(ctx, client.SeatRequest{ID: list.Seats[7].ID, UUID: "bob"})
	refused(t, answered(t, bobHold, err, http.StatusTooManyRequests).JSON429, client.HOLDLIMITREACHED)

	listed, err = api.ListAvailableSeatsWithResponse(ctx, ev.ID, nil)
	if got := *answered(t, listed, err, http.StatusOK).JSON200; got.Total != 3 || len(got.Seats) != 3 || got.Seats[0].ID != list.Seats[7].ID {
		t.Errorf("list after holds = %+v, want seats 8, 9 and 10", got)
	}
	gotSeat, err = api.GetSeatWithResponse(ctx, ev.ID+".11")
	refused(t, answered(t, gotSeat, err, http.StatusNotFound).JSON404, client.SEATNOTFOUND)
	gotEvent, err = api.GetEventWithResponse(ctx, "00000000-0000-0000-0000-000000000000")
	refused(t, answered(t, gotEvent, err, http.StatusNotFound).JSON404, client.EVENTNOTFOUND)

	cartWalkThrough(t, api)

	// What probes and tools read.
	health, err := api.HealthzWithResponse(ctx)
	if got := answered(t, health, err, http.StatusOK).JSON200.Status; got != "ok" {
		t.Errorf("GET /healthz status %q, want ok", got)
	}
	ready, err := api.ReadyzWithResponse(ctx)
	if got := answered(t, ready, err, http.StatusOK).JSON200.Status; got != "ready" {
		t.Errorf("GET /readyz status %q, want ready", got)
	}
	spec, err := api.GetOpenAPIWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if spec.YAML200 == nil || (*spec.YAML200)["paths"] == nil {
		t.Errorf("GET /openapi.yaml = %d %.100s, want the spec with its paths", spec.StatusCode(), spec.Body)
	}

	finishesInFlight(t, svc, fmt.Sprintf(`{"id": %q, "UUID": "dave"}`, list.Seats[8].ID))
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
func cartWalkThrough(t *testing.T, api *client.ClientWithResponses) {
	t.Helper()
	ctx := t.Context()
	created, err := api.CreateEventWithResponse(ctx, nil, client.CreateEventRequest{Name: "Concert", TotalSeats: 40, SeatsPerRow: new(10)})
	ev := *answered(t, created, err, http.StatusCreated).JSON201
	if ev.Name != "Concert" || ev.TotalSeats != 40 || ev.SeatsPerRow != 10 {
		t.Fatalf("created event = %+v, want 40 seats in rows of 10", ev)
	}
	gotEvent, err := api.GetEventWithResponse(ctx, ev.ID)
	if got := *answered(t, gotEvent, err, http.StatusOK).JSON200; got != ev {
		t.Errorf("GET event = %+v, want %+v", got, ev)
	}
	id := func(n int) string { return ev.ID + "." + strconv.Itoa(n) }
	ids := func(ns ...int) *client.SeatIDs {
		out := make(client.SeatIDs, len(ns))
		for i, n := range ns {
			out[i] = id(n)
		}
		return &out
	}
	// wantSeats checks that the seats of a reply are ns, in that order,
	// with status for user (and one expiry when on hold).
	wantSeats := func(what string, got *client.SeatsChange, status client.SeatStatus, user string, ns ...int) {
		t.Helper()
		if len(got.Seats) != len(ns) || got.Message == "" {
			t.Fatalf("%s = %+v, want %d seats and a message", what, got, len(ns))
		}
		first := got.Seats[0].HoldExpiresAt
		for i, s := range got.Seats {
			onHold := s.HoldExpiresAt != nil && first != nil && s.HoldExpiresAt.Equal(*first)
			if s.ID != id(ns[i]) || s.EventID != ev.ID || s.Status != status || s.UUID != user || onHold != (status == client.OnHold) {
				t.Errorf("%s: seat %d = %+v, want seat %s %s by %q", what, i, s, id(ns[i]), status, user)
			}
		}
	}

	hold, err := api.HoldSeatsWithResponse(ctx, ev.ID, nil, client.HoldSeatsRequest{UUID: "carol", IDs: ids(1, 2)})
	carol := answered(t, hold, err, http.StatusOK).JSON200
	wantSeats("carol's hold", carol, client.OnHold, "carol", 1, 2)
	daveKey := &client.HoldSeatsParams{IdempotencyKey: new("dave-1")}
	daveBest := client.HoldSeatsRequest{UUID: "dave", BestAvailable: &client.BestAvailable{Count: 4}}
	first, err := api.HoldSeatsWithResponse(ctx, ev.ID, daveKey, daveBest)
	wantSeats("dave's best available", answered(t, first, err, http.StatusOK).JSON200, client.OnHold, "dave", 3, 4, 5, 6)
	// His retry with the same key gets the same seats, and holds no more.
	again, err := api.HoldSeatsWithResponse(ctx, ev.ID, daveKey, daveBest)
	if answered(t, again, err, http.StatusOK); !bytes.Equal(first.Body, again.Body) {
		t.Errorf("the same hold with the same Idempotency-Key answered %s, then %s", first.Body, again.Body)
	}
	reused, err := api.HoldSeatsWithResponse(ctx, ev.ID, daveKey, client.HoldSeatsRequest{UUID: "dave", BestAvailable: &client.BestAvailable{Count: 3}})
	refused(t, answered(t, reused, err, http.StatusUnprocessableEntity).JSON422, client.IDEMPOTENCYKEYREUSED)

	release, err := api.ReleaseSeatsWithResponse(ctx, ev.ID, nil, client.ReleaseSeatsRequest{UUID: "dave", IDs: ids(6)})
	wantSeats("dave's release", answered(t, release, err, http.StatusOK).JSON200, client.Available, "", 6)
	reserve, err := api.ReserveSeatsWithResponse(ctx, ev.ID, nil, client.ReserveSeatsRequest{UUID: "dave", IDs: *ids(3, 4, 5)})
	wantSeats("dave's reserve", answered(t, reserve, err, http.StatusOK).JSON200, client.Reserved, "dave", 3, 4, 5)
	summary, err := api.GetEventSummaryWithResponse(ctx, ev.ID)
	if got := *answered(t, summary, err, http.StatusOK).JSON200; got != (client.Summary{Total: 40, Available: 35, OnHold: 2, Reserved: 3}) {
		t.Errorf("summary = %+v, want 35 available, 2 on hold and 3 reserved of 40", got)
	}

	erin, err := api.HoldSeatsWithResponse(ctx, ev.ID, nil, client.HoldSeatsRequest{UUID: "erin", IDs: ids(2, 5, 6)})
	if got := refused(t, answered(t, erin, err, http.StatusConflict).JSON409, client.SEATRESERVED); got.Seats == nil || !slices.Equal(*got.Seats, []string{id(5)}) {
		t.Errorf("erin's hold = %+v, want SEAT_RESERVED naming seat 5", got)
	}
	seat6, err := api.GetSeatWithResponse(ctx, id(6))
	if got := *answered(t, seat6, err, http.StatusOK).JSON200; got.Status != client.Available {
		t.Errorf("seat 6 after erin's refused hold = %+v, want it available", got)
	}
	refresh, err := api.RefreshHoldsWithResponse(ctx, ev.ID, nil, client.RefreshHoldsRequest{UUID: "carol"})
	refreshed := answered(t, refresh, err, http.StatusOK).JSON200
	wantSeats("carol's refresh", refreshed, client.OnHold, "carol", 1, 2)
	if was, is := carol.Seats[0].HoldExpiresAt, refreshed.Seats[0].HoldExpiresAt; is == nil || was == nil || is.Before(*was) {
		t.Errorf("carol's refresh = %+v, want holds no shorter than %v", refreshed, carol.Seats[0].HoldExpiresAt)
	}
	release, err = api.ReleaseSeatsWithResponse(ctx, ev.ID, nil, client.ReleaseSeatsRequest{UUID: "carol"})
	wantSeats("carol's release", answered(t, release, err, http.StatusOK).JSON200, client.Available, "", 1, 2)
	refresh, err = api.RefreshHoldsWithResponse(ctx, ev.ID, nil, client.RefreshHoldsRequest{UUID: "carol"})
	refused(t, answered(t, refresh, err, http.StatusConflict).JSON409, client.NOTONHOLD)
	summary, err = api.GetEventSummaryWithResponse(ctx, ev.ID)
	if got := *answered(t, summary, err, http.StatusOK).JSON200; got != (client.Summary{Total: 40, Available: 37, Reserved: 3}) {
		t.Errorf("summary at the end = %+v, want 37 available and 3 reserved of 40", got)
	}
	// The sale is over.
	deleted, err := api.DeleteEventWithResponse(ctx, ev.ID)
	answered(t, deleted, err, http.StatusNoContent)
	gotEvent, err = api.GetEventWithResponse(ctx, ev.ID)
	refused(t, answered(t, gotEvent, err, http.StatusNotFound).JSON404, client.EVENTNOTFOUND)
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

// newClient is the generated client of the service at base, on an HTTP
// client of the test's own, whose idle connections close when it ends.
func newClient(t *testing.T, base string) *client.ClientWithResponses {
	t.Helper()
	hc := &http.Client{Timeout: servicetest.Timeout}
	t.Cleanup(hc.CloseIdleConnections)
	api, err := client.NewClientWithResponses(base, client.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// answer is what every response type of the generated client has.
type answer interface {
	StatusCode() int
	ContentType() string
	Bytes() []byte
}

// answered fails the test unless the call got an answer of status whose
// body, if any, is JSON, and returns it. The client has then decoded the
// body into the answer's JSON<status> field, as the spec describes it (a
// body that does not fit is err).
func answered[R answer](t *testing.T, r R, err error, status int) R {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode() != status {
		t.Fatalf("status %d, want %d: %s", r.StatusCode(), status, r.Bytes())
	}
	if len(r.Bytes()) > 0 && !strings.Contains(r.ContentType(), "json") {
		t.Fatalf("status %d with Content-Type %q, want JSON: %s", status, r.ContentType(), r.Bytes())
	}
	return r
}

// refused checks that an error answer has code and a message, and returns
// it.
func refused(t *testing.T, e *client.Error, code client.ErrorCode) *client.Error {
	t.Helper()
	if e == nil {
		t.Fatalf("no error body, want code %s", code)
	}
	if e.Code != code || e.Error == "" {
		t.Errorf("refusal %+v, want code %s and a message", e, code)
	}
	return e
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
