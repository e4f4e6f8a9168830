package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/adapters/identity"
	"github.com/seatres/reservation/adapters/identity/identitytest"
	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// streamAPI is the API over a service with a Feed, served by a real HTTP
// server for its streams (a recorder cannot read a stream that does not
// end); its other requests go to the router as testAPI's do.
type streamAPI struct {
	*testAPI
	svc     *application.Service
	feed    *application.Feed
	metrics *metrics.Metrics
	url     string
}

type streamSetup struct {
	feed  application.FeedConfig
	store []memstore.Option
	opts  []Option
}

func newStreamAPI(t *testing.T, setup streamSetup) *streamAPI {
	t.Helper()
	c := storetest.NewClock(time.Date(2026, 3, 1, 18, 0, 0, 123456789, time.UTC))
	store := memstore.New(c.Now, setup.store...)
	feed := application.NewFeed(store, zaptest.NewLogger(t), setup.feed)
	feed.Start()
	svc := application.NewService(store, defaultPolicy, application.WithFeed(feed))
	m := metrics.New()
	a := &streamAPI{testAPI: &testAPI{t: t, router: NewRouter(svc, zaptest.NewLogger(t), m, setup.opts...), clock: c}, svc: svc, feed: feed, metrics: m}
	srv := httptest.NewServer(a.router)
	a.url = srv.URL
	t.Cleanup(srv.Close)
	t.Cleanup(feed.Close) // first: it ends the streams, which Close waits for
	return a
}

// sseMessage is one message of a stream: its fields, or its comment.
type sseMessage struct {
	id, event, data, retry, comment string
}

// sseStream reads a stream's messages.
type sseStream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

// streamClient bounds every stream of a test, so that a missing message
// fails the test instead of hanging it.
var streamClient = &http.Client{Timeout: time.Minute}

// open opens the stream at path (with header's fields), which must start.
func (a *streamAPI) open(path string, header http.Header) *sseStream {
	a.t.Helper()
	resp := a.request200(path, header)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		a.t.Fatalf("Content-Type %q", ct)
	}
	s := &sseStream{t: a.t, resp: resp, r: bufio.NewReader(resp.Body)}
	a.t.Cleanup(s.close)
	if m := s.next(); m.retry != "2000" {
		a.t.Fatalf("first message %+v, want retry: 2000", m)
	}
	return s
}

func (a *streamAPI) request200(path string, header http.Header) *http.Response {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.url+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := streamClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		a.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return resp
}

func (s *sseStream) close() { s.resp.Body.Close() }

// next reads the next message, comments included.
func (s *sseStream) next() sseMessage {
	s.t.Helper()
	m, err := s.read()
	if err != nil {
		s.t.Fatalf("read the stream: %v", err)
	}
	return m
}

func (s *sseStream) read() (sseMessage, error) {
	var m sseMessage
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return m, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return m, nil
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "":
			m.comment = value
		case "id":
			m.id = value
		case "event":
			m.event = value
		case "data":
			m.data = value
		case "retry":
			m.retry = value
		default:
			s.t.Fatalf("unknown field in %q", line)
		}
	}
}

// event reads the next message that is an event, checked against the
// spec's schema of its data.
func (s *sseStream) event() sseMessage {
	s.t.Helper()
	for {
		if m := s.next(); m.event != "" {
			checkStreamEvent(s.t, m)
			return m
		}
	}
}

// changes reads change messages until they hold n changes, and returns
// them and the id of the last message.
func (s *sseStream) changes(n int) ([]changeWire, string) {
	s.t.Helper()
	var got []changeWire
	var id string
	for len(got) < n {
		var c []changeWire
		c, id = s.message()
		got = append(got, c...)
	}
	if len(got) != n {
		s.t.Fatalf("got %d changes, want %d: %+v", len(got), n, got)
	}
	return got, id
}

// message reads the next message, which must be changes, and returns its
// changes and its id.
func (s *sseStream) message() ([]changeWire, string) {
	s.t.Helper()
	m := s.event()
	if m.event != "changes" {
		s.t.Fatalf("got %+v, want changes", m)
	}
	var c struct{ Changes []changeWire }
	if err := json.Unmarshal([]byte(m.data), &c); err != nil {
		s.t.Fatal(err)
	}
	if last := c.Changes[len(c.Changes)-1].Position; m.id != last {
		s.t.Fatalf("message id %s, its last change at %s", m.id, last)
	}
	return c.Changes, m.id
}

