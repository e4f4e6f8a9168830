package main

import (
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// result is one wrk run of a scenario.
type result struct {
	topology string
	scenario scenario
	round    int
	wrk      wrkResult
}

func (r result) String() string {
	s := fmt.Sprintf("%-10s round %d  %-42s c=%-3d %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  %s",
		r.topology, r.round, r.scenario.label, r.scenario.conns, r.wrk.rate(),
		ms(r.wrk.LatencyUs.P50), ms(r.wrk.LatencyUs.P99), r.responses())
	if r.wrk.Redis != nil {
		s += fmt.Sprintf("  Redis %.1f µs per request: %s", r.wrk.Redis.us, r.wrk.Redis)
	}
	if r.wrk.Probe != nil {
		s += "  " + r.wrk.Probe.String()
	}
	return s
}

func ms(us int64) float64 { return float64(us) / 1000 }

// responses counts responses by status, and socket errors.
func (r result) responses() string {
	var parts []string
	for _, status := range slices.Sorted(maps.Keys(r.wrk.Statuses)) {
		parts = append(parts, fmt.Sprintf("%s: %d", status, r.wrk.Statuses[status]))
	}
	if n := r.wrk.socketErrors(); n > 0 {
		parts = append(parts, fmt.Sprintf("socket errors: %d", n))
	}
	return strings.Join(parts, ", ")
}

// failure says what is wrong with the run's answers, "" if nothing: each
// is the status expected, or the shed one, and some are the one expected;
// the probe's, if it ran, are all 200.
func (r result) failure() string {
	allowed := []string{fmt.Sprint(r.scenario.expect)}
	if r.scenario.shed != 0 {
		allowed = append(allowed, fmt.Sprint(r.scenario.shed))
	}
	wrong := r.wrk.socketErrors() > 0 || r.wrk.Statuses[allowed[0]] == 0
	for status := range r.wrk.Statuses {
		wrong = wrong || !slices.Contains(allowed, status)
	}
	run := fmt.Sprintf("%s round %d, %s at %d connections", r.topology, r.round, r.scenario.label, r.scenario.conns)
	if wrong {
		return fmt.Sprintf("%s: want only %s, got %s", run, strings.Join(allowed, " or "), r.responses())
	}
	if r.wrk.Probe != nil {
		if f := r.wrk.Probe.failure(); f != "" {
			return run + ": " + f
		}
	}
	return ""
}

type machine struct {
	cpus                           int
	cpu, goVersion, redis, wrk, os string
	date                           time.Time
}

// loadAverages are the machine's 1-minute load averages before each run:
// how busy the run and other work kept it.
var loadAverages []float64

func noteLoad() {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return
	}
	if x, err := strconv.ParseFloat(f[0], 64); err == nil {
		loadAverages = append(loadAverages, x)
	}
}

// loadNote describes loadAverages for the report.
func loadNote() string {
	if len(loadAverages) == 0 {
		return ""
	}
	return fmt.Sprintf("\nThe 1-minute load average before each run was %s: the\nrun's own processes (wrk's threads, the servers, Redis) and other work on\nthe machine, whose bursts widen the spreads below.", spreadOf(loadAverages).format("%.1f"))
}

func (m machine) String() string {
	return fmt.Sprintf("%d × %s, %s, %s, %s, %s", m.cpus, m.cpu, m.os, m.goVersion, m.redis, m.wrk)
}

func describeMachine() (machine, error) {
	m := machine{cpus: runtime.NumCPU(), goVersion: runtime.Version(), date: time.Now().UTC(), cpu: "unknown CPU"}
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(info)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	for _, v := range []struct {
		dst  *string
		name string
		args []string
	}{
		{&m.redis, "redis-server", []string{"--version"}},
		{&m.wrk, "wrk", []string{"--version"}},
		{&m.os, "uname", []string{"-sr"}},
	} {
		// wrk prints its version with its usage, and exits 1.
		out, err := exec.Command(v.name, v.args...).CombinedOutput()
		first, _, _ := strings.Cut(string(out), "\n")
		if first == "" {
			return machine{}, fmt.Errorf("%s %s: %v", v.name, strings.Join(v.args, " "), err)
		}
		*v.dst = strings.TrimSpace(first)
	}
	if f := strings.Fields(m.redis); len(f) >= 3 {
		m.redis = "Redis " + strings.TrimPrefix(f[2], "v=")
	}
	if f := strings.Fields(m.wrk); len(f) >= 2 {
		m.wrk = "wrk " + f[1]
	}
	return m, nil
}

