// Package harness is what the system tests under tests/ share: service
// instances in this process over a real store, a client of the HTTP API
// that reports every answer as it came, and checks of the state an event
// leaves in Redis.
package harness

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// requestTimeout bounds every request of the client: a service that takes
// longer hangs, which the tests count as a failure.
const requestTimeout = 10 * time.Second

// The paths of the seat changes.
const (
	HoldPath    = "/seats/hold"
	RefreshPath = "/seats/refresh"
	ReservePath = "/seats/reserve"
)

// The changes of a buyer's cart, each POST /events/{id}/<op>.
const (
	CartHold    = "hold"
	CartRefresh = "refresh"
	CartReserve = "reserve"
	CartRelease = "release"
)

// Client calls the API of any number of service instances over keep-alive
// connections.
type Client struct {
	http *http.Client
}

// NewClient returns a client whose idle connections close when the test
// ends.
func NewClient(t testing.TB) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1024, // one per goroutine of the heaviest test
		IdleConnTimeout:     time.Minute,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &Client{http: &http.Client{Transport: tr, Timeout: requestTimeout}}
}

// Seat is a seat as the API shows it.
type Seat struct {
	ID            string     `json:"id"`
	EventID       string     `json:"eventId"`
	UUID          string     `json:"UUID"`
	Status        string     `json:"status"`
	HoldExpiresAt *time.Time `json:"holdExpiresAt"`
}

// Event is an event as the API shows it.
type Event struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	TotalSeats  int    `json:"totalSeats"`
	SeatsPerRow int    `json:"seatsPerRow"`
}

// Summary is an event's counts as the API shows them.
type Summary struct {
	Total     int `json:"total"`
	Available int `json:"available"`
	OnHold    int `json:"onHold"`
	Reserved  int `json:"reserved"`
}

// CartRequest is the body of a cart change: the buyer, and the seats ids
// (left out when nil) or, for a hold, the best available ones.
type CartRequest struct {
	UUID          string         `json:"UUID"`
	IDs           []string       `json:"ids,omitempty"`
	BestAvailable *BestAvailable `json:"bestAvailable,omitempty"`
}

// BestAvailable asks the server to pick the seats of a hold.
type BestAvailable struct {
	Count    int  `json:"count"`
	Adjacent bool `json:"adjacent"`
}

// Answer is what a request got. Err is set when no HTTP answer came (the
// connection failed or the request timed out); otherwise Status is the HTTP
// status, RequestID the instance's id of the request, RetryAfter its
// Retry-After header, Code, Message and Named the error body's fields (Named
// the ids of the seats a cart's refusal names), and Seat, Seats, Event or
// Summary the success body's.
type Answer struct {
	Err        error
	Status     int
	Code       string
	Message    string
	Named      []string
	RequestID  string
	RetryAfter string
	Seat       Seat
	Seats      []Seat
	Event      Event
	Summary    Summary
	Took       time.Duration
}

func (a Answer) String() string {
	switch {
	case a.Err != nil:
		return "no answer: " + a.Err.Error()
	case a.Code != "":
		return fmt.Sprintf("%d %s (%s)", a.Status, a.Code, a.Message)
	case len(a.Seats) > 2:
		return fmt.Sprintf("%d %+v and %d more seats", a.Status, a.Seats[:2], len(a.Seats)-2)
	case a.Seats != nil:
		return fmt.Sprintf("%d %+v", a.Status, a.Seats)
	}
	return fmt.Sprintf("%d %+v", a.Status, a.Seat)
}

// OK reports a 2xx answer.
func (a Answer) OK() bool { return a.Err == nil && a.Status >= 200 && a.Status < 300 }

// Change posts a hold, refresh or reserve of seat by user to the instance at
// base; path is one of HoldPath, RefreshPath and ReservePath.
func (c *Client) Change(ctx context.Context, base, path, seat, user string) Answer {
	body, _ := json.Marshal(map[string]string{"id": seat, "UUID": user})
	var reply struct {
		Seat Seat `json:"seat"`
	}
	a := c.do(ctx, http.MethodPost, base+path, body, &reply)
	a.Seat = reply.Seat
	return a
}