// changeWire is a change as the stream and the history write it.
type changeWire struct {
	Position      string `json:"position"`
	Op            string `json:"op"`
	At            string `json:"at"`
	Seat          int    `json:"seat"`
	UUID          string `json:"UUID"`
	Status        string `json:"status"`
	HoldExpiresAt string `json:"holdExpiresAt"`
}

// seatIn is the seat of e that c tells, as the rest of the API shows it.
func (c changeWire) seatIn(e eventJSON) seatJSON {
	return seatJSON{ID: seatOf(e, c.Seat), EventID: e.ID, UUID: c.UUID, Status: c.Status, HoldExpiresAt: c.HoldExpiresAt}
}

type snapshotWire struct {
	Position  string    `json:"position"`
	Event     eventJSON `json:"event"`
	Available [][2]int  `json:"available"`
}

func (s *sseStream) snapshot() snapshotWire {
	s.t.Helper()
	m := s.event()
	var snap snapshotWire
	if err := json.Unmarshal([]byte(m.data), &snap); m.event != "snapshot" || err != nil || m.id != snap.Position {
		s.t.Fatalf("got %+v (%v), want a snapshot whose id is its position", m, err)
	}
	return snap
}

func TestStreamSnapshotThenChanges(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{})
	e := a.createRows(10, 5)
	a.cart(e, opHold, idsBody("alice", seatOf(e, 4)))
	s := a.open("/events/"+e.ID+"/stream", nil)
	snap := s.snapshot()
	if snap.Event != e || !slices.Equal(snap.Available, [][2]int{{1, 3}, {5, 10}}) {
		t.Fatalf("snapshot %+v", snap)
	}
	a.clock.Advance(time.Second)
	held := a.cart(e, opHold, idsBody("bob", seatOf(e, 7), seatOf(e, 2)))
	got, _ := s.changes(2)
	for i, c := range got {
		if c.Op != "hold" || c.seatIn(e) != held.Seats[i] || c.Position != got[0].Position || c.At != "2026-03-01T18:00:01.123Z" {
			t.Errorf("change %d: %+v, want the hold of %+v", i, c, held.Seats[i])
		}
	}
	if !snapshotBefore(snap.Position, got[0].Position) {
		t.Errorf("change at %s, not after the snapshot's %s", got[0].Position, snap.Position)
	}
	a.cart(e, opRelease, idsBody("bob", seatOf(e, 2)))
	a.change("/seats/reserve", seatOf(e, 7), "bob")
	got, _ = s.changes(2)
	if got[0].Op != "release" || got[0].Seat != 2 || got[0].Status != "Available" ||
		got[1].Op != "reserve" || got[1].Status != "Reserved" || got[1].UUID != "bob" {
		t.Errorf("got %+v, want the release of seat 2 and the reserve of seat 7", got)
	}
}

// snapshotBefore reports whether position p comes before q.
func snapshotBefore(p, q string) bool {
	pp, err1 := domain.ParsePosition(p)
	qq, err2 := domain.ParsePosition(q)
	return err1 == nil && err2 == nil && pp.Before(qq)
}

func TestStreamResumes(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{})
	e := a.createEvent(10)
	first := a.open("/events/"+e.ID+"/stream", nil)
	first.snapshot()
	a.cart(e, opHold, idsBody("alice", seatOf(e, 1)))
	_, id := first.changes(1)
	first.close()
	a.cart(e, opHold, idsBody("alice", seatOf(e, 2)))
	a.cart(e, opHold, idsBody("alice", seatOf(e, 3)))
	for name, open := range map[string]func() *sseStream{
		"Last-Event-ID": func() *sseStream { return a.open("/events/"+e.ID+"/stream", http.Header{lastEventIDHeader: {id}}) },
		"after":         func() *sseStream { return a.open("/events/"+e.ID+"/stream?after="+id, nil) },
		// What a reconnecting EventSource sends: the header wins.
		"both": func() *sseStream {
			return a.open("/events/"+e.ID+"/stream?after=0-0", http.Header{lastEventIDHeader: {id}})
		},
	} {
		got, _ := open().changes(2)
		if got[0].Seat != 2 || got[1].Seat != 3 {
			t.Errorf("%s: resumed with %+v, want the holds of seats 2 and 3", name, got)
		}
	}
}

