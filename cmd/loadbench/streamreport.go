package main

import (
	"fmt"
	"slices"
	"strings"
)

// The stream's part of the report (stream.go): a line per run, its
// targets, and its section.

// streamTargetSubscribers is the run the targets are about.
const streamTargetSubscribers = 1000

// The stream's goals at streamTargetSubscribers.
const (
	streamMinRate  = 5000 // changes/s
	streamMaxLagMs = 500  // p99
	streamMaxRSSMB = 300
)

func (r streamRun) p99() float64   { return r.lags.percentile(0.99) }
func (r streamRun) rssMB() float64 { return float64(r.peakRSS) / (1 << 20) }

// streamRunOf is the run of n subscribers.
func (r report) streamRunOf(n int) (streamRun, bool) {
	for _, run := range r.streams {
		if run.subscribers == n {
			return run, true
		}
	}
	return streamRun{}, false
}

// streamTargets are the goals of the stream, measured at
// streamTargetSubscribers.
func (r report) streamTargets() []target {
	run, ok := r.streamRunOf(streamTargetSubscribers)
	if !ok {
		return nil
	}
	what := fmt.Sprintf("GET /events/{id}/stream, %s subscribers of one event on one instance beside a sale of it, standalone: ", thousands(streamTargetSubscribers))
	one := func(v float64) spread { return spread{v, v, v} }
	return []target{
		{what: what + "changes/s of the sale", goal: fmt.Sprintf("≥ %s", thousands(streamMinRate)), got: one(run.changeRate()), ran: true, unit: "%.0f",
			met: func(m float64) bool { return m >= streamMinRate }},
		{what: what + "subscribers that missed a change, saw one twice or out of order", goal: "0", got: one(float64(run.failed)), ran: true, unit: "%.0f",
			met: func(m float64) bool { return m == 0 }},
		{what: what + "subscribers disconnected, or behind at the end", goal: "0", got: one(float64(run.resumed + run.behind)), ran: true, unit: "%.0f",
			met: func(m float64) bool { return m == 0 }},
		{what: what + "p99 lag from a change's store time to its arrival", goal: fmt.Sprintf("< %d ms", streamMaxLagMs), got: one(run.p99()), ran: true, unit: "%.0f ms",
			met: func(m float64) bool { return m < streamMaxLagMs }},
		{what: what + "the instance's peak RSS (VmHWM)", goal: fmt.Sprintf("< %d MB", streamMaxRSSMB), got: one(run.rssMB()), ran: true, unit: "%.0f MB",
			met: func(m float64) bool { return m < streamMaxRSSMB }},
	}
}

// allStreams is every run of the stream: those of r.streams, then the one
// beside other events followed.
func (r report) allStreams() []streamRun {
	if r.followed == nil {
		return r.streams
	}
	return append(slices.Clip(r.streams), *r.followed)
}

// followedTargets are the goals of the run beside other events followed:
// the stream's lag, whatever the number of events the instance follows.
func (r report) followedTargets() []target {
	run := r.followed
	if run == nil {
		return nil
	}
	what := fmt.Sprintf("GET /events/{id}/stream, %s subscribers of one event beside a sale of it, while the instance follows %s other events (one subscriber each), cluster: ",
		thousands(run.subscribers), thousands(run.followed))
	one := func(v float64) spread { return spread{v, v, v} }
	return []target{
		{what: what + "p99 lag from a change's store time to its arrival", goal: fmt.Sprintf("< %d ms", streamMaxLagMs), got: one(run.p99()), ran: true, unit: "%.0f ms",
			met: func(m float64) bool { return m < streamMaxLagMs }},
		{what: what + "subscribers that missed a change, saw one twice or out of order, were disconnected or behind at the end", goal: "0",
			got: one(float64(run.failed + run.resumed + run.behind)), ran: true, unit: "%.0f", met: func(m float64) bool { return m == 0 }},
	}
}

// followedNote is the section's word on the run beside other events
// followed, "" when it did not run.
func (r report) followedNote() string {
	if r.followed == nil {
		return ""
	}
	return fmt.Sprintf(`- **other events followed** (the last run): on a cluster of three masters
  instead, %s subscribers of the sale's event and a sale paced to %s
  changes a second, while %s other events of the instance have one
  subscriber each and no change, as the seat maps of a day's other events
  would: the instance's follower of the streams waits on all of them, and
  the sale's changes must still reach their subscribers within the same lag.
`, thousands(r.followed.subscribers), thousands(followedRate), thousands(r.followed.followed))
}

