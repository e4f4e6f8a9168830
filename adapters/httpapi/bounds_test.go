package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/domain"
)

// The HTTP bounds of issue #10, on a real server: every test here talks
// TCP, since the bounds live in net/http and the listener, below the
// router.

// boundsServer serves a's router with cfg (on a free port of localhost)
// until the test ends. closed receives a value each time the server closes
// a connection it served. sendBuffer, unless 0, is the size of the kernel's
// send buffer of each connection: Linux grows it up to megabytes, in which
// a whole listing fits, and the server's writes would then never wait for a
// slow client.
func boundsServer(t *testing.T, a *testAPI, cfg Config, sendBuffer int) (s *Server, closed <-chan struct{}) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s = NewServer(cfg, a.router, zaptest.NewLogger(t))
	c := make(chan struct{}, 16)
	s.http.ConnState = func(conn net.Conn, state http.ConnState) {
		if state == http.StateNew && sendBuffer != 0 {
			if err := conn.(*net.TCPConn).SetWriteBuffer(sendBuffer); err != nil {
				t.Error(err)
			}
		}
		if state == http.StateClosed {
			select {
			case c <- struct{}{}:
			default: // nobody waits for that many
			}
		}
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s, c
}

// dialServer opens a connection to s, closed when the test ends.
func dialServer(t *testing.T, s *Server) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// rawRoundTrip sends the raw request req on c and reads the answer's status,
// headers and body.
func rawRoundTrip(t *testing.T, c net.Conn, br *bufio.Reader, req string) (*http.Response, []byte) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("send: %v", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

// wantWireError fails t unless resp and body are the JSON error code.
func wantWireError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	var e struct{ Error, Code string }
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != "application/json" ||
		json.Unmarshal(body, &e) != nil || e.Code != code || e.Error == "" {
		t.Errorf("answer %d %s %s, want %d and a JSON %s", resp.StatusCode, resp.Header.Get("Content-Type"), body, status, code)
	}
	if err := spec.Components.Schemas["Error"].Value.VisitJSON(decodeAny(t, body)); err != nil {
		t.Errorf("error body %s does not match the Error schema: %v", body, err)
	}
}

// wantConnClosed fails t unless the server has closed c's connection: reading
// on gets nothing more.
func wantConnClosed(t *testing.T, br *bufio.Reader) {
	t.Helper()
	if n, err := br.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d more bytes on a connection the server should have closed", n)
	}
}

// requestOfSize is a GET of path whose request line and header block are
// size bytes on the wire, padded with headers of the given number.
func requestOfSize(path string, size, headers int) string {
	start := "GET " + path + " HTTP/1.1\r\nHost: bounds\r\n"
	var b strings.Builder
	b.WriteString(start)
	left := size - len(start) - len("\r\n")
	for i := range headers {
		name := fmt.Sprintf("X-Pad-%d: ", i)
		n := left / (headers - i) // this line's share of what is left
		b.WriteString(name + strings.Repeat("p", n-len(name)-len("\r\n")) + "\r\n")
		left -= n
	}
	b.WriteString("\r\n")
	return b.String()
}

func TestHeaderBlockBound(t *testing.T) {
	t.Parallel()
	s, _ := boundsServer(t, newAPI(t, defaultPolicy), Config{}, 0)
	tests := []struct {
		name    string
		size    int // of the request line and header block
		headers int
		want    int
		json    bool // the 431 is this API's JSON error
	}{
		{"16 KiB - 64 in one header", maxHeaderBytes - 64, 1, http.StatusOK, false},
		{"16 KiB - 64 in 200 headers", maxHeaderBytes - 64, 200, http.StatusOK, false},
		{"exactly 16 KiB", maxHeaderBytes, 3, http.StatusOK, false},
		{"16 KiB + 1", maxHeaderBytes + 1, 3, http.StatusRequestHeaderFieldsTooLarge, true},
		{"16 KiB + 64 in one header", maxHeaderBytes + 64, 1, http.StatusRequestHeaderFieldsTooLarge, true},
		{"16 KiB + 64 in 200 headers", maxHeaderBytes + 64, 200, http.StatusRequestHeaderFieldsTooLarge, true},
		// Up to net/http's slack past MaxHeaderBytes, the middleware answers.
		{"20 KiB - 64", maxHeaderBytes + 4096 - 64, 1, http.StatusRequestHeaderFieldsTooLarge, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dialServer(t, s)
			br := bufio.NewReader(c)
			req := requestOfSize("/healthz", tt.size, tt.headers)
			if len(req) != tt.size {
				t.Fatalf("request of %d bytes, want %d", len(req), tt.size)
			}
			resp, body := rawRoundTrip(t, c, br, req)
			if tt.json {
				wantWireError(t, resp, body, tt.want, "REQUEST_HEADERS_TOO_LARGE")
			} else if resp.StatusCode != tt.want {
				t.Errorf("status %d %s, want %d", resp.StatusCode, body, tt.want)
			}
		})
	}
}

// TestHugeHeaderBlockIsCutShort: a 1 MB header block is answered 431 once
// net/http has read MaxHeaderBytes and its slack, in plain text (net/http's
// own answer, which no middleware sees), and the connection is closed: the
// server does not read, let alone keep, the rest.
func TestHugeHeaderBlockIsCutShort(t *testing.T) {
	t.Parallel()
	s, _ := boundsServer(t, newAPI(t, defaultPolicy), Config{}, 0)
	c := dialServer(t, s)
	sent := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, requestOfSize("/healthz", 1<<20, 1))
		sent <- err
	}()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d %s, want 431", resp.StatusCode, body)
	}
	wantConnClosed(t, br)
	c.Close() // unblocks the sender, if the rest of the megabyte is still on its way
	<-sent
}