func TestStreamResetsWhenTrimmed(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{store: []memstore.Option{memstore.WithStreamMaxLen(2)}})
	e := a.createEvent(10)
	for n := 1; n <= 4; n++ {
		a.cart(e, opHold, idsBody("alice", seatOf(e, n)))
	}
	s := a.open("/events/"+e.ID+"/stream?after=0-0", nil)
	if snap := s.snapshot(); !slices.Equal(snap.Available, [][2]int{{5, 10}}) {
		t.Fatalf("reset to %+v, want seats 5 to 10 available", snap)
	}
}

// TestStreamResetsFromAPositionOfNoRecord: a Last-Event-ID that is no
// record's position is none the event gave (made up, or of a record a
// Redis lost), and changes after it could skip those that took the lost
// ones' place: a seat map that resumes from it is reset with a snapshot,
// whether the instance's buffer holds the event's records or not, and its
// history is 410.
func TestStreamResetsFromAPositionOfNoRecord(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{})
	e := a.createEvent(10)
	follower := a.open("/events/"+e.ID+"/stream", nil) // the instance follows the event
	follower.snapshot()
	a.cart(e, opHold, idsBody("alice", seatOf(e, 1)))
	a.clock.Advance(time.Millisecond)
	a.cart(e, opHold, idsBody("alice", seatOf(e, 2)))
	_, id := follower.changes(2)
	last, err := domain.ParsePosition(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []domain.Position{
		{Ms: last.Ms, Seq: last.Seq + 1}, {Ms: last.Ms + 60_000}, // after the last record
		{Ms: last.Ms - 1, Seq: 7}, // between the two
	} {
		// A snapshot, then the changes after it up to the last: seats 3
		// to 10 available.
		s := a.open("/events/"+e.ID+"/stream", http.Header{lastEventIDHeader: {p.String()}})
		snap := s.snapshot()
		free := map[int]bool{}
		for _, run := range snap.Available {
			for n := run[0]; n <= run[1]; n++ {
				free[n] = true
			}
		}
		for at := snap.Position; at != id; {
			var changes []changeWire
			changes, at = s.message()
			for _, c := range changes {
				free[c.Seat] = c.Status == "Available"
			}
		}
		for n := 1; n <= 10; n++ {
			if free[n] != (n >= 3) {
				t.Errorf("resumed from %v, no record's position: seat %d available %v after a reset to %+v", p, n, free[n], snap)
			}
		}
		s.close()
		wantError(t, a.get("/events/"+e.ID+"/changes?after="+p.String()), http.StatusGone, "CHANGES_TRIMMED")
	}
}

// TestStreamOfAnEventMadeAgain: an event deleted and created again under
// its id (by a create's Idempotency-Key) is another event: a seat map of
// the old one that resumes is reset with a snapshot of the new one, its
// history from an old position is 410, and its list's old ETag is no
// match.
func TestStreamOfAnEventMadeAgain(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{})
	e := decode[eventJSON](t, a.postKey("/events/create", "concert", `{"name":"Concert","totalSeats":10}`), http.StatusCreated)
	fresh := a.listIf(e).Header().Get("ETag")
	old := a.open("/events/"+e.ID+"/stream", nil)
	old.snapshot()
	a.cart(e, opHold, idsBody("alice", seatOf(e, 1)))
	_, id := old.changes(1)
	old.close()
	held := a.listIf(e).Header().Get("ETag")
	if r := a.do(http.MethodDelete, "/events/"+e.ID, "", ""); r.Code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", r.Code, r.Body)
	}
	a.clock.Advance(time.Millisecond) // two events of one millisecond are not told apart (domain.Born)
	again := decode[eventJSON](t, a.postKey("/events/create", "concert", `{"name":"Concert","totalSeats":20}`), http.StatusCreated)
	if again.ID != e.ID {
		t.Fatalf("made again as %s, want the id %s", again.ID, e.ID)
	}
	s := a.open("/events/"+e.ID+"/stream", http.Header{lastEventIDHeader: {id}})
	if snap := s.snapshot(); !slices.Equal(snap.Available, [][2]int{{1, 20}}) {
		t.Fatalf("resumed from %s of the old event with %+v, want a reset to seats 1 to 20 available", id, snap)
	}
	wantError(t, a.get("/events/"+e.ID+"/changes?after="+id), http.StatusGone, "CHANGES_TRIMMED")
	for _, etag := range []string{fresh, held} {
		if r := a.listIf(e, etag); r.Code != http.StatusOK || r.Header().Get("ETag") == etag {
			t.Errorf("list of the event made again with If-None-Match %s of the old one: %d, ETag %s", etag, r.Code, r.Header().Get("ETag"))
		}
	}
}