// spread is the median and range of a figure over rounds.
type spread struct{ min, med, max float64 }

func spreadOf(xs []float64) spread {
	xs = slices.Sorted(slices.Values(xs))
	n := len(xs)
	return spread{min: xs[0], med: (xs[(n-1)/2] + xs[n/2]) / 2, max: xs[n-1]}
}

// format shows the median and, over several rounds, the range.
func (s spread) format(verb string) string {
	med := fmt.Sprintf(verb, s.med)
	if s.min == s.max {
		return med
	}
	return fmt.Sprintf("%s ("+verb+"–"+verb+")", med, s.min, s.max)
}

type report struct {
	machine machine
	opts    options
	results []result
	sales   []saleRun
	streams []streamRun
	// followed is the run of the stream beside other events followed, if
	// it ran.
	followed *streamRun
	goBench  string
}

// rows are the distinct runs, in the order they first ran.
type row struct {
	topology string
	scenario scenario
}

func (r report) rows() []row {
	var rows []row
	for _, res := range r.results {
		if x := (row{res.topology, res.scenario}); !slices.Contains(rows, x) {
			rows = append(rows, x)
		}
	}
	return rows
}

// runs are the results of a row, by round.
func (r report) runs(topology, id string, conns int) []wrkResult {
	var out []wrkResult
	for _, res := range r.results {
		if res.topology == topology && res.scenario.id == id && res.scenario.conns == conns {
			out = append(out, res.wrk)
		}
	}
	return out
}

// figure is one figure of the runs of a row, over rounds; ok is false when
// the row did not run.
func (r report) figure(topology, id string, conns int, f func(wrkResult) float64) (spread, bool) {
	runs := r.runs(topology, id, conns)
	if len(runs) == 0 {
		return spread{}, false
	}
	xs := make([]float64, len(runs))
	for i, w := range runs {
		xs[i] = f(w)
	}
	return spreadOf(xs), true
}

// ratio is the request rate of a row over that of base, in percent, taken
// round by round, so that both figures of a ratio saw the machine in about
// the same state; ok is false unless base ran in every round the row did.
func (r report) ratio(topology, id, base string, conns int) (spread, bool) {
	return r.byRound(topology, id, base, conns, func(w, b wrkResult) float64 { return 100 * w.rate() / b.rate() })
}

// byRound is f of each run of a row and the run of base in the same round,
// over rounds.
func (r report) byRound(topology, id, base string, conns int, f func(w, b wrkResult) float64) (spread, bool) {
	bases := map[int]wrkResult{}
	for _, res := range r.results {
		if res.topology == topology && res.scenario.id == base && res.scenario.conns == conns {
			bases[res.round] = res.wrk
		}
	}
	var xs []float64
	for _, res := range r.results {
		if res.topology != topology || res.scenario.id != id || res.scenario.conns != conns {
			continue
		}
		b, ok := bases[res.round]
		if !ok {
			return spread{}, false
		}
		xs = append(xs, f(res.wrk, b))
	}
	if len(xs) == 0 {
		return spread{}, false
	}
	return spreadOf(xs), true
}

func rate(w wrkResult) float64 { return w.rate() }
func redisMs(w wrkResult) float64 {
	if w.Redis == nil {
		return math.NaN()
	}
	return w.Redis.us / 1000
}
func p50(w wrkResult) float64  { return ms(w.LatencyUs.P50) }
func p99(w wrkResult) float64  { return ms(w.LatencyUs.P99) }
func pmax(w wrkResult) float64 { return ms(w.LatencyUs.Max) }

