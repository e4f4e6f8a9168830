package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/api/client"
	"github.com/seatres/reservation/domain"
)

// The stream (issue #11): N subscribers of one 10,000-seat event listen to
// GET /events/{id}/stream on one instance (standalone Redis) while a sale
// makes thousands of changes a second on that event through the same
// instance. Each size runs once, on an instance of its own, so that the
// peak of its memory (VmHWM) is that run's. The subscribers connect and
// read their snapshots before the sale starts; the sale's clients are
// buyers of carts, as in a real sale (issue #9): each holds a cart of
// streamCart seats of its own at a time (POST /events/{id}/hold) and
// releases it (POST /events/{id}/release), or every streamReserveEvery-th
// one reserves it (POST /events/{id}/reserve), paced to -stream-rate
// changes (seats) a second in all.
// When the sale is over, the event's history (GET /events/{id}/changes,
// page after page) is what every subscriber must have seen since its
// snapshot: the same changes, each once, in order (sse.go checks the order
// as they come, and that a record's seats come in one message). A change's
// lag is its arrival at the subscriber less its store time; both clocks
// are this machine's.

// streamClients is the sale's clients; streamCart, the seats of their
// carts; streamReserveEvery, how often a client reserves the cart it holds
// rather than releasing it.
const (
	streamClients      = 256
	streamCart         = 4
	streamReserveEvery = 16
)

// Bounds of a stream run: its subscribers' connections and snapshots, and
// the wait for them to see the sale's last change.
const (
	streamDialsAtOnce = 100
	streamReady       = time.Minute
	streamCatchUp     = 30 * time.Second
	streamPage        = 1000 // changes per page of the history, the most it gives
	streamReadBuffer  = 16 << 10
	// A subscriber disconnected resumes after streamRetry (the stream's
	// retry: hint), streamResumes times at most.
	streamRetry   = 2 * time.Second
	streamResumes = 5
)

// serviceMaxStreams is the service's default for both
// RESERVATION_HTTP_MAX_CONNS and RESERVATION_STREAM_MAX_SUBSCRIBERS; a run
// that needs more raises them.
const serviceMaxStreams = 10_000

// streamRun is one run of the stream.
type streamRun struct {
	subscribers int
	followed    int      // other events the instance followed meanwhile (streamSetup)
	topology    string   // Redis's
	settings    []string // of its instance, beyond the defaults
	changes     int      // recorded after the snapshots
	records     int
	span        time.Duration // from the first change's store time to the last's
	sale        time.Duration
	requests    map[int]int64
	messages    int64 // received, all subscribers
	bytes       int64
	lags        *lagHistogram // of every change received, all subscribers
	peakRSS     int64         // the instance's VmHWM, bytes
	// cpu is the CPU time of the instance and of loadbench (the
	// subscribers and the sale's clients) from the sale's start until every
	// subscriber saw its last change, window.
	cpu      [2]time.Duration
	window   time.Duration
	failed   int      // subscribers that did not see every change once, in order
	problems []string // the first few
	resumed  int      // subscribers disconnected, that resumed
	resumes  int
	behind   int // subscribers not at the last change streamCatchUp after the sale
}

// changeRate is the changes per second, from the records' store times.
func (r streamRun) changeRate() float64 {
	if r.span <= 0 {
		return 0
	}
	return float64(r.changes) / r.span.Seconds()
}

func (r streamRun) messageRate() float64 { return float64(r.messages) / r.sale.Seconds() }

func (r streamRun) String() string {
	s := fmt.Sprintf("stream %5d subscribers: %6.0f changes/s (%d changes, %d records, in %.2f s), lag p50 %.0f ms p99 %.0f ms max %.0f ms, %6.0f messages/s, %.0f MB/s, peak RSS %.0f MB, CPUs: instance %.2f, loadbench %.2f, over %.1f s, sale %s",
		r.subscribers, r.changeRate(), r.changes, r.records, r.span.Seconds(), r.lags.percentile(0.5), r.lags.percentile(0.99),
		float64(r.lags.max)/1000, r.messageRate(), float64(r.bytes)/r.sale.Seconds()/1e6, float64(r.peakRSS)/(1<<20), r.cpuShare(0), r.cpuShare(1), r.window.Seconds(), statusCounts(r.requests))
	if r.resumed > 0 {
		s += fmt.Sprintf("; %d subscribers disconnected, %d resumes", r.resumed, r.resumes)
	}
	if r.behind > 0 {
		s += fmt.Sprintf("; %d subscribers behind after %v", r.behind, streamCatchUp)
	}
	if r.failed > 0 {
		s += fmt.Sprintf("; %d subscribers FAILED: %v", r.failed, r.problems)
	}
	return s
}