func TestStreamRefusals(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{})
	e := a.createEvent(10)
	stream := "/events/" + e.ID + "/stream"
	for _, tt := range []struct {
		name   string
		target string
		header http.Header
		status int
		code   string
	}{
		{"bad Last-Event-ID", stream, http.Header{lastEventIDHeader: {"x"}}, http.StatusBadRequest, "INVALID_POSITION"},
		{"Last-Event-ID twice", stream, http.Header{lastEventIDHeader: {"1-0", "2-0"}}, http.StatusBadRequest, "INVALID_POSITION"},
		{"signed", stream, http.Header{lastEventIDHeader: {"+1-0"}}, http.StatusBadRequest, "INVALID_POSITION"},
		{"bad after", stream + "?after=1", nil, http.StatusBadRequest, "INVALID_POSITION"},
		{"empty after", stream + "?after=", nil, http.StatusBadRequest, "INVALID_POSITION"},
		{"after twice", stream + "?after=1-0&after=1-0", nil, http.StatusBadRequest, "INVALID_POSITION"},
		{"after misspelt", stream + "?afer=1-0", nil, http.StatusBadRequest, "UNKNOWN_PARAMETER"},
		{"unknown beside Last-Event-ID", stream + "?limit=5", http.Header{lastEventIDHeader: {"1-0"}}, http.StatusBadRequest, "UNKNOWN_PARAMETER"},
		{"unknown event", "/events/0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10/stream", nil, http.StatusNotFound, "EVENT_NOT_FOUND"},
		{"unknown event after", "/events/0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10/stream?after=1-0", nil, http.StatusNotFound, "EVENT_NOT_FOUND"},
		{"malformed event", "/events/x/stream", nil, http.StatusNotFound, "EVENT_NOT_FOUND"},
	} {
		req := a.request(http.MethodGet, tt.target, "", "")
		for k, v := range tt.header {
			req.Header[k] = v
		}
		r := a.serve(req, "")
		if r.Code != tt.status || errorCode(t, r) != tt.code {
			t.Errorf("%s: got %d %s, want %d %s", tt.name, r.Code, r.Body, tt.status, tt.code)
		}
	}
	if n := a.feed.Subscribers(); n != 0 {
		t.Errorf("%d subscribers after refusals, want 0", n)
	}
}

func TestStreamTooManySubscribers(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{feed: application.FeedConfig{MaxSubscribers: 1}})
	e := a.createEvent(10)
	s := a.open("/events/"+e.ID+"/stream", nil)
	r := a.get("/events/" + e.ID + "/stream")
	wantError(t, r, http.StatusServiceUnavailable, "TOO_MANY_SUBSCRIBERS")
	if got := r.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	s.close()
	// The place comes back once the server has seen the client go.
	waitFor(t, "the closed stream to give its place back", func() bool { return a.feed.Subscribers() == 0 })
	a.open("/events/"+e.ID+"/stream", nil).snapshot()
}

func TestStreamGone(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{})
	e := a.createEvent(10)
	s := a.open("/events/"+e.ID+"/stream", nil)
	s.snapshot()
	if r := a.do(http.MethodDelete, "/events/"+e.ID, "", ""); r.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	m := s.event()
	if m.event != "gone" || m.data != `{"error":"event not found","code":"EVENT_NOT_FOUND"}` {
		t.Fatalf("got %+v, want gone", m)
	}
	if _, err := s.read(); !errors.Is(err, io.EOF) {
		t.Fatalf("after gone: %v, want the end of the stream", err)
	}
}