// Cart posts a change of a buyer's cart in event to the instance at base:
// op is one of CartHold, CartRefresh, CartReserve and CartRelease. With
// idemKey not empty, it is sent as the Idempotency-Key. A 200's seats are
// in Answer.Seats, never nil.
func (c *Client) Cart(ctx context.Context, base, event, op string, r CartRequest, idemKey string) Answer {
	body, _ := json.Marshal(r)
	var reply struct {
		Message string `json:"message"`
		Seats   []Seat `json:"seats"`
	}
	var header http.Header
	if idemKey != "" {
		header = http.Header{"Idempotency-Key": {idemKey}}
	}
	a := c.send(ctx, http.MethodPost, base+"/events/"+event+"/"+op, "application/json", header, body, &reply)
	if a.OK() {
		a.Seats = reply.Seats
		if a.Seats == nil || reply.Message == "" {
			a.Err = fmt.Errorf("status %d without a message and seats", a.Status)
		}
	}
	return a
}

// Summary gets the counts of an event's seats.
func (c *Client) Summary(ctx context.Context, base, event string) Answer {
	var reply Summary
	a := c.do(ctx, http.MethodGet, base+"/events/"+event+"/summary", nil, &reply)
	a.Summary = reply
	return a
}

// Seat gets a seat.
func (c *Client) Seat(ctx context.Context, base, id string) Answer {
	var reply Seat
	a := c.do(ctx, http.MethodGet, base+"/seats/get/"+id, nil, &reply)
	a.Seat = reply
	return a
}

// List lists the available seats of an event.
func (c *Client) List(ctx context.Context, base, event string) Answer {
	var reply struct {
		Event Event  `json:"event"`
		Seats []Seat `json:"seats"`
	}
	a := c.do(ctx, http.MethodGet, base+"/seats/list/"+event, nil, &reply)
	a.Seats, a.Event = reply.Seats, reply.Event
	return a
}

// CreateEvent creates an event of seats seats in one row, failing the
// test unless it succeeds.
func (c *Client) CreateEvent(t testing.TB, base string, seats int) Event {
	t.Helper()
	return c.CreateEventRows(t, base, seats, 0)
}

// CreateEventRows creates an event of seats seats in rows of perRow (one
// row if 0), failing the test unless it succeeds.
func (c *Client) CreateEventRows(t testing.TB, base string, seats, perRow int) Event {
	t.Helper()
	req := map[string]any{"name": "Test " + t.Name(), "totalSeats": seats}
	if perRow != 0 {
		req["seatsPerRow"] = perRow
	}
	body, _ := json.Marshal(req)
	var e Event
	if a := c.do(t.Context(), http.MethodPost, base+"/events/create", body, &e); a.Status != http.StatusCreated {
		t.Fatalf("create event: %v", a)
	}
	if e.TotalSeats != seats || e.SeatsPerRow != cmp.Or(perRow, seats) {
		t.Fatalf("created %+v, want %d seats in rows of %d", e, seats, cmp.Or(perRow, seats))
	}
	return e
}

// Get gets any path, for requests the other methods cannot make.
func (c *Client) Get(ctx context.Context, base, path string) Answer {
	return c.send(ctx, http.MethodGet, base+path, "", nil, nil, nil)
}

func (c *Client) do(ctx context.Context, method, url string, body []byte, reply any) Answer {
	contentType := ""
	if body != nil {
		contentType = "application/json"
	}
	return c.send(ctx, method, url, contentType, nil, body, reply)
}

// send makes one request with the headers header and decodes a 2xx body
// into reply, or an error body into the answer. A body of neither shape is
// an error of the answer.
func (c *Client) send(ctx context.Context, method, url, contentType string, header http.Header, body []byte, reply any) Answer {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return Answer{Err: err}
	}
	for name, values := range header {
		req.Header[name] = values
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Answer{Err: err, Took: time.Since(start)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	a := Answer{
		Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-ID"),
		RetryAfter: resp.Header.Get("Retry-After"), Took: time.Since(start),
	}
	if err != nil {
		a.Err = err
		return a
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		a.Err = fmt.Errorf("status %d with Content-Type %q: %q", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		return a
	}
	if a.OK() {
		if reply != nil {
			if err := json.Unmarshal(raw, reply); err != nil {
				a.Err = fmt.Errorf("status %d, body %q: %w", resp.StatusCode, raw, err)
			}
		}
		return a
	}
	var e struct {
		Error, Code string
		Seats       []string
	}
	if err := json.Unmarshal(raw, &e); err != nil || e.Code == "" || e.Error == "" {
		a.Err = fmt.Errorf("status %d without an error body: %q", resp.StatusCode, raw)
	}
	a.Code, a.Message, a.Named = e.Code, e.Error, e.Seats
	return a
}
