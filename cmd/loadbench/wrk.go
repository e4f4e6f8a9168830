package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

//go:embed wrk.lua
var wrkScript []byte

// wrkResult is what wrk.lua prints at the end of a run.
type wrkResult struct {
	Requests   int64
	DurationUs int64
	Errors     struct{ Connect, Read, Write, Timeout int64 }
	LatencyUs  struct{ P50, P90, P99, Max int64 }
	Statuses   map[string]int64
	Command    string `json:"-"` // how to run it again, by hand
}

func (w wrkResult) rate() float64 {
	return float64(w.Requests) / (float64(w.DurationUs) / 1e6)
}

func (w wrkResult) socketErrors() int64 {
	return w.Errors.Connect + w.Errors.Read + w.Errors.Write + w.Errors.Timeout
}

// loader runs scenarios with wrk.
type loader struct {
	ctx       context.Context
	script    string
	duration  time.Duration
	svc, ceil *server
	event     string // a 10,000-seat event, for get and list
}

// warmUp is the length of a run that is not counted.
const warmUp = 2 * time.Second

// run runs s once: a short warm-up when warm is set.
func (l loader) run(s scenario, warm bool) (wrkResult, error) {
	srv, host := l.svc, "SERVICE"
	if s.ceiling {
		srv, host = l.ceil, "CEILING"
	}
	d := l.duration
	if warm {
		d = warmUp
	}
	threads := strconv.Itoa(min(s.conns, 2))
	// The command as run, and as the report shows it: the ports and ids of
	// a run mean nothing afterwards.
	var args, shown []string
	add := func(arg, show string) { args, shown = append(args, arg), append(shown, show) }
	for _, a := range []string{"-t", threads, "-c", strconv.Itoa(s.conns), "-d", d.String()} {
		add(a, a)
	}
	add("-s", "-s")
	add(l.script, "cmd/loadbench/wrk.lua")
	switch s.mode {
	case "seats":
		add(srv.url(""), "http://"+host)
		for _, a := range []string{"--", "seats", s.path, threads} {
			add(a, a)
		}
		// Each request needs a seat of its own (wrk.lua's seatsPerEvent).
		events, err := l.svc.createEvents(l.ctx, int(maxRate*(d+time.Second)/time.Second)/10000+1)
		if err != nil {
			return wrkResult{}, err
		}
		args, shown = append(args, events...), append(shown, "EVENT...")
	case "create":
		add(srv.url(""), "http://"+host)
		for _, a := range []string{"--", "create", s.path} {
			add(a, a)
		}
		add(string(createBody), "'"+string(createBody)+"'")
	default:
		add(srv.url(strings.ReplaceAll(s.path, "{event}", l.event)), "http://"+host+s.path)
		add("--", "--")
		add("get", "get")
	}
	out, err := exec.CommandContext(l.ctx, "wrk", args...).CombinedOutput()
	if err == nil {
		var w wrkResult
		if w, err = parseWrk(out); err == nil {
			w.Command = "wrk " + strings.Join(shown, " ")
			return w, nil
		}
	}
	return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(shown, " "), err, out)
}

// parseWrk finds wrk.lua's line in wrk's output.
func parseWrk(out []byte) (wrkResult, error) {
	const prefix = "loadbench "
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			var w wrkResult
			err := json.Unmarshal([]byte(line), &w)
			return w, err
		}
	}
	return wrkResult{}, fmt.Errorf("no %q line", prefix)
}