func TestStreamHidesHolders(t *testing.T) {
	t.Parallel()
	on := keysOn | tokensOn
	secret := identitytest.NewSecret(t)
	a := newStreamAPI(t, streamSetup{opts: identityOptions(t, on, secret, time.Now)})
	e := a.createWith(bearerOf("admin"))
	token := func(sub string) string { return identitytest.Mint(t, secret, sub, time.Now().Add(time.Hour), "") }
	readers := map[string]http.Header{
		"anonymous":     nil,
		"holders:read":  {authorizationHeader: {bearerOf("reader")}},
		"seats:write":   {authorizationHeader: {bearerOf("seats")}},
		"alice's token": {buyerTokenHeader: {token("alice")}},
		"bob's token":   {buyerTokenHeader: {token("bob")}},
	}
	streams := map[string]*sseStream{}
	for name, h := range readers {
		streams[name] = a.open("/events/"+e.ID+"/stream", h)
		streams[name].snapshot()
	}
	for _, hold := range []application.CartRequest{
		{Event: e.ID, User: "alice", IDs: []string{seatOf(e, 1)}},
		{Event: e.ID, User: "carol", IDs: []string{seatOf(e, 2)}},
	} {
		if _, err := a.svc.HoldSeats(context.Background(), hold); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string][2]string{
		"anonymous":     {"", ""},
		"holders:read":  {"alice", "carol"},
		"seats:write":   {"", ""},
		"alice's token": {"alice", ""},
		"bob's token":   {"", ""},
	} {
		got, _ := streams[name].changes(2)
		if got[0].UUID != want[0] || got[1].UUID != want[1] {
			t.Errorf("%s sees holders %q and %q, want %q", name, got[0].UUID, got[1].UUID, want)
		}
	}
}

// createWith creates an event of 10 seats with the Authorization auth.
func (a *streamAPI) createWith(auth string) eventJSON {
	a.t.Helper()
	req := a.request(http.MethodPost, "/events/create", "application/json", `{"name":"Concert","totalSeats":10}`)
	req.Header.Set(authorizationHeader, auth)
	return decode[eventJSON](a.t, a.serve(req, `{"name":"Concert","totalSeats":10}`), http.StatusCreated)
}

// TestStreamBatchesChanges: a burst of changes comes in few messages, each
// change once and in order.
func TestStreamBatchesChanges(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{})
	e := a.createEvent(200)
	s := a.open("/events/"+e.ID+"/stream", nil)
	s.snapshot()
	const changes = 400
	for n := 1; n <= changes/2; n++ {
		a.cart(e, opHold, idsBody("u", seatOf(e, n)))
		a.cart(e, opRelease, idsBody("u", seatOf(e, n)))
	}
	var got []changeWire
	messages := 0
	for len(got) < changes {
		c, _ := s.message()
		got = append(got, c...)
		messages++
	}
	if len(got) != changes {
		t.Fatalf("%d changes, want %d", len(got), changes)
	}
	for i, c := range got {
		if want := i/2 + 1; c.Seat != want || c.Op != []string{"hold", "release"}[i%2] {
			t.Fatalf("change %d is %s of seat %d, want the %d-th of seat %d", i, c.Op, c.Seat, i%2+1, want)
		}
		if i > 0 && !snapshotBefore(got[i-1].Position, c.Position) {
			t.Fatalf("change %d at %s after %s", i, c.Position, got[i-1].Position)
		}
	}
	// One message per 100 ms at most: the changes of a burst that takes
	// far less than 100 ms per pair share messages.
	if messages > changes/2 {
		t.Errorf("%d changes came in %d messages", changes, messages)
	}
}