// TestMaxConns: with a cap of 2, two idle connections held open leave a
// third an immediate 503 TOO_MANY_CONNECTIONS, closed; once one of the two
// is closed, a new connection is served.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	s, closed := boundsServer(t, newAPI(t, defaultPolicy), Config{MaxConns: 2}, 0)
	const healthz = "GET /healthz HTTP/1.1\r\nHost: bounds\r\n\r\n"
	serve := func() net.Conn {
		t.Helper()
		c := dialServer(t, s)
		if resp, body := rawRoundTrip(t, c, bufio.NewReader(c), healthz); resp.StatusCode != http.StatusOK {
			t.Fatalf("within the cap: %d %s, want 200", resp.StatusCode, body)
		}
		return c // idle, kept alive
	}
	first, _ := serve(), serve()

	c := dialServer(t, s)
	br := bufio.NewReader(c)
	resp, body := rawRoundTrip(t, c, br, healthz)
	wantWireError(t, resp, body, http.StatusServiceUnavailable, "TOO_MANY_CONNECTIONS")
	if got := resp.Header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	if !resp.Close {
		t.Error("the refusal does not say Connection: close")
	}
	wantConnClosed(t, br)

	first.Close()
	<-closed // the server has closed its end: the place is free
	serve()
}

// TestLimitListenerFreesAPlaceOnce: a connection closed twice gives back
// one place, not two.
func TestLimitListenerFreesAPlaceOnce(t *testing.T) {
	t.Parallel()
	l := dialedListener(t, 2, func() {}, 2)
	defer l.Close()
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := l.open.Load(); got != 2 {
		t.Fatalf("%d open after two accepts, want 2", got)
	}
	a.Close()
	a.Close()
	if got := l.open.Load(); got != 1 {
		t.Errorf("%d open after one connection closed twice, want 1", got)
	}
}

// listingServer is a started server of an event of the most seats, all
// available, with small socket buffers, and the bytes of its listing.
func listingServer(t *testing.T, cfg Config) (s *Server, closed <-chan struct{}, path string, want []byte) {
	t.Helper()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(domain.MaxTotalSeats)
	numbers := make([]int, e.TotalSeats)
	for i := range numbers {
		numbers[i] = i + 1
	}
	want = encodeAvailableSeats(domain.Event{ID: domain.EventID(e.ID), Name: e.Name, TotalSeats: e.TotalSeats, SeatsPerRow: e.SeatsPerRow}, numbers)
	s, closed = boundsServer(t, a, cfg, listingSocketBuffer)
	return s, closed, "/seats/list/" + e.ID, want
}

// listingSocketBuffer is the size of the socket buffers of the listing's
// tests, far less than a listing.
const listingSocketBuffer = 32 << 10

// askListing sends GET path on a new connection to s with a small receive
// buffer.
func askListing(t *testing.T, s *Server, path, headers string) *net.TCPConn {
	t.Helper()
	c := dialServer(t, s)
	if err := c.SetReadBuffer(listingSocketBuffer); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: bounds\r\n"+headers+"\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestListingToASlowReader: a client that reads the listing in small
// pieces, through small socket buffers, so that the server's writes wait on
// it again and again, gets all of it, with its exact length.
func TestListingToASlowReader(t *testing.T) {
	t.Parallel()
	s, _, path, want := listingServer(t, Config{})
	c := askListing(t, s, path, "")
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 16), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body []byte
	piece := make([]byte, 100)
	for {
		n, err := resp.Body.Read(piece)
		body = append(body, piece[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(body), err)
		}
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Length") != strconv.Itoa(len(want)) || string(body) != string(want) {
		t.Errorf("status %d, Content-Length %s, %d bytes of body; want 200 and the %d bytes of the listing",
			resp.StatusCode, resp.Header.Get("Content-Length"), len(body), len(want))
	}
}

// TestListingToAStalledReader: a client that stops reading is cut off at
// the write deadline: its connection is closed with the listing unsent but
// for what the sockets' buffers took, and the server keeps none of it.
func TestListingToAStalledReader(t *testing.T) {
	t.Parallel()
	s, closed, path, want := listingServer(t, Config{WriteTimeout: 200 * time.Millisecond})
	// Connection: close, so that a listing written whole (which would be a
	// failure) does not leave the connection open.
	c := askListing(t, s, path, "Connection: close\r\n")
	<-closed                // the deadline has passed, and the server has given up
	got, _ := io.ReadAll(c) // what the sockets held, then the end (or a reset)
	if len(got) >= len(want) {
		t.Errorf("a client that stopped reading got %d bytes, the whole listing (%d bytes of body)", len(got), len(want))
	}
}

// TestLimitListenerCountsRefusals: each connection past the cap is
// reported once to the refusal counter (the metric
// http_connections_refused_total).
func TestLimitListenerCountsRefusals(t *testing.T) {
	t.Parallel()
	refused := make(chan struct{}, 4)
	l := dialedListener(t, 1, func() { refused <- struct{}{} }, 3)
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	done := make(chan error)
	go func() {
		_, err := l.Accept() // refuses the other two, then waits
		done <- err
	}()
	<-refused
	<-refused
	l.Close()
	if err := <-done; err == nil {
		t.Error("Accept after Close: no error")
	}
	if n := len(refused); n != 0 {
		t.Errorf("%d more refusals than the 2 connections past the cap", n)
	}
}

// dialedListener is a listener of loopback capped at limit, refusals
// reported to refused, with conns connections dialed to it (closed when
// the test ends) waiting to be accepted.
func dialedListener(t *testing.T, limit int, refused func(), conns int) *limitListener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := newLimitListener(inner, limit, refused)
	for range conns {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	return l
}
