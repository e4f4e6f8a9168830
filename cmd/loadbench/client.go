package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Go clients of the benchmark (the sale, the preparation of events, the
// checks) share one HTTP client per server: keep-alive connections, enough
// of them for every concurrent caller, no compression and large buffers,
// so that the client costs the machine as little as it can.

// newHTTPClient returns a client for up to conns concurrent requests to one
// server.
func newHTTPClient(conns int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil, // loopback only
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          conns,
			MaxIdleConnsPerHost:   conns,
			MaxConnsPerHost:       conns,
			IdleConnTimeout:       time.Minute,
			DisableCompression:    true,
			ResponseHeaderTimeout: 30 * time.Second,
			WriteBufferSize:       16 << 10,
			ReadBufferSize:        64 << 10,
		},
		Timeout: time.Minute,
	}
}

// caller makes requests to one server for one goroutine: it reuses its
// buffer for every response body.
type caller struct {
	base   string
	client *http.Client
	buf    bytes.Buffer
	// requests counts the calls by status (0: no answer).
	requests map[int]int64
	// expired counts the holds a buyer lost to their TTL (sale.go).
	expired int
}

func newCaller(base string, client *http.Client) *caller {
	return &caller{base: base, client: client, requests: map[int]int64{}}
}

// do sends one request and returns its status; the body is in c.buf until
// the next call.
func (c *caller) do(ctx context.Context, method, path string, body []byte) (int, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.requests[0]++
		return 0, err
	}
	defer resp.Body.Close()
	c.buf.Reset()
	if _, err := c.buf.ReadFrom(resp.Body); err != nil {
		c.requests[0]++
		return 0, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	c.requests[resp.StatusCode]++
	return resp.StatusCode, nil
}

// expect sends one request that must answer want, and decodes its body
// into into (unless nil).
func (c *caller) expect(ctx context.Context, want int, method, path string, body []byte, into any) error {
	status, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, status, want, c.snippet())
	}
	if into != nil {
		if err := json.Unmarshal(c.buf.Bytes(), into); err != nil {
			return fmt.Errorf("%s %s: %w: %s", method, path, err, c.snippet())
		}
	}
	return nil
}

// snippet is the start of the last body, for error messages.
func (c *caller) snippet() string {
	b := c.buf.Bytes()
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}

// errorCode is the code of the last body, an error answer.
func (c *caller) errorCode() string {
	var e struct{ Code string }
	_ = json.Unmarshal(c.buf.Bytes(), &e)
	return e.Code
}

// apiSeat is a seat as the API answers it.
type apiSeat struct {
	ID            string `json:"id"`
	EventID       string `json:"eventId"`
	UUID          string `json:"UUID"`
	Status        string `json:"status"`
	HoldExpiresAt string `json:"holdExpiresAt"`
}

// number is the seat's number, from its id "<event>.<n>"; 0 if malformed.
func (s apiSeat) number() int {
	_, digits, _ := strings.Cut(s.ID, ".")
	n, _ := strconv.Atoi(digits)
	return n
}

// cartAnswer is the answer to the cart calls (hold, reserve, release).
type cartAnswer struct {
	Message string    `json:"message"`
	Seats   []apiSeat `json:"seats"`
}

// apiSummary is the answer of GET /events/{id}/summary.
type apiSummary struct {
	Total     int `json:"total"`
	Available int `json:"available"`
	OnHold    int `json:"onHold"`
	Reserved  int `json:"reserved"`
}

// Status names of the API.
const (
	statusAvailable = "Available"
	statusOnHold    = "On hold"
	statusReserved  = "Reserved"
)

// idsBody is a cart body {"UUID": user, "ids": [...]} for seats numbers of
// event.
func idsBody(user, event string, numbers []int) []byte {
	b := make([]byte, 0, 32+len(user)+len(numbers)*(len(event)+8))
	b = append(b, `{"UUID":`...)
	b = strconv.AppendQuote(b, user)
	b = append(b, `,"ids":[`...)
	for i, n := range numbers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, event...)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, '"')
	}
	return append(b, "]}"...)
}

// bestBody is a cart body asking the server to pick count seats.
func bestBody(user string, count int, adjacent bool) []byte {
	return fmt.Appendf(nil, `{"UUID":%q,"bestAvailable":{"count":%d,"adjacent":%t}}`, user, count, adjacent)
}

// listedSeats reads the numbers of the seats of event in a listing of GET
// /seats/list/{event}: every seat object starts with its id, and only seat
// ids are "<event>.<n>". It is much cheaper than decoding 10,000 objects,
// and the load generator shares the machine's CPUs with the service.
func listedSeats(body []byte, event string, into []int) []int {
	into = into[:0]
	marker := []byte(`"id":"` + event + `.`)
	for {
		i := bytes.Index(body, marker)
		if i < 0 {
			return into
		}
		body = body[i+len(marker):]
		n := 0
		for len(body) > 0 && '0' <= body[0] && body[0] <= '9' {
			n = n*10 + int(body[0]-'0')
			body = body[1:]
		}
		into = append(into, n)
	}
}