// TestStreamOutlivesTheServersTimeoutsAndEndsOnShutdown: a stream goes on
// past the server's write timeout, and stopping the module (SIGTERM) ends
// it at once, where Shutdown would otherwise wait for it.
func TestStreamOutlivesTheServersTimeoutsAndEndsOnShutdown(t *testing.T) {
	t.Parallel()
	var s *Server
	var svc *application.Service
	const writeTimeout = 50 * time.Millisecond
	app := fxtest.New(t,
		fx.Supply(Config{Addr: "127.0.0.1:0", ShutdownTimeout: time.Minute, WriteTimeout: writeTimeout}, zaptest.NewLogger(t)),
		fx.Provide(func(lc fx.Lifecycle) (*application.Service, *application.Feed) {
			store := memstore.New(time.Now)
			feed := application.NewFeed(store, zaptest.NewLogger(t), application.FeedConfig{})
			lc.Append(fx.StartStopHook(feed.Start, feed.Close))
			return application.NewService(store, defaultPolicy, application.WithFeed(feed)), feed
		}),
		fx.Provide(func() Metrics { return metrics.New() }),
		Module,
		fx.Populate(&s, &svc),
	)
	app.RequireStart()
	e, err := svc.CreateEvent(context.Background(), application.NewEvent{Name: "a", TotalSeats: 10})
	if err != nil {
		t.Fatal(err)
	}
	a := &streamAPI{testAPI: &testAPI{t: t}, url: "http://" + s.Addr().String()}
	st := a.open("/events/"+string(e.ID)+"/stream", nil)
	st.snapshot()
	// Let the server's write timeout pass: the stream's own deadlines
	// replace it.
	<-time.After(4 * writeTimeout)
	if _, err := svc.HoldSeats(context.Background(), application.CartRequest{Event: string(e.ID), User: "u", IDs: []string{string(e.ID) + ".1"}}); err != nil {
		t.Fatal(err)
	}
	st.changes(1)

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		app.RequireStop() // fails on a Shutdown that times out
	}()
	for {
		if _, err := st.read(); err != nil {
			break // the stream ended
		}
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown waits for the stream")
	}
}

// TestStreamDisconnectsASlowSubscriber: a subscriber that stops reading,
// behind small socket buffers, is disconnected once a write has waited
// streamWriteTimeout, and counted; the server keeps nothing of it.
func TestStreamDisconnectsASlowSubscriber(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{})
	e := a.createEvent(2000)
	s, closed := boundsServer(t, a.testAPI, Config{}, listingSocketBuffer)
	c := dialServer(t, s)
	if err := c.SetReadBuffer(listingSocketBuffer); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /events/"+e.ID+"/stream HTTP/1.1\r\nHost: stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream to start", func() bool { return a.feed.Subscribers() == 1 })
	// About 400 KB of changes, far more than the sockets hold.
	for i := range 300 {
		a.cart(e, opHold, bestRequest("buyer-"+strconv.Itoa(i), defaultPolicy.MaxSeats, false))
	}
	select {
	case <-closed:
	case <-time.After(streamWriteTimeout + 10*time.Second):
		t.Fatal("the stalled subscriber is still connected")
	}
	waitFor(t, "its handler to return", func() bool { return a.feed.Subscribers() == 0 })
	if m := a.get("/metrics").Body.String(); !strings.Contains(m, "\nstream_slow_subscribers_total 1\n") {
		t.Errorf("the slow subscriber is not counted:\n%s", m)
	}
}

// waitFor polls cond until it holds, for 10 s at most.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStreamHeartbeat: a quiet stream gets a heartbeat comment after
// heartbeatEvery, and nothing before it.
func TestStreamHeartbeat(t *testing.T) {
	t.Parallel()
	a := newStreamAPI(t, streamSetup{})
	e := a.createEvent(10)
	s := a.open("/events/"+e.ID+"/stream", nil)
	s.snapshot()
	start := time.Now()
	if m := s.next(); m.comment != "heartbeat" || m.event != "" {
		t.Fatalf("got %+v, want a heartbeat", m)
	}
	if took := time.Since(start); took < heartbeatEvery-time.Second {
		t.Errorf("a heartbeat %v after the last message, want %v", took, heartbeatEvery)
	}
}

