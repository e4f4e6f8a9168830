package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seatres/reservation/api/client"
)

// The Go clients of the benchmark (the sale, the preparation of events, the
// checks) call the service through its generated client (api/client), so
// that every run proves it, and share one HTTP client per server:
// keep-alive connections, enough of them for every concurrent caller, no
// compression and large buffers, so that the client costs the machine as
// little as it can.

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

// newAPI is the generated client of the service at base, sending its
// requests with doer. (client.NewClientWithResponses does the same, with an
// error return that no option here can produce.)
func newAPI(base string, doer client.HttpRequestDoer) *client.ClientWithResponses {
	return &client.ClientWithResponses{ClientInterface: &client.Client{Server: base + "/", Client: doer}}
}

// caller makes requests to one server for one goroutine, through the
// generated client on a shared HTTP client, and counts them.
type caller struct {
	api *client.ClientWithResponses
	hc  *http.Client
	// listed is the body of the last listing, reused (see list).
	listed bytes.Buffer
	// requests counts the calls by status (0: no answer).
	requests map[int]int64
	// expired counts the holds a buyer lost to their TTL (sale.go).
	expired int
}

func newCaller(base string, hc *http.Client) *caller {
	c := &caller{hc: hc, requests: map[int]int64{}}
	c.api = newAPI(base, c)
	return c
}

// Do sends a request of the generated client and counts its answer.
func (c *caller) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		c.requests[0]++
		return nil, err
	}
	c.requests[resp.StatusCode]++
	return resp, nil
}

// answer is what the flows look at in an answer of the generated client.
type answer interface {
	StatusCode() int
	Bytes() []byte
}

// unexpected is the error of an answer a flow has no use for.
func unexpected(a answer) error {
	return fmt.Errorf("status %d: %s", a.StatusCode(), snippet(a.Bytes()))
}

// snippet is the start of a body, for error messages.
func snippet(b []byte) string {
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}

// listing is an answer to GET /seats/list/{id}, left undecoded for
// listedSeats.
type listing struct {
	status int
	body   []byte // the caller's buffer, until its next listing
}

func (l listing) StatusCode() int { return l.status }
func (l listing) Bytes() []byte   { return l.body }

// list lists the available seats of event. A list that the service sheds
// at its cap (503 TOO_MANY_LISTS, RESERVATION_HTTP_MAX_LISTS) is asked
// again after its Retry-After, as a seat map would, while ctx lasts.
func (c *caller) list(ctx context.Context, event string) (listing, error) {
	for {
		resp, err := c.api.ListAvailableSeats(ctx, event, nil)
		if err != nil {
			return listing{}, err
		}
		c.listed.Reset()
		_, err = c.listed.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			return listing{}, fmt.Errorf("list the seats of %s: reading the answer: %w", event, err)
		}
		l := listing{status: resp.StatusCode, body: c.listed.Bytes()}
		if l.status != http.StatusServiceUnavailable || !bytes.Contains(l.body, []byte(`"code":"`+client.TOOMANYLISTS+`"`)) {
			return l, nil
		}
		wait := time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			wait = time.Duration(s) * time.Second
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return listing{}, ctx.Err()
		}
	}
}

// seatID is the id of seat n of event.
func seatID(event string, n int) string { return event + "." + strconv.Itoa(n) }

// seatIDs are the ids of the seats numbers of event.
func seatIDs(event string, numbers []int) client.SeatIDs {
	ids := make(client.SeatIDs, len(numbers))
	for i, n := range numbers {
		ids[i] = seatID(event, n)
	}
	return ids
}

// seatNumber is the seat's number, from its id "<event>.<n>"; 0 if
// malformed.
func seatNumber(s client.Seat) int {
	_, digits, _ := strings.Cut(s.ID, ".")
	n, _ := strconv.Atoi(digits)
	return n
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