// failure says what is wrong with the run, "" if nothing.
func (r streamRun) failure() string {
	var parts []string
	if r.failed > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d subscribers did not see every change once, in order", r.failed, r.subscribers))
	}
	// Beyond the size, a subscriber that cannot keep up is
	// disconnected by design, and resumes, or lags: the report shows them.
	if r.subscribers <= streamTargetSubscribers {
		if r.resumed > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d subscribers were disconnected (and resumed)", r.resumed, r.subscribers))
		}
		if r.behind > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d subscribers had not seen the last change %v after the sale", r.behind, r.subscribers, streamCatchUp))
		}
	}
	for status := range r.requests {
		if status != http.StatusOK && status != http.StatusServiceUnavailable || r.requests[http.StatusOK] == 0 {
			parts = append(parts, "the sale's answers: want 200 (or 503, sent again), got "+statusCounts(r.requests))
			break
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("stream, %d subscribers: %v %v", r.subscribers, parts, r.problems)
}

// runStreams runs the stream once for each count of subscribers in
// o.subscribers, on standalone Redis, then, unless o.streamFollowed is 0,
// once on the cluster while the instance follows that many other events.
func runStreams(ctx context.Context, o options) (runs []streamRun, followed *streamRun, err error) {
	sizes, err := counts(o.subscribers)
	if err != nil {
		return nil, nil, fmt.Errorf("-subscribers: %w", err)
	}
	if len(sizes) == 0 && o.streamFollowed == 0 {
		return nil, nil, nil
	}
	if err := raiseFileLimit(); err != nil {
		return nil, nil, err
	}
	if len(sizes) > 0 {
		if runs, err = streamRuns(ctx, o, sizes); err != nil {
			return runs, nil, err
		}
	}
	if o.streamFollowed == 0 {
		return runs, nil, nil
	}
	redisAddrs, dir, done, err := redisRun("stream-followed", redistest.StartCluster)
	if err != nil {
		return runs, nil, err
	}
	defer done()
	run, err := streamOnce(ctx, o, dir, redisAddrs, streamSetup{subscribers: followedSubscribers, followed: o.streamFollowed, rate: followedRate, topology: "cluster"})
	if err != nil {
		return runs, nil, fmt.Errorf("stream, %d other events followed: %w", o.streamFollowed, err)
	}
	fmt.Println(run)
	return runs, &run, nil
}

// streamRuns runs the stream once for each count of subscribers of sizes,
// on one standalone Redis.
func streamRuns(ctx context.Context, o options, sizes []int) (runs []streamRun, err error) {
	redisAddr, dir, done, err := standaloneRun("stream")
	if err != nil {
		return nil, err
	}
	defer done()
	for _, n := range sizes {
		run, err := streamOnce(ctx, o, dir, redisAddr, streamSetup{subscribers: n, rate: o.streamRate, topology: "standalone"})
		if err != nil {
			return runs, fmt.Errorf("stream, %d subscribers: %w", n, err)
		}
		fmt.Println(run)
		runs = append(runs, run)
	}
	return runs, nil
}

// The run beside other events followed: few subscribers of the sale's
// event, and a sale slow enough that its figures are the follower's, not
// the machine's limit, while each other event has one subscriber and no
// change, as the seat maps of a day's other events would.
const (
	followedSubscribers = 100
	followedRate        = 1000 // changes/s
)

// streamSetup is what a run of the stream is made of.
type streamSetup struct {
	subscribers int // of the sale's event
	// followed is the other events, one subscriber each, that the
	// instance follows meanwhile.
	followed int
	rate     int    // the sale's changes a second
	topology string // Redis's: standalone or cluster
}

// streamOnce runs a stream of st on an instance of its own.
func streamOnce(ctx context.Context, o options, dir, redisAddrs string, st streamSetup) (run streamRun, err error) {
	n := st.subscribers
	run = streamRun{subscribers: n, followed: st.followed, topology: st.topology}
	if need := n + st.followed + streamClients + 100; need > serviceMaxStreams {
		run.settings = []string{"RESERVATION_HTTP_MAX_CONNS=" + strconv.Itoa(need), "RESERVATION_STREAM_MAX_SUBSCRIBERS=" + strconv.Itoa(need)}
	}
	if o.streamEnv != "" {
		run.settings = append(run.settings, strings.Split(o.streamEnv, ",")...)
	}
	name := fmt.Sprintf("stream-%d", n)
	if st.followed > 0 {
		name += fmt.Sprintf("-followed-%d", st.followed)
	}
	svc, err := startService(ctx, o, dir, name, redisAddrs, run.settings...)
	if err != nil {
		return run, err
	}
	defer func() { err = errors.Join(err, svc.stop()) }()
	events, err := svc.createEvents(ctx, 1+st.followed, createBody)
	if err != nil {
		return run, err
	}
	event := events[0]
	if st.followed > 0 {
		// Their subscribers only make the instance follow their events:
		// nothing changes there, and nothing of theirs is judged.
		_, stopOthers, err := subscribe(ctx, svc, events[1:])
		if err != nil {
			return run, fmt.Errorf("the other events' subscribers: %w", err)
		}
		defer stopOthers()
	}

	subs, stop, err := subscribe(ctx, svc, slices.Repeat([]string{event}, n))
	if err != nil {
		return run, err
	}
	defer stop()
	noteLoad()
	cpu, err := cpuTimes(svc)
	if err != nil {
		return run, err
	}
	start := time.Now()
	run.requests, run.sale, err = streamSale(ctx, svc, event, st.rate, o.streamDuration)
	if err != nil {
		return run, err
	}
	from := subs[0].snapshot()
	for _, l := range subs {
		if p := l.snapshot(); p.Before(from) {
			from = p
		}
	}
	hist, err := history(ctx, svc, event, from)
	if err != nil {
		return run, err
	}
	catchUp(ctx, subs, hist.last())
	run.window = time.Since(start)
	end, err := cpuTimes(svc)
	stop()
	if err != nil {
		return run, err
	}
	run.cpu = [2]time.Duration{end[0] - cpu[0], end[1] - cpu[1]}
	if run.peakRSS, err = peakRSS(svc.cmd.Process.Pid); err != nil {
		return run, err
	}
	hist.judge(&run, subs)
	return run, nil
}

// cpuTimes are the CPU times of srv and of loadbench.
func cpuTimes(srv *server) ([2]time.Duration, error) {
	var t [2]time.Duration
	var err error
	for i, pid := range []int{srv.cmd.Process.Pid, os.Getpid()} {
		if t[i], err = cpuTime(pid); err != nil {
			return t, err
		}
	}
	return t, nil
}

// cpuShare is a CPU time over the run's window, in CPUs.
func (r streamRun) cpuShare(i int) float64 { return r.cpu[i].Seconds() / r.window.Seconds() }

// listener is one subscriber's connection and its end.
type listener struct {
	sub   subscriber
	ended atomic.Bool // its stream ended
	early bool        // before the run stopped it
	err   error       // why it ended
}

// subscribe connects a subscriber to the stream of each of events (an
// event given n times has n) and waits for their snapshots; stop
// disconnects them and waits for their readers.
func subscribe(ctx context.Context, srv *server, events []string) ([]*listener, func(), error) {
	n := len(events)
	ctx, cancel := context.WithCancel(ctx)
	hc := &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: -1, // none is used again
		DisableCompression:  true,
		// A stream answers its headers at once, then lasts.
		ResponseHeaderTimeout: 30 * time.Second,
	}}
	var (
		stopping atomic.Bool
		wg       sync.WaitGroup
		dials    = make(chan struct{}, streamDialsAtOnce)
		subs     = make([]*listener, n)
	)
	for i, event := range events {
		l := &listener{}
		subs[i] = l
		wg.Go(func() {
			l.err = listen(ctx, hc, srv.url("/events/"+event+"/stream"), &l.sub, dials)
			l.early = !stopping.Load()
			l.ended.Store(true)
		})
	}
	stop := sync.OnceFunc(func() {
		stopping.Store(true)
		cancel()
		wg.Wait()
		hc.CloseIdleConnections()
	})
	deadline := time.Now().Add(streamReady)
	for {
		ready := 0
		for i, l := range subs {
			if l.ended.Load() {
				stop()
				return nil, nil, fmt.Errorf("subscriber %d: ended before its snapshot: %v", i, l.err)
			}
			if snapped, _ := l.sub.progress.get(); snapped {
				ready++
			}
		}
		if ready == n {
			return subs, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("%d of %d subscribers had their snapshot after %v", ready, n, streamReady)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// snapshot is the position of the listener's snapshot, once it has had it.
func (l *listener) snapshot() domain.Position {
	l.sub.progress.mu.Lock()
	defer l.sub.progress.mu.Unlock()
	return l.sub.progress.snapshot
}

// listen reads one subscriber's stream until the run stops it or it is
// wrong. A connection that ends (the instance disconnects a subscriber
// that cannot keep up) is made again after the stream's retry: hint, with
// Last-Event-ID, as EventSource does, streamResumes times at most; dials
// bounds the connections being made at once, more than a listen backlog
// takes.
func listen(ctx context.Context, hc *http.Client, url string, s *subscriber, dials chan struct{}) error {
	for {
		err := connect(ctx, hc, url, s, dials)
		if ctx.Err() != nil || errors.Is(err, errStreamProblem) || !s.snapped || s.resumes == streamResumes {
			return err
		}
		s.resumes++
		select {
		case <-time.After(streamRetry):
		case <-ctx.Done():
			return err
		}
	}
}

// connect reads one connection of s's stream until it ends.
func connect(ctx context.Context, hc *http.Client, url string, s *subscriber, dials chan struct{}) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if s.snapped {
		req.Header.Set("Last-Event-ID", s.resumeAt())
	}
	select {
	case dials <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	resp, err := hc.Do(req)
	<-dials
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	s.connected()
	return s.read(bufio.NewReaderSize(resp.Body, streamReadBuffer), time.Now)
}

// catchUp waits until every subscriber still listening has seen the
// change at last, or streamCatchUp.
func catchUp(ctx context.Context, subs []*listener, last domain.Position) {
	deadline := time.Now().Add(streamCatchUp)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		behind := slices.ContainsFunc(subs, func(l *listener) bool {
			_, at := l.sub.progress.get()
			return !l.ended.Load() && at.Before(last)
		})
		if !behind {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// streamSale has streamClients clients change seats of event at rate
// changes a second in all for d, a cart of changes a request; it returns the
// requests by status (0: no answer) and how long it took.
func streamSale(ctx context.Context, srv *server, event string, rate int, d time.Duration) (map[int]int64, time.Duration, error) {
	if rate < streamClients {
		return nil, 0, fmt.Errorf("-stream-rate %d: want at least %d, a change a second per client", rate, streamClients)
	}
	hc := newHTTPClient(streamClients)
	defer hc.CloseIdleConnections()
	every := time.Duration(float64(time.Second) * streamClients / float64(rate)) // each client's pace, per change
	var (
		mu       sync.Mutex
		requests = map[int]int64{}
		wg       sync.WaitGroup
	)
	start := time.Now()
	for i := range streamClients {
		wg.Go(func() {
			c := newCaller(srv.url(""), hc)
			defer func() {
				mu.Lock()
				defer mu.Unlock()
				for status, n := range c.requests {
					requests[status] += n
				}
			}()
			next := start.Add(every * time.Duration(i) / streamClients)
			pace := func(changes int) bool {
				if wait := time.Until(next); wait > 0 {
					time.Sleep(wait)
				} else if -wait > 10*every*streamCart {
					next = time.Now() // far behind: no burst to catch up
				}
				next = next.Add(every * time.Duration(changes))
				return time.Since(start) < d && ctx.Err() == nil
			}
			user := "stream-" + strconv.Itoa(i)
			var seats []int
			for n := i + 1; n <= eventSeats; n += streamClients {
				seats = append(seats, n)
			}
			// A 503 is sent again, as in the single-seat sale (retried); any
			// other failure ends the client, counted: the run fails.
			for k := 0; len(seats) > 0 && pace(min(streamCart, len(seats))); k++ {
				n := min(streamCart, len(seats))
				ids := make(client.SeatIDs, n)
				for i, seat := range seats[:n] {
					ids[i] = seatID(event, seat)
				}
				hold, err := retried(ctx, func() (*client.HoldSeatsResponse, error) {
					return c.api.HoldSeatsWithResponse(ctx, event, nil, client.HoldSeatsRequest{UUID: user, IDs: &ids})
				})
				if err != nil || hold.JSON200 == nil {
					return
				}
				pace(n)
				if k%streamReserveEvery == streamReserveEvery-1 {
					r, err := retried(ctx, func() (*client.ReserveSeatsResponse, error) {
						return c.api.ReserveSeatsWithResponse(ctx, event, nil, client.ReserveSeatsRequest{UUID: user, IDs: ids})
					})
					if err != nil || r.JSON200 == nil {
						return
					}
					seats = seats[n:]
					continue
				}
				r, err := retried(ctx, func() (*client.ReleaseSeatsResponse, error) {
					return c.api.ReleaseSeatsWithResponse(ctx, event, nil, client.ReleaseSeatsRequest{UUID: user, IDs: &ids})
				})
				if err != nil || r.JSON200 == nil {
					return
				}
				seats = slices.Concat(seats[n:], seats[:n]) // the next cart
			}
		})
	}
	wg.Wait()
	return requests, time.Since(start), ctx.Err()
}

// streamHistory is the event's changes after a position, as GET
// /events/{id}/changes gives them.
type streamHistory struct {
	positions []domain.Position // of each change
	hashes    []uint64          // hashChange of each
	first, at time.Time         // store times of the first and last
	records   int
}

func (h *streamHistory) last() domain.Position {
	if len(h.positions) == 0 {
		return domain.Position{}
	}
	return h.positions[len(h.positions)-1]
}

// history reads the changes of event after from, page after page.
func history(ctx context.Context, srv *server, event string, from domain.Position) (*streamHistory, error) {
	hc := newHTTPClient(1)
	defer hc.CloseIdleConnections()
	api := newAPI(srv.url(""), hc)
	h := &streamHistory{}
	after, limit := from.String(), streamPage
	for {
		// The raw answer: its changes' bytes are what the stream's must be.
		resp, err := api.ListEventChanges(ctx, event, &client.ListEventChangesParams{After: &after, Limit: &limit})
		if err != nil {
			return nil, err
		}
		var page struct {
			Changes []json.RawMessage `json:"changes"`
			Next    string            `json:"next"`
			Error   string            `json:"error"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d: %s", resp.StatusCode, page.Error)
		}
		if err != nil {
			return nil, fmt.Errorf("changes of %s after %s: %w", event, after, err)
		}
		if len(page.Changes) == 0 {
			return h, nil
		}
		for _, raw := range page.Changes {
			var c struct {
				Position string    `json:"position"`
				At       time.Time `json:"at"`
			}
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, fmt.Errorf("a change of the history %s: %w", snippet(raw), err)
			}
			p, err := domain.ParsePosition(c.Position)
			if err != nil {
				return nil, fmt.Errorf("a change of the history %s: %w", snippet(raw), err)
			}
			if last := h.last(); p != last {
				if !last.Before(p) {
					return nil, fmt.Errorf("the history has %s after %s", p, last)
				}
				h.records++
			}
			if len(h.positions) == 0 {
				h.first = c.At
			}
			h.positions, h.hashes, h.at = append(h.positions, p), append(h.hashes, hashChange(raw)), c.At
		}
		if page.Next == after {
			return nil, fmt.Errorf("changes of %s after %s: a page whose next is its after", event, after)
		}
		after = page.Next
	}
}

// judge fills run with what the subscribers saw, each against the
// history from its snapshot to the last change it saw: a subscriber still
// behind at the end is checked as far as it got.
func (h *streamHistory) judge(run *streamRun, subs []*listener) {
	run.changes, run.records, run.span = len(h.positions), h.records, h.at.Sub(h.first)
	run.lags = &lagHistogram{}
	type want struct {
		n   int
		sum uint64
	}
	wants := map[[2]domain.Position]want{}
	last := h.last()
	for i, l := range subs {
		s := &l.sub
		run.messages += int64(s.messages)
		run.resumes += s.resumes
		if s.resumes > 0 {
			run.resumed++
		}
		run.bytes += s.bytes
		run.lags.merge(&s.lags)
		span := [2]domain.Position{s.snapshot, s.seen.last}
		w, ok := wants[span]
		if !ok {
			for k, p := range h.positions {
				if s.snapshot.Before(p) && !s.seen.last.Before(p) {
					w.n++
					w.sum = mixHash(w.sum, h.hashes[k])
				}
			}
			wants[span] = w
		}
		var problem string
		switch {
		case l.early:
			problem = fmt.Sprintf("its stream ended after %d changes, at %s, %d resumes: %v", s.changes, s.seen.last, s.resumes, l.err)
		case s.changes != w.n:
			problem = fmt.Sprintf("%d changes from its snapshot at %s to %s, the history %d", s.changes, s.snapshot, s.seen.last, w.n)
		case s.seen.sum != w.sum:
			problem = fmt.Sprintf("%d changes from its snapshot at %s to %s, not those of the history in its order", s.changes, s.snapshot, s.seen.last)
		case s.seen.last.Before(last):
			run.behind++
			continue
		default:
			continue
		}
		run.failed++
		if len(run.problems) < 5 {
			run.problems = append(run.problems, fmt.Sprintf("subscriber %d: %s", i, problem))
		}
	}
}