// TestStreamEncodings: the kept encodings of a batch are those that
// appendChanges makes, in each form; subscribers that keep up, at
// different paces, share them (none is encoded for one subscriber); a
// subscriber that starts again further on, or one far behind, gets its
// own; what an event keeps stays bounded.
func TestStreamEncodings(t *testing.T) {
	t.Parallel()
	const e domain.EventID = "0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10"
	at := time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC)
	const records, perRound = 60_000, 37
	holder := func(n int) domain.UserID {
		if n%500 == 0 {
			return "alice"
		}
		return "carol"
	}
	all := make([]domain.Record, records)
	for n := range all {
		// Positions with gaps, as a stream's ids have.
		all[n] = domain.Record{Position: domain.Position{Ms: uint64(3 * n), Seq: uint64(n % 2)}, Op: domain.OpHold, At: at, Seats: []domain.Seat{
			{ID: domain.SeatID{Event: e, Number: n%100 + 1}, Status: domain.OnHold, Holder: holder(n), HoldExpiresAt: at.Add(time.Minute)},
			{ID: domain.SeatID{Event: e, Number: n%100 + 2}, Status: domain.OnHold, Holder: "bob", HoldExpiresAt: at.Add(time.Minute)},
		}}
	}
	se := newStreamEncodings()
	ee := se.acquire(e)
	identified := &caller{g: &guard{keys: (*identity.Keys)(nil)}}
	alice := &caller{g: identified.g, buyer: "alice"}
	// The sale makes perRound records a round; each subscriber writes what
	// came since its last message every few rounds.
	type sub struct {
		cl    *caller
		next  int // index of its next record
		every int // rounds between its messages
	}
	subs := []*sub{{nil, 0, 1}, {nil, 0, 3}, {identified, 0, 2}, {identified, 0, 5}, {alice, 0, 3}}
	shared, own := 0, 0
	check := func(s *sub, batch []domain.Record, after domain.Position) {
		t.Helper()
		got := se.pieces(ee, after, batch, s.cl)
		if got == nil {
			own++
			return
		}
		shared++
		if want := appendChanges(nil, batch, s.cl.seesHolder); !bytes.Equal(bytes.Join(got, nil), want) {
			t.Fatalf("records %s to %s for %+v: kept %.200s, want %.200s", batch[0].Position, batch[len(batch)-1].Position, s.cl, bytes.Join(got, nil), want)
		}
	}
	position := func(i int) domain.Position {
		if i == 0 {
			return domain.Position{}
		}
		return all[i-1].Position
	}
	for round := 1; ; round++ {
		head := min(records, round*perRound)
		done := true
		for _, s := range subs {
			if s.next < records {
				done = false
			}
			if round%s.every != 0 && head < records || s.next >= head {
				continue
			}
			check(s, all[s.next:head], position(s.next))
			s.next = head
		}
		if done {
			break
		}
		if round == 200 {
			// One starts again further on (a reset to a snapshot), one
			// goes back (it resumes from an old Last-Event-ID).
			subs[1].next += 500
			subs[2].next = 10
		}
	}
	t.Logf("%d batches shared, %d encoded for their subscriber alone", shared, own)
	if own == 0 || shared < 20*own {
		t.Errorf("%d batches shared, %d encoded for their subscriber alone: want the most shared, some not", shared, own)
	}
	for form, rs := range ee.forms {
		for _, r := range []*encodedRun{rs.cur, rs.prev} {
			if r != nil && len(r.data) > encodedRunBytes+64<<10 {
				t.Errorf("form %d keeps a run of %d bytes, want at most about %d", form, len(r.data), encodedRunBytes)
			}
		}
	}
	se.release(e)
	if len(se.events) != 0 {
		t.Errorf("%d events kept once their last subscriber went", len(se.events))
	}
}