func (r report) failures() []string {
	var out []string
	for _, res := range r.results {
		if f := res.failure(); f != "" {
			out = append(out, f)
		}
	}
	for _, run := range r.allStreams() {
		if f := run.failure(); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// table is every row: rates and latencies as median (min–max) of rounds.
func (r report) table() string {
	var b strings.Builder
	b.WriteString("| Redis | request | conns | req/s | p50 ms | p99 ms | max ms | responses, all rounds |\n|---|---|--:|--:|--:|--:|--:|---|\n")
	for _, x := range r.rows() {
		runs := r.runs(x.topology, x.scenario.id, x.scenario.conns)
		cell := func(f func(wrkResult) float64, verb string) string {
			s, _ := r.figure(x.topology, x.scenario.id, x.scenario.conns, f)
			return s.format(verb)
		}
		statuses := map[string]int64{}
		var socketErrors int64
		for _, w := range runs {
			for k, v := range w.Statuses {
				statuses[k] += v
			}
			socketErrors += w.socketErrors()
		}
		all := result{wrk: wrkResult{Statuses: statuses}}
		all.wrk.Errors.Connect = socketErrors
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s |\n", x.topology, x.scenario.label, x.scenario.conns,
			cell(rate, "%.0f"), cell(p50, "%.2f"), cell(p99, "%.2f"), cell(pmax, "%.1f"), all.responses())
	}
	return b.String()
}

// target is a goal of issue 3 and the figure that measures it.
type target struct {
	what, goal string
	got        spread
	ran        bool
	unit       string
	met        func(med float64) bool
}

func (r report) targets() []target {
	atLeast := func(goal float64) func(float64) bool { return func(m float64) bool { return m >= goal } }
	below := func(goal float64) func(float64) bool { return func(m float64) bool { return m < goal } }
	share := func(what, topo, id, base string, goal float64) target {
		got, ok := r.ratio(topo, id, base, 64)
		return target{what: what, goal: fmt.Sprintf("≥ %.0f%%", goal), got: got, ran: ok, unit: "%.0f%%", met: atLeast(goal)}
	}
	figure := func(what, topo, id string, conns int, f func(wrkResult) float64, goal float64, unit string) target {
		got, ok := r.figure(topo, id, conns, f)
		return target{what: what, goal: fmt.Sprintf("< %g ms", goal), got: got, ran: ok, unit: unit, met: below(goal)}
	}
	sale, okSale := r.saleTime("Redis", "cart", r.opts.saleBuyers)
	ts := []target{{what: fmt.Sprintf("the sale: %d clients sell out 10,000 seats (rows of 50) by best available and one cart reserve per buyer, standalone Redis: time", r.opts.saleBuyers),
		goal: "< 3 s", got: sale, ran: okSale, unit: "%.2f s", met: below(3)}}
	for _, topo := range []string{"standalone", "cluster"} {
		ts = append(ts,
			share("POST /seats/hold, 64 connections, "+topo+": share of the gin + one EVALSHA ceiling", topo, "hold", "evalsha", 80),
			share("POST /seats/hold, 64 connections, "+topo+", with the stream written (issue #11): share of the gin + one EVALSHA ceiling", topo, "hold", "evalsha", 75),
			figure("POST /seats/hold, 64 connections, "+topo+": p99", topo, "hold", 64, p99, 10, "%.2f ms"))
	}
	return append(append(ts,
		share("POST /seats/hold with a key, a buyer token and all limits on, 64 connections, standalone: share of the gin + one EVALSHA ceiling", "standalone", "holdall", "evalsha", 70),
		figure("POST /seats/hold with a key, a buyer token and all limits on, 64 connections, standalone: p99", "standalone", "holdall", guardedConns, p99, 10, "%.2f ms"),
		share("POST /events/{id}/hold, 6 listed seats, 64 connections: share of the gin + cart JSON + one EVALSHA ceiling", "standalone", "cart", "cartceil", 70),
		share("POST /events/{id}/hold, best available of 4 with 5,000 live holds, 64 connections: share of the gin + best-available JSON + one EVALSHA ceiling", "standalone", "best", "bestceil", 60),
		share("GET /events/{id}/summary, 5,000 live + 5,000 expired holds, 64 connections: share of the gin GET + one EVALSHA ceiling", "standalone", "summary", "sumceil", 80),
		figure("GET /seats/list/{id}, 10,000 seats, 5,000 live + 5,000 expired holds by 128-character UUIDs, one client: Redis's time per list", "standalone", "churnlist", 1, redisMs, 0.2, "%.3f ms"),
		figure("GET /seats/list/{id}, 10,000 seats, 5,000 live + 5,000 expired holds by 128-character UUIDs, one client: p50", "standalone", "churnlist", 1, p50, 5, "%.2f ms"),
		figure("GET /seats/list/{id}, 10,000 seats available, one client: p50", "standalone", "list", 1, p50, 5, "%.2f ms"),
		figure("POST /events/create, 10,000 seats, one client: p50", "standalone", "create", 1, p50, 10, "%.2f ms"),
		share("GET /events/{id}, 64 connections: share of bare gin (GET, no Redis)", "standalone", "get", "bareget", 80),
		share("GET /seats/list/{id} with If-None-Match: its ETag, answered 304, 64 connections: share of bare gin (GET, no Redis)", "standalone", "list304", "bareget", 80),
		r.gzipTarget(),
		figure("POST /seats/hold beside a crowd of 512 connections listing one 10,000-seat event (plain), one client: p99", "standalone", "crowd", 512, probeP99, 50, "%.2f ms"),
		r.readsTarget(),
	), slices.Concat(r.streamTargets(), r.followedTargets())...)
}

// gzipTarget is the size of the gzipped list of 10,000 available seats.
func (r report) gzipTarget() target {
	got, ok := r.figure("standalone", "gzlist", 1, bodySize)
	return target{what: "GET /seats/list/{id}, 10,000 seats available, Accept-Encoding: gzip: the answer's size", goal: fmt.Sprintf("< %s bytes", thousands(maxGzipList)),
		got: got, ran: ok, unit: "%.0f bytes", met: func(m float64) bool { return m < maxGzipList }}
}

// maxGzipList is 64 KB.
const maxGzipList = 64 << 10

// bodySize is the mean size of a run's answers' bodies, as sent.
func bodySize(w wrkResult) float64 { return float64(w.BodyBytes) / float64(max(w.Requests, 1)) }

// readsTarget is the goal of the crowd of 256 (crowd.go): Redis reads the
// list far fewer times than lists are served.
func (r report) readsTarget() target {
	got, ok := r.figure("standalone", "crowdreads", 256, readsPerList)
	return target{what: "GET /seats/list/{id}, 10,000 seats, a crowd of 256 connections: Redis's reads of the list per list served",
		goal: fmt.Sprintf("< %g", maxReadsPerList), got: got, ran: ok, unit: "%.3f", met: func(m float64) bool { return m < maxReadsPerList }}
}

// maxReadsPerList is "far fewer reads than lists served": one read for
// four lists at most.
const maxReadsPerList = 0.25

func (r report) targetTable() string {
	var b strings.Builder
	b.WriteString("| target | goal | measured: median (min–max) of rounds | met |\n|---|---|---|---|\n")
	for _, t := range r.targets() {
		if !t.ran {
			continue
		}
		met := "no"
		if t.met(t.got.med) {
			met = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.what, t.goal, t.got.format(t.unit), met)
	}
	return b.String()
}

// saleRuns are the counted runs of a sale.
func (r report) saleRuns(store, flow string, clients int) []saleRun {
	var out []saleRun
	for _, run := range r.sales {
		if run.store == store && run.flow == flow && run.clients == clients {
			out = append(out, run)
		}
	}
	return out
}

// saleTime is the time of a sale over its rounds, in seconds.
func (r report) saleTime(store, flow string, clients int) (spread, bool) {
	runs := r.saleRuns(store, flow, clients)
	if len(runs) == 0 {
		return spread{}, false
	}
	xs := make([]float64, len(runs))
	for i, run := range runs {
		xs[i] = run.elapsed.Seconds()
	}
	return spreadOf(xs), true
}

// saleTable is every sale: times as median (min–max) of rounds.
func (r report) saleTable() string {
	type key struct {
		store, flow string
		clients     int
	}
	var keys []key
	for _, run := range r.sales {
		if k := (key{run.store, run.flow, run.clients}); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	var b strings.Builder
	b.WriteString("| store | flow | clients | rounds | time s | seats/s | buyers | requests, all rounds | checked |\n|---|---|--:|--:|--:|--:|--:|---|---|\n")
	for _, k := range keys {
		runs := r.saleRuns(k.store, k.flow, k.clients)
		of := func(f func(saleRun) float64, verb string) string {
			xs := make([]float64, len(runs))
			for i, run := range runs {
				xs[i] = f(run)
			}
			return spreadOf(xs).format(verb)
		}
		statuses := map[int]int64{}
		expired := 0
		for _, run := range runs {
			for st, n := range run.requests {
				statuses[st] += n
			}
			expired += run.expired
		}
		answers := statusCounts(statuses)
		if expired > 0 {
			answers += fmt.Sprintf("; %d holds expired before their reserve", expired)
		}
		time := of(func(run saleRun) float64 { return run.elapsed.Seconds() }, "%.2f")
		if last := runs[len(runs)-1]; last.capped {
			time = fmt.Sprintf("capped: %d seats sold in %.1f s; sold out in ~%.0f s at that rate", last.sold, last.elapsed.Seconds(), last.projected().Seconds())
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s | %s | %s | every seat |\n", k.store, k.flow, k.clients, len(runs), time,
			of(saleRun.rate, "%.0f"), of(func(run saleRun) float64 { return float64(run.buyers) }, "%.0f"), answers)
	}
	return b.String()
}

// redisTable is Redis's time per request of the runs that measured it.
func (r report) redisTable() string {
	var b strings.Builder
	b.WriteString("| request | conns | Redis ms per request | commands, µs per request (last round) |\n|---|--:|--:|---|\n")
	for _, x := range r.rows() {
		runs := r.runs(x.topology, x.scenario.id, x.scenario.conns)
		if len(runs) == 0 || runs[len(runs)-1].Redis == nil {
			continue
		}
		s, _ := r.figure(x.topology, x.scenario.id, x.scenario.conns, redisMs)
		fmt.Fprintf(&b, "| %s | %d | %s | %s |\n", x.scenario.label, x.scenario.conns, s.format("%.3f"), runs[len(runs)-1].Redis)
	}
	return b.String()
}

// summary is what the terminal shows at the end.
func (r report) summary() string {
	s := "\n"
	if r.sales != nil {
		s += r.saleTable() + "\n"
	}
	if r.results != nil {
		s += r.table() + "\n" + r.redisTable() + "\n" + r.cpuTable() + "\n"
		if layers := r.layerTable(); layers != "" {
			s += layers + "\n"
		}
		if crowd := r.crowdTable(); crowd != "" {
			s += crowd + "\n"
		}
	}
	if streams := r.streamTable(); streams != "" {
		s += streams + "\n"
	}
	return s + r.targetTable() + "\n" + r.boundsTable()
}

// boundsTable compares the shares of the hold and the cart hold of their
// ceilings with those of their writes alone (benchceiling's POST /writes:
// one EVALSHA that makes them in the service's layout, without its reads
// and rules), round by round: a hold that keeps that layout and makes one
// hold a run gets no nearer its ceiling than they do. A paragraph and a
// table, each followed by a blank line, or empty when none ran.
func (r report) boundsTable() string {
	var b strings.Builder
	for _, x := range []struct{ label, topo, id, bound, base string }{
		{"POST /seats/hold", "standalone", "hold", "writes", "evalsha"},
		{"POST /seats/hold", "cluster", "hold", "writes", "evalsha"},
		{"POST /events/{id}/hold, 6 listed seats", "standalone", "cart", "cartwrites", "cartceil"},
	} {
		bound, ok := r.ratio(x.topo, x.bound, x.base, 64)
		got, okGot := r.ratio(x.topo, x.id, x.base, 64)
		if !ok || !okGot {
			continue
		}
		if b.Len() == 0 {
			b.WriteString(`The bound of a hold's share: the ceiling server's POST /writes makes, in
one EVALSHA, a hold's writes alone in the service's layout (the clock, the
seats' bytes and expiries, their holder and the buyer's cart, the expiry
queue, the stream's record: benchceiling's writesScript), without a read
or a rule. A hold that keeps that layout and makes one hold a script run
gets no nearer its ceiling than they do; the service's holds share a run
only when they meet (redisstore's batcher). Shares of each request's
ceiling at 64 connections, median (min–max) of rounds:

| request | Redis | its writes alone | the request |
|---|---|--:|--:|
`)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", x.label, x.topo, bound.format("%.0f%%"), got.format("%.0f%%"))
	}
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	return b.String()
}

func (r report) commands() string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, res := range r.results {
		if !seen[res.wrk.Command] {
			seen[res.wrk.Command] = true
			fmt.Fprintf(&b, "    %s\n", res.wrk.Command)
		}
	}
	return b.String()
}

func (r report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Benchmarks

Written by `+"`make bench`"+` (cmd/loadbench) on %s; run it again rather than edit
this file. Each wrk scenario ran once in each of %d rounds, for %v, and the
cart sale once in each of %d rounds; figures are the median of the rounds
and, in brackets, their range.

## Machine

%d CPUs (%s), %s, %s, %s, %s.
The load generators, the service, the ceiling server and Redis share these
CPUs, as they do in the targets of issue 3.%s

## Targets

%s
Ratios are taken round by round against the ceiling run next to each (just
before it in odd rounds, just after it in even ones), so both saw the machine
in about the same state.

%s## The sale

%s
- **cart**: each of the concurrent clients is a stream of buyers, each with
  a UUID of its own wanting 1 to 6 seats (at random): it holds them by
  best available, adjacent (`+"`POST /events/{id}/hold`"+` with `+"`bestAvailable`"+`),
  and reserves them in one call (`+"`POST /events/{id}/reserve`"+`);
  NOT_ENOUGH_SEATS for n seats makes it ask for n-1, and for one seat means
  the event is sold out, so the client stops. The time runs from the first
  request to the last client's stop: the event is then sold out.
- **single**: the calls of the original API: the buyer loads the list of
  available seats (`+"`GET /seats/list/{id}`"+`, 10,000 seats at first), picks its
  seats at random among those shown, holds them one by one (`+"`POST /seats/hold`"+`;
  a seat taken meanwhile makes it try another one shown, 5 taken in a row
  make it load the list again, and after 3 lists it settles for the seats
  it holds) and reserves them one by one (`+"`POST /seats/reserve`"+`); a 503
  is sent again, as a client would (each call is the same again for the
  same UUID), a list shed at the service's cap (503 TOO_MANY_LISTS) after
  its Retry-After, and a hold that expired before its reserve is a seat
  lost.
  It ran once per number of clients; after %v a client starts no new
  buyer, and a run that this stopped before the event sold out shows its
  rate instead. On the code before carts, this flow took 127 s for 500
  clients and 22 s for 100.
- **checked**: after each sale, every seat is read alone (`+"`GET /seats/get/{id}`"+`),
  with the list and the summary: every seat sold is reserved by the one
  buyer who was answered it, no seat went to two buyers, no buyer has more
  than the hold limit (6), every other seat is available. A run that fails
  a check fails `+"`make bench`"+`.
- Each sale has an event of its own, on a service and a Redis started for
  the sales alone (and a service on its in-memory store); a sale that is
  not counted ran first, to warm them up. The clients are Go (net/http, one
  keep-alive connection per client), on the same CPUs.

## Load runs

%s
- **service**: bin/reservation with its default configuration (hold TTL
  60s, 6 holds per UUID, log level info, JSON logs to a file), only its
  address and Redis set.
- **ceiling**: cmd/benchceiling, a bare gin server: decode the JSON body and
  make one rueidis EVALSHA round trip, or decode it and make no Redis call,
  or answer a GET with no Redis call. The cart ceiling decodes the cart
  body (ids, or bestAvailable), makes one EVALSHA round trip with the UUID
  and the ids, and answers the seats in the shape of the service's answer;
  the summary ceiling answers a GET of the event with one EVALSHA round trip
  and four counts. One round trip is the least a hold or a summary can
  cost, since the seats change all the time; so these are the fair ceilings
  of a service whose every change and count is one Redis script.
- **hold**: every request holds a seat of its own with a UUID of its own.
- **6 listed seats**: every request holds 6 seats of its own (6k+1..6k+6 of
  fresh events) with a UUID of its own.
- **best available 4**: every request holds the best 4 adjacent seats of an
  event (rows of 50) for a UUID of its own. Each event had its front half
  (seats 1..5,000) held when its first request came, by a second instance
  of the service whose hold limit is 200; %s requests then use it, so that
  5,000 to %s seats are on hold while they run. Events are made before each
  run, enough for the rate of the last.
- **5,000 live + 5,000 expired holds**: an event whose odd seats were held
  by a third instance of the service whose hold TTL is 1s, and have
  expired, and whose even seats are held by the service; every hold by a
  UUID of 128 characters of its own, in carts of 6 seats. A new one is made
  when the last one's live holds are %v old.
- **cluster**: three masters on this machine, no replicas; the events, and so
  the holds, spread over the three.

Redis's time per request, on standalone Redis: `+"`CONFIG RESETSTAT`"+` before the
run, `+"`INFO commandstats`"+` after it, the time of the commands shared among the
requests answered. Only the server under load talks to Redis meanwhile.
Redis 7 counts the time of a command run by EXEC or a script both on its
own and within EXEC's or the script's, so the time of a request is the
larger of the two sums. It is Redis's time executing commands, without
reading requests and writing answers.

%s
The CPU time of each process per request, in µs, on standalone Redis: wrk's
own (the kernel's count at its exit), the server's under load (from /proc)
and Redis's (`+"`INFO cpu`"+`, every thread, reading and writing too), each
over the run's requests. CPUs busy is the three together times the rate:
near the machine's %d, the run was bound by CPU, and a scenario's rate is
then about that over its row's sum, so the gap to its ceiling is in the
columns larger than the ceiling's.

%s
What shapes these figures: Redis runs one command at a time, so its time
per request (above; the ceiling's script takes a few µs) bounds a
scenario's rate, and every µs of it counts twice on two cores that Redis
shares with the service and wrk; the service's Redis client gathers
concurrent commands into one write (20 µs flush delay), which saves system
calls on both sides; the service logs
one line per request but samples those below warnings (every 5xx keeps its
line); events never change, so each instance answers GET /events/{id} from
memory once it has seen the event.

![hold throughput and latency against connections](benchmarks.svg)
%s
## Commands

`+"```"+`
%s
%s`+"```"+`

SERVICE and CEILING stand for the servers' loopback addresses (SERVICE-ALL,
-KEY, -TOKEN and -LIMITS for the guarded instances), KEY for the API key's
secret, BUYERS for the file of the run's buyers and their tokens, EVENT... for
the ids of the events a seat, cart or best-available run uses (made before
it, enough for a seat per request; ids of no event for the ceiling, which
reads none), {event} for one 10,000-seat event: all available, or for the
summary and the second list the event of 5,000 live and 5,000 expired
holds. The sale is no wrk command:
loadbench's Go clients run it (`+"`-sales`"+`, `+"`-sale-clients`"+`, `+"`-single`"+`,
`+"`-single-cap`"+`; see cmd/loadbench/sale.go), nor is the stream (`+"`-subscribers`"+`,
`+"`-stream-rate`"+`, `+"`-stream-duration`"+`; see cmd/loadbench/stream.go).
`, r.machine.date.Format("2006-01-02 15:04 MST"), r.opts.rounds, r.opts.duration, r.opts.sales,
		r.machine.cpus, r.machine.cpu, r.machine.os, r.machine.goVersion, r.machine.redis, r.machine.wrk, loadNote(),
		r.targetTable(), r.boundsTable(), r.saleTable(), r.opts.singleCap, r.table(), thousands(bestPerEvent), thousands(frontHeld+bestPerEvent*bestSeats), churnFresh,
		r.redisTable(), r.machine.cpus, r.cpuTable(), r.guardSection()+r.crowdSection()+r.streamSection(), strings.Join(os.Args, " "), r.commands())
	if r.goBench != "" {
		fmt.Fprintf(&b, "\n## Go benchmarks\n\n`%s`\n\n%s\n```\n%s```\n", r.opts.goBenchCmd, instructionsNote, benchLines(r.goBench))
	}
	return b.String()
}

// instructionsNote explains BenchmarkInstructions, the one of the Go
// benchmarks whose figure is not a time.
const instructionsNote = "`BenchmarkInstructions`" + ` (adapters/redisstore) counts the instructions Redis
executes inside EVALSHA, with valgrind's callgrind running a redis-server of
its own, while the batch script of holds runs batches of 21 holds, each of a
buyer of its own, on a fresh event of 10,000 seats until a batch no longer fits:
single seats and carts of 6 listed in order, best available 4 adjacent.
` + "`Ir/hold`" + ` is the instructions a hold, ` + "`x-ceiling`" + ` their ratio to those of the
ceiling's EVALSHA (one EXISTS, ` + "`Ir/op`" + `). Unlike the times above, the count is the
same from run to run to about 0.1%, whatever else the machine runs, so that a
change of the scripts can be read from it.
`

// thousands writes n with a comma between thousands, as the report's text
// does.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// benchLines keeps the benchmark and package lines of `go test -bench`.
func benchLines(out string) string {
	var b strings.Builder
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "pkg:") {
			b.WriteString(line)
		}
	}
	return b.String()
}