// subscribersCell names a run's subscribers in the stream's table.
func (run streamRun) subscribersCell() string {
	if run.followed == 0 {
		return thousands(run.subscribers)
	}
	return fmt.Sprintf("%s, and %s other events followed", thousands(run.subscribers), thousands(run.followed))
}

// streamTable has a line per run.
func (r report) streamTable() string {
	runs := r.allStreams()
	if len(runs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| Redis | subscribers | changes/s | changes (records) | lag p50 ms | p99 ms | max ms | messages/s, all subscribers | MB/s received | peak RSS MB | CPUs: instance, loadbench | sale's answers | disconnected, resumed | behind at the end | every change once, in order |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|---|\n")
	for _, run := range runs {
		checked := "every subscriber"
		if run.failed > 0 {
			checked = fmt.Sprintf("**%d failed**: %s", run.failed, strings.Join(run.problems, "; "))
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %d (%d) | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f, %.2f | %s | %d | %d | %s |\n", run.topology, run.subscribersCell(), run.changeRate(),
			run.changes, run.records, run.lags.percentile(0.5), run.p99(), float64(run.lags.max)/1000, run.messageRate(),
			float64(run.bytes)/run.sale.Seconds()/1e6, run.rssMB(), run.cpuShare(0), run.cpuShare(1), statusCounts(run.requests), run.resumed, run.behind, checked)
	}
	return b.String()
}

// streamSection is the report's section of the stream, "" when it did not
// run.
func (r report) streamSection() string {
	table := r.streamTable()
	if table == "" {
		return ""
	}
	var settings []string
	for _, run := range r.allStreams() {
		if run.settings != nil {
			settings = append(settings, fmt.Sprintf("%s subscribers: `%s`", thousands(run.subscribers), strings.Join(run.settings, " ")))
		}
	}
	raised := ""
	if settings != nil {
		raised = " but for " + strings.Join(settings, ", ")
	}
	return fmt.Sprintf(`
## The stream

%s
- Each run has an instance of its own (its default configuration%s) on
  standalone Redis, and one 10,000-seat event. Its subscribers, Go clients
  of `+"`GET /events/{id}/stream`"+` (`+"`Accept: text/event-stream`"+`), connect and
  read their snapshot; then %d Go clients change seats of the event through
  the same instance for %v, paced to %s changes a second in all: each holds
  a seat of its own (`+"`POST /seats/hold`"+`) and releases it (`+"`POST /events/{id}/release`"+`),
  or one time in %d reserves it (`+"`POST /seats/reserve`"+`), then the next.
%s- **changes/s**: the changes after the snapshots, over the time from the
  first one's store time to the last one's.
- **every change once, in order**: each subscriber checks as they come that
  positions only grow and a record's seats come in one message; at the end
  its changes since its snapshot, byte for byte and in order, are those of
  `+"`GET /events/{id}/changes`"+` (every page) after the snapshot's position, up
  to the last one it saw. Any failure fails `+"`make bench`"+`.
- **behind at the end**: subscribers that had not seen the last change %v
  after the sale (checked as far as they got).
- **disconnected, resumed**: the subscribers that the instance disconnected
  (one that cannot keep up is, by design), each of which resumed after
  the stream's `+"`retry:`"+` hint (2 s) with `+"`Last-Event-ID`"+`, as EventSource
  does, from the last message it read to its end; their changes count
  across their connections. At up to %s subscribers, a subscriber
  disconnected or behind fails `+"`make bench`"+`; beyond, it is the figure.
- **lag**: a change's arrival at its subscriber (when its message's data
  began to come) less its store time (`+"`at`"+`, milliseconds); every change of
  every subscriber counts.
- **peak RSS**: the instance's VmHWM (`+"`/proc/<pid>/status`"+`) at the end of the run.
- **CPUs**: the CPU time of the instance, and of loadbench (its subscribers
  and the sale's clients), from the sale's start until every subscriber saw
  the last change, over that time (`+"`/proc/<pid>/stat`"+`): of the machine's %d.
- The subscribers (one goroutine and connection each, no SSE library: they
  read in place and keep counts) share the machine's CPUs with the sale's
  clients, the service and Redis.

![stream lag and memory against subscribers](benchmarks-stream.svg)
`, table, raised, streamClients, r.opts.streamDuration, thousands(r.opts.streamRate), streamReserveEvery,
		r.followedNote(), streamCatchUp, thousands(streamTargetSubscribers), r.machine.cpus)
}
