package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/domain"
)

// StreamChange is one change of a seat as the stream tells it.
type StreamChange struct {
	Position string    `json:"position"`
	Op       string    `json:"op"`
	At       time.Time `json:"at"`
	Seat     int       `json:"seat"` // its number in the event
	UUID     string    `json:"UUID"`
	Status   string    `json:"status"`
}

// Subscriber follows the stream of an event as a seat map does: first its
// snapshot, then its changes, and after a lost connection the changes after
// the last id it saw, through the next of its instances (a load balancer
// that sends it elsewhere).
type Subscriber struct {
	event     string
	instances []string
	cancel    context.CancelFunc
	done      chan struct{}

	mu         sync.Mutex
	start      string         // the position of its first snapshot
	snapshots  int            // snapshots received: more than one is a reset
	changes    []StreamChange // in the order received
	last       string         // the id of the last message
	reconnects int
}

// Subscribe starts a subscriber of event through instances, the first one
// first; Stop ends it.
func Subscribe(t testing.TB, event string, instances ...string) *Subscriber {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscriber{event: event, instances: instances, cancel: cancel, done: make(chan struct{})}
	go s.run(ctx)
	t.Cleanup(s.Stop)
	return s
}

// Stop ends the subscriber and waits for it.
func (s *Subscriber) Stop() {
	s.cancel()
	<-s.done
}

// retryEvery is how long a subscriber waits before it connects again:
// shorter than the stream's own retry hint, to keep tests short.
const retryEvery = 50 * time.Millisecond

func (s *Subscriber) run(ctx context.Context) {
	defer close(s.done)
	for i := 0; ctx.Err() == nil; i++ {
		s.follow(ctx, s.instances[i%len(s.instances)])
		s.mu.Lock()
		s.reconnects++
		s.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(retryEvery):
		}
	}
}

// follow reads one connection's stream until it ends.
func (s *Subscriber) follow(ctx context.Context, base string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events/"+s.event+"/stream", nil)
	if err != nil {
		return
	}
	req.Header.Set("Accept", "text/event-stream")
	s.mu.Lock()
	if s.last != "" {
		req.Header.Set("Last-Event-ID", s.last)
	}
	s.mu.Unlock()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	r := bufio.NewReaderSize(resp.Body, 1<<16)
	var id, event string
	var data strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if data.Len() > 0 {
				s.take(id, event, data.String())
			}
			id, event = "", ""
			data.Reset()
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

// take keeps one message.
func (s *Subscriber) take(id, event, data string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch event {
	case "snapshot":
		var m struct {
			Position string `json:"position"`
		}
		if json.Unmarshal([]byte(data), &m) == nil {
			if s.snapshots == 0 {
				s.start = m.Position
			}
			s.snapshots++
		}
	case "changes":
		var m struct {
			Changes []StreamChange `json:"changes"`
		}
		if json.Unmarshal([]byte(data), &m) == nil {
			s.changes = append(s.changes, m.Changes...)
		}
	}
	if id != "" {
		s.last = id
	}
}

// Last returns the id of the last message the subscriber took.
func (s *Subscriber) Last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Taken counts the changes the subscriber took.
func (s *Subscriber) Taken() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.changes)
}

// Reconnects counts the connections that ended (a resume follows each).
func (s *Subscriber) Reconnects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reconnects
}

// WaitFor waits until every subscriber has taken the stream up to the last
// record of event in Redis now, or fails the test.
func WaitFor(t testing.TB, rc rueidis.Client, event string, subs ...*Subscriber) {
	t.Helper()
	last := lastRecord(t, rc, event)
	deadline := time.Now().Add(waitTimeout)
	behind := func(s *Subscriber) bool {
		at, err := domain.ParsePosition(s.Last())
		return err != nil || at.Before(last)
	}
	for _, s := range subs {
		for behind(s) {
			if time.Now().After(deadline) {
				t.Fatalf("a subscriber of %s is at %q, the stream at %q", event, s.Last(), last)
			}
			time.Sleep(10 * time.Millisecond) // polled, with the deadline above
		}
	}
}

// Missed compares what a subscriber took with the records of its event in
// Redis after its first snapshot and up to its last message: every change
// exactly once, in the order of the records. It returns what is wrong, ""
// if nothing.
func (s *Subscriber) Missed(t testing.TB, rc rueidis.Client) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snapshots != 1 {
		return fmt.Sprintf("%d snapshots: the stream was reset, which nothing trimmed", s.snapshots)
	}
	key := "rsv:{" + s.event + "}:changes"
	entries, err := rc.Do(context.Background(), rc.B().Xrange().Key(key).Start("("+s.start).End(s.last).Build()).AsXRange()
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	var want []string
	for _, e := range entries {
		for _, part := range recordParts(e) {
			for i := 0; i+1 < len(part.seats); i += 2 {
				want = append(want, e.ID+" "+s.event+"."+part.seats[i])
			}
		}
	}
	got := make([]string, len(s.changes))
	for i, c := range s.changes {
		got[i] = c.Position + " " + s.event + "." + strconv.Itoa(c.Seat)
	}
	if slices.Equal(got, want) {
		return ""
	}
	i := 0
	for i < min(len(got), len(want)) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("took %d changes, the stream has %d after %s; they differ from the %dth: took %q, want %q",
		len(got), len(want), s.start, i+1, got[i:min(len(got), i+3)], want[i:min(len(want), i+3)])
}

// lastRecord is the position of the last record of event in Redis.
func lastRecord(t testing.TB, rc rueidis.Client, event string) domain.Position {
	t.Helper()
	key := "rsv:{" + event + "}:changes"
	entries, err := rc.Do(context.Background(), rc.B().Xrevrange().Key(key).End("+").Start("-").Count(1).Build()).AsXRange()
	if err != nil || len(entries) == 0 {
		t.Fatalf("read the last record of %s: %v (%d)", key, err, len(entries))
	}
	at, err := domain.ParsePosition(entries[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
