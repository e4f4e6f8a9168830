package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seatres/reservation/api/client"
)

// The crowd (issue #11): seat maps that poll the list of one 10,000-seat
// event (1.3 MB, plain: no gzip, the worst case) as fast as wrk can, on
// the default instance. Lists past the instance's cap
// (RESERVATION_HTTP_MAX_LISTS) are answered 503 TOO_MANY_LISTS, which the
// run counts rather than fails on. Beside the crowd of 512, a hold probe,
// one Go client holding a seat of its own at a time, measures what a buyer
// waits; the crowd of 256 counts Redis's reads of the list (EXEC, one per
// store read: MULTI, GET, GET, TIME, EXEC) against the lists served, which
// the instance's shared reads make far fewer.

// crowdScenarios are the two crowds. wrk, which shares the CPUs, reads
// 1.3 MB answers on hundreds of connections at once: a list it reads
// slowly may take it more than its own 2 s, which is no failure of the
// service.
func crowdScenarios() []scenario {
	const (
		path    = "/seats/list/{event}"
		timeout = 10 * time.Second
	)
	return []scenario{
		{id: "crowd", label: "GET /seats/list/{id} (10,000 available), a crowd beside a hold probe", mode: "get", path: path,
			conns: 512, expect: http.StatusOK, shed: http.StatusServiceUnavailable, probe: true, timeout: timeout},
		{id: "crowdreads", label: "GET /seats/list/{id} (10,000 available), a crowd: Redis reads", mode: "get", path: path,
			conns: 256, expect: http.StatusOK, shed: http.StatusServiceUnavailable, timeout: timeout},
	}
}

// probeEvery paces the hold probe: at most one hold a millisecond, so that
// a run of a few seconds needs one event's seats, and the probe adds little
// load of its own.
const probeEvery = time.Millisecond

// probeResult is what the hold probe saw during a run.
type probeResult struct {
	latencies []time.Duration // of the answered holds, sorted
	statuses  map[int]int64   // 0: no answer
}

func (p *probeResult) percentile(q float64) time.Duration {
	if len(p.latencies) == 0 {
		return 0
	}
	return p.latencies[min(len(p.latencies)-1, int(q*float64(len(p.latencies))))]
}

func (p *probeResult) String() string {
	return fmt.Sprintf("hold probe: %d holds, p50 %.2f ms, p99 %.2f ms, max %.2f ms (%s)", len(p.latencies),
		msOf(p.percentile(0.5)), msOf(p.percentile(0.99)), msOf(p.percentile(1)), statusCounts(p.statuses))
}

// failure says what is wrong with the probe's answers, "" if nothing: every
// hold is answered 200.
func (p *probeResult) failure() string {
	if len(p.statuses) == 1 && p.statuses[http.StatusOK] > 0 {
		return ""
	}
	return "hold probe: want only 200, got " + statusCounts(p.statuses)
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startProbe starts the hold probe on srv, on an event of its own; stop
// ends it and returns what it saw.
func (l *loader) startProbe(srv *server) (stop func() *probeResult, err error) {
	events, err := srv.createEvents(l.ctx, 1, createBody)
	if err != nil {
		return nil, err
	}
	api := newAPI(srv.url(""), newHTTPClient(1))
	ctx, cancel := context.WithCancel(l.ctx)
	p := &probeResult{statuses: map[int]int64{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(probeEvery)
		defer tick.Stop()
		for n := 1; n <= eventSeats; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			start := time.Now()
			r, err := api.HoldSeatWithResponse(ctx, client.SeatRequest{ID: seatID(events[0], n), UUID: "probe-" + strconv.Itoa(n)})
			if ctx.Err() != nil {
				return // cut off by the end of the run: not an answer
			}
			if err != nil {
				p.statuses[0]++
				continue
			}
			p.latencies = append(p.latencies, time.Since(start))
			p.statuses[r.StatusCode()]++
		}
	})
	return func() *probeResult {
		cancel()
		wg.Wait()
		slices.Sort(p.latencies)
		return p
	}, nil
}

// The figures of the crowds, for the targets and the table.
func probeP99(w wrkResult) float64 { return msOf(w.Probe.percentile(0.99)) }

// servedRate is the lists answered 200 per second.
func servedRate(w wrkResult) float64 {
	return float64(w.Statuses[strconv.Itoa(http.StatusOK)]) / (float64(w.DurationUs) / 1e6)
}

// listReads is the store reads of the list during the run (its EXECs).
func listReads(w wrkResult) float64 {
	if w.Redis == nil {
		return 0
	}
	return float64(w.Redis.calls["exec"])
}

// readsPerList is the store reads of the list per list served.
func readsPerList(w wrkResult) float64 {
	return listReads(w) / float64(max(w.Statuses[strconv.Itoa(http.StatusOK)], 1))
}

// crowdTable has a line per crowd run: lists served and shed, the hold
// probe's latencies, and Redis's reads.
func (r report) crowdTable() string {
	var b strings.Builder
	for _, res := range r.results {
		if res.scenario.shed == 0 {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("| crowd | round | lists served/s | 503 TOO_MANY_LISTS | list p50 ms | list p99 ms | holds beside it: p50 ms | p99 ms | max ms | Redis list reads | reads per list served |\n|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
		}
		w := res.wrk
		probe := "| | |"
		if w.Probe != nil {
			probe = fmt.Sprintf("%.2f | %.2f | %.2f |", msOf(w.Probe.percentile(0.5)), probeP99(w), msOf(w.Probe.percentile(1)))
		}
		fmt.Fprintf(&b, "| %d | %d | %.0f | %d | %.2f | %.2f | %s %.0f | %.3f |\n", res.scenario.conns, res.round, servedRate(w),
			w.Statuses[strconv.Itoa(res.scenario.shed)], ms(w.LatencyUs.P50), ms(w.LatencyUs.P99), probe, listReads(w), readsPerList(w))
	}
	return b.String()
}

// crowdSection is the report's section of the crowds, "" when none ran.
func (r report) crowdSection() string {
	table := r.crowdTable()
	if table == "" {
		return ""
	}
	return `
## The crowd

` + table + `
- **crowd of 512**: wrk's 512 connections list one event of 10,000
  available seats (1.3 MB, plain) as fast as they can, while one Go client
  holds a seat of its own (` + "`POST /seats/hold`" + `) at most every
  millisecond, one at a time, on the same instance; the holds' latencies
  are that client's.
- **crowd of 256**: the same lists by 256 connections; Redis's reads of the
  list are its EXECs (` + "`INFO commandstats`" + `), one per store read,
  which the lists that arrive while one is read share.
- A list past ` + "`RESERVATION_HTTP_MAX_LISTS`" + ` (its default) is answered 503
  ` + "`TOO_MANY_LISTS`" + ` with ` + "`Retry-After: 1`" + ` at once; wrk sends the next at once.
`
}
