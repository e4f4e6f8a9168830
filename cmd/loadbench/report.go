package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
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
	return fmt.Sprintf("%-10s round %d  %-42s c=%-3d %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  %s",
		r.topology, r.round, r.scenario.label, r.scenario.conns, r.wrk.rate(),
		ms(r.wrk.LatencyUs.P50), ms(r.wrk.LatencyUs.P99), r.responses())
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

// failure says what is wrong with the run's answers, "" if nothing.
func (r result) failure() string {
	want := fmt.Sprint(r.scenario.expect)
	if r.wrk.socketErrors() == 0 && len(r.wrk.Statuses) == 1 && r.wrk.Statuses[want] > 0 {
		return ""
	}
	return fmt.Sprintf("%s round %d, %s at %d connections: want only %s, got %s",
		r.topology, r.round, r.scenario.label, r.scenario.conns, want, r.responses())
}

type machine struct {
	cpus                           int
	cpu, goVersion, redis, wrk, os string
	date                           time.Time
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
	goBench string
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

// ratio is the request rate of a row over that of base, taken round by
// round, so that both figures of a ratio saw the machine in about the same
// state.
func (r report) ratio(topology, id, base string, conns int) (spread, bool) {
	runs, bases := r.runs(topology, id, conns), r.runs(topology, base, conns)
	if len(runs) == 0 || len(runs) != len(bases) {
		return spread{}, false
	}
	xs := make([]float64, len(runs))
	for i := range runs {
		xs[i] = 100 * runs[i].rate() / bases[i].rate()
	}
	return spreadOf(xs), true
}

func rate(w wrkResult) float64 { return w.rate() }
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
	var ts []target
	for _, topo := range []string{"standalone", "cluster"} {
		ratio, ok := r.ratio(topo, "hold", "evalsha", 64)
		ts = append(ts, target{what: "POST /seats/hold, 64 connections, " + topo + ": share of the gin + one EVALSHA ceiling",
			goal: "≥ 80%", got: ratio, ran: ok, unit: "%.0f%%", met: func(m float64) bool { return m >= 80 }})
		p, ok := r.figure(topo, "hold", 64, p99)
		ts = append(ts, target{what: "POST /seats/hold, 64 connections, " + topo + ": p99",
			goal: "< 10 ms", got: p, ran: ok, unit: "%.2f ms", met: func(m float64) bool { return m < 10 }})
	}
	list, okList := r.figure("standalone", "list", 1, p50)
	create, okCreate := r.figure("standalone", "create", 1, p50)
	get, okGet := r.ratio("standalone", "get", "bareget", 64)
	return append(ts,
		target{what: "GET /seats/list/{id}, 10,000 seats available, one client: p50", goal: "< 5 ms",
			got: list, ran: okList, unit: "%.2f ms", met: func(m float64) bool { return m < 5 }},
		target{what: "POST /events/create, 10,000 seats, one client: p50", goal: "< 10 ms",
			got: create, ran: okCreate, unit: "%.2f ms", met: func(m float64) bool { return m < 10 }},
		target{what: "GET /events/{id}, 64 connections: share of bare gin (GET, no Redis)", goal: "≥ 80%",
			got: get, ran: okGet, unit: "%.0f%%", met: func(m float64) bool { return m >= 80 }},
	)
}

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

// summary is what the terminal shows at the end.
func (r report) summary() string {
	return "\n" + r.table() + "\n" + r.targetTable()
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
this file. Each scenario ran once in each of %d rounds, for %v; figures are
the median of the rounds and, in brackets, their range.

## Machine

%d CPUs (%s), %s, %s, %s, %s.
The load generator, the service, the ceiling server and Redis share these
CPUs, as they do in the targets of issue 3.

## Targets

%s
Ratios are taken round by round against the ceiling run next to each (just
before it in odd rounds, just after it in even ones), so both saw the machine
in about the same state.

## Load runs

%s
- **service**: bin/reservation with its default configuration (hold TTL
  60s, 6 holds per UUID, log level info, JSON logs to a file), only its
  address and Redis set.
- **ceiling**: cmd/benchceiling, a bare gin server: decode the JSON body and
  make one rueidis EVALSHA round trip, or decode it and make no Redis call,
  or answer a GET with no Redis call.
- **hold**: every request holds a seat of its own with a UUID of its own.
- **cluster**: three masters on this machine, no replicas; the events, and so
  the holds, spread over the three.

What shapes these figures: a hold is one script of four Redis calls (the
ceiling's is one), so Redis spends several µs more on it; the service's
Redis client gathers concurrent commands into one write (20 µs flush
delay), which saves system calls on both sides; the service logs
one line per request but samples those below warnings (every 5xx keeps its
line); events never change, so each instance answers GET /events/{id} from
memory once it has seen the event.

![hold throughput and latency against connections](benchmarks.svg)

## Commands

`+"```"+`
%s
%s`+"```"+`

SERVICE and CEILING stand for the servers' loopback addresses, EVENT... for
the ids of the events a seat run creates first (enough for a seat per
request), {event} for one 10,000-seat event.
`, r.machine.date.Format("2006-01-02 15:04 MST"), r.opts.rounds, r.opts.duration,
		r.machine.cpus, r.machine.cpu, r.machine.os, r.machine.goVersion, r.machine.redis, r.machine.wrk,
		r.targetTable(), r.table(), strings.Join(os.Args, " "), r.commands())
	if r.goBench != "" {
		fmt.Fprintf(&b, "\n## Go benchmarks\n\n`%s`\n\n```\n%s```\n", r.opts.goBenchCmd, benchLines(r.goBench))
	}
	return b.String()
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