// TestStreamChecksItsCredentialsAgain: a stream outlives no credential. A
// key taken out of the keys file (and the file read again, as SIGHUP does)
// and a buyer token past its expiry end their streams at the next message
// with a denied event, the refusal a new request with them gets, instead
// of showing holders on; a stream whose key is still in the file goes on.
func TestStreamChecksItsCredentialsAgain(t *testing.T) {
	t.Parallel()
	keysFile := identitytest.WriteKeys(t, testKeys...)
	keys, err := identity.LoadKeys(keysFile)
	if err != nil {
		t.Fatal(err)
	}
	secret := identitytest.NewSecret(t)
	var late atomic.Bool // the tokens' clock, two hours on
	tokens, err := identity.NewTokens(identity.TokenConfig{SecretFile: identitytest.WriteSecret(t, secret), Now: func() time.Time {
		if late.Load() {
			return time.Now().Add(2 * time.Hour)
		}
		return time.Now()
	}})
	if err != nil {
		t.Fatal(err)
	}
	a := newStreamAPI(t, streamSetup{opts: []Option{WithKeys(keys), WithBuyerTokens(tokens)}})
	e := a.createWith(bearerOf("admin"))
	open := func(h http.Header) *sseStream {
		s := a.open("/events/"+e.ID+"/stream", h)
		s.snapshot()
		return s
	}
	admin := open(http.Header{authorizationHeader: {bearerOf("admin")}})
	reader := open(http.Header{authorizationHeader: {bearerOf("reader")}})
	alice := open(http.Header{buyerTokenHeader: {identitytest.Mint(t, secret, "alice", time.Now().Add(time.Hour), "")}})
	hold := func(user string, n int) {
		t.Helper()
		if _, err := a.svc.HoldSeats(context.Background(), application.CartRequest{Event: e.ID, User: user, IDs: []string{seatOf(e, n)}}); err != nil {
			t.Fatal(err)
		}
	}
	hold("alice", 1)
	for name, s := range map[string]*sseStream{"admin": admin, "reader": reader, "alice": alice} {
		if got, _ := s.changes(1); got[0].UUID != "alice" {
			t.Fatalf("%s's stream shows holder %q, want alice", name, got[0].UUID)
		}
	}

	var kept []identitytest.Key
	for _, k := range testKeys {
		if k.Name != "reader" {
			kept = append(kept, k)
		}
	}
	if err := os.Rename(identitytest.WriteKeys(t, kept...), keysFile); err != nil {
		t.Fatal(err)
	}
	if err := keys.Reload(); err != nil {
		t.Fatal(err)
	}
	late.Store(true)
	hold("alice", 2)
	for name, want := range map[string]string{
		"reader": `{"error":"authentication required: unknown API key","code":"UNAUTHENTICATED"}`,
		"alice":  "INVALID_BUYER_TOKEN",
	} {
		s := map[string]*sseStream{"reader": reader, "alice": alice}[name]
		m := s.event()
		if m.event != "denied" || !strings.Contains(m.data, want) {
			t.Errorf("%s's stream after its credential went: %+v, want denied with %s", name, m, want)
		}
		if _, err := s.read(); !errors.Is(err, io.EOF) {
			t.Errorf("%s's stream after denied: %v, want its end", name, err)
		}
	}
	if got, _ := admin.changes(1); got[0].UUID != "alice" {
		t.Errorf("the stream of a key still in the file shows holder %q, want alice", got[0].UUID)
	}
}

// TestStreamsPerIP: a script that opens streams from one IP gets 429
// TOO_MANY_STREAMS past its cap, at once, and holds no more of the
// instance's streams; another IP still gets one, and a stream closed gives
// its IP its place back.
func TestStreamsPerIP(t *testing.T) {
	t.Parallel()
	const perIP = 3
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	a := newStreamAPI(t, streamSetup{opts: []Option{WithMaxStreamsPerIP(perIP), WithTrustedProxies(loopback)}})
	e := a.createEvent(10)
	path := "/events/" + e.ID + "/stream"
	from := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	open := func(ip string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, a.url+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header = from(ip)
		return streamClient.Do(req)
	}
	var script []*sseStream
	for range perIP {
		s := a.open(path, from("203.0.113.9"))
		s.snapshot()
		script = append(script, s)
	}
	for range 5 {
		resp, err := open("203.0.113.9")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), `"code":"TOO_MANY_STREAMS"`) {
			t.Fatalf("a stream past the IP's cap: %d, Retry-After %q, %s; want 429 TOO_MANY_STREAMS", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	a.open(path, from("198.51.100.4")).snapshot() // another IP

	// A stream closed: its IP may open one again, once the server has seen
	// it go.
	script[0].close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := open("203.0.113.9")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode == http.StatusOK {
			resp.Body.Close()
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the IP's place is not back 10 s after one of its streams closed: %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
