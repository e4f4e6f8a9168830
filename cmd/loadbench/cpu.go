package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// The CPU a run took, process by process: the load generator, the server
// under load, and standalone Redis. The machine's CPUs are shared by all
// three, so a scenario's rate is about the CPUs over the sum of their
// times per request: the figure that says which of them a gap to a
// ceiling is in.

// cpuUse is the CPU time each process used during a run.
type cpuUse struct {
	wrk, server time.Duration
	redis       time.Duration // of standalone Redis; 0 when not measured
}

// cpuMark is what cpuUse is measured from: the server's and Redis's CPU
// times when the run starts (wrk's own start at zero).
type cpuMark struct {
	server, redis time.Duration
}

// cpuStart marks the CPU times of srv and of Redis, if measured.
func (l *loader) cpuStart(srv *server) (cpuMark, error) {
	var m cpuMark
	var err error
	if m.server, err = cpuTime(srv.cmd.Process.Pid); err != nil {
		return m, err
	}
	if l.redis != nil {
		m.redis, err = l.redisCPU()
	}
	return m, err
}

// cpuSince is the CPU each process used since m; wrk's is its own,
// counted by the kernel when it exited.
func (l *loader) cpuSince(srv *server, m cpuMark, wrk *os.ProcessState) (cpuUse, error) {
	u := cpuUse{wrk: wrk.UserTime() + wrk.SystemTime()}
	now, err := l.cpuStart(srv)
	if err != nil {
		return u, err
	}
	u.server = now.server - m.server
	if l.redis != nil {
		u.redis = now.redis - m.redis
	}
	return u, nil
}

// redisCPU is Redis's CPU time so far (INFO cpu: user and system, of
// every thread).
func (l *loader) redisCPU() (time.Duration, error) {
	ctx, cancel := context.WithTimeout(l.ctx, 5*time.Second)
	defer cancel()
	info, err := l.redis.Do(ctx, l.redis.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		return 0, err
	}
	return parseRedisCPU(info)
}

// parseRedisCPU adds used_cpu_user and used_cpu_sys of an INFO cpu.
func parseRedisCPU(info string) (time.Duration, error) {
	var total time.Duration
	found := 0
	for line := range strings.Lines(info) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k != "used_cpu_user" && k != "used_cpu_sys" {
			continue
		}
		s, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("INFO cpu %q: %w", line, err)
		}
		total += time.Duration(s * float64(time.Second))
		found++
	}
	if found != 2 {
		return 0, fmt.Errorf("INFO cpu: no used_cpu_user and used_cpu_sys in %q", info)
	}
	return total, nil
}

// cpuOf is a figure of the report: the CPU time per request, in µs, that
// part takes of a run; NaN when the run did not measure it.
func cpuOf(part func(cpuUse) time.Duration) func(wrkResult) float64 {
	return func(w wrkResult) float64 {
		d := part(w.CPU)
		if d == 0 || w.Requests == 0 {
			return math.NaN()
		}
		return float64(d.Nanoseconds()) / 1e3 / float64(w.Requests)
	}
}

var (
	cpuWrk    = cpuOf(func(u cpuUse) time.Duration { return u.wrk })
	cpuServer = cpuOf(func(u cpuUse) time.Duration { return u.server })
	cpuRedis  = cpuOf(func(u cpuUse) time.Duration { return u.redis })
	// cpuAll is the three together, when Redis's was measured.
	cpuAll = cpuOf(func(u cpuUse) time.Duration {
		if u.redis == 0 {
			return 0
		}
		return u.wrk + u.server + u.redis
	})
)

// cpuTable is the CPU per request of each process, in the runs that
// measured Redis's: where the CPUs of a scenario go, against its ceiling.
func (r report) cpuTable() string {
	var b strings.Builder
	b.WriteString("| request | conns | wrk | server | Redis | all three | CPUs busy |\n|---|--:|--:|--:|--:|--:|--:|\n")
	for _, x := range r.rows() {
		runs := r.runs(x.topology, x.scenario.id, x.scenario.conns)
		if len(runs) == 0 || runs[len(runs)-1].CPU.redis == 0 {
			continue
		}
		cell := func(f func(wrkResult) float64, verb string) string {
			s, _ := r.figure(x.topology, x.scenario.id, x.scenario.conns, f)
			return s.format(verb)
		}
		busy := func(w wrkResult) float64 { return cpuAll(w) * w.rate() / 1e6 }
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", x.scenario.label, x.scenario.conns,
			cell(cpuWrk, "%.1f"), cell(cpuServer, "%.1f"), cell(cpuRedis, "%.1f"), cell(cpuAll, "%.1f"), cell(busy, "%.2f"))
	}
	return b.String()
}
