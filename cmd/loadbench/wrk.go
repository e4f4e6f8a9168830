package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/rueidis"
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
	// BodyBytes is the bytes of every response's body, as sent (gzipped
	// when it was).
	BodyBytes int64
	Command   string `json:"-"` // how to run it again, by hand
	// Redis is Redis's time per request, when measured.
	Redis *redisTime `json:"-"`
	// Probe is what the hold probe saw beside wrk (crowd.go), if it ran.
	Probe *probeResult `json:"-"`
	// CPU is what each process used during the run (cpu.go).
	CPU cpuUse `json:"-"`
}

func (w wrkResult) rate() float64 {
	return float64(w.Requests) / (float64(w.DurationUs) / 1e6)
}

func (w wrkResult) socketErrors() int64 {
	return w.Errors.Connect + w.Errors.Read + w.Errors.Write + w.Errors.Timeout
}

// loader runs scenarios with wrk.
type loader struct {
	ctx        context.Context
	o          options
	dir        string // the servers' working directory
	redisAddrs string
	script     string
	duration   time.Duration
	svc, ceil  *server
	event      string // a 10,000-seat event, for get and list
	// rates are the last request rates of each scenario, which size the
	// events a best-available run needs.
	rates map[string]float64
	// redis is a client of standalone Redis, for its statistics; nil
	// when no scenario needs them.
	redis rueidis.Client
	// The rest is made on first use (prepare.go).
	prep, expire *server
	client       *http.Client
	churn        churn
	guard        guarded
}

// warmUp is the length of a run that is not counted.
const warmUp = 2 * time.Second

// close stops what the loader started.
func (l *loader) close() error {
	var errs []error
	for _, s := range []*server{l.prep, l.expire} {
		if s != nil {
			errs = append(errs, s.stop())
		}
	}
	errs = append(errs, l.guard.stop()...)
	if l.redis != nil {
		l.redis.Close()
	}
	return errors.Join(errs...)
}

// run runs s once: a short warm-up when warm is set.
func (l *loader) run(s scenario, warm bool) (wrkResult, error) {
	d := l.duration
	if warm {
		d = warmUp
	}
	w, err := l.runFor(s, d, 1)
	var out ranOut
	if errors.As(err, &out) {
		// A best-available or guarded run outran its estimate: once more,
		// with twice the events or buyers.
		fmt.Printf("   %s: %v; once more with twice as many\n", s.label, err)
		w, err = l.runFor(s, d, 2)
	}
	if err == nil {
		l.rates[s.id] = w.rate()
	}
	return w, err
}

// ranOut is a run whose requests used every seat or buyer made for it.
type ranOut struct {
	n    int
	what string // "events" or "buyers"
}

func (e ranOut) Error() string {
	return fmt.Sprintf("wrk ran out of the %d %s made for it", e.n, e.what)
}

// runFor runs s for d; more scales the estimate of the events it needs.
func (l *loader) runFor(s scenario, d time.Duration, more int) (wrkResult, error) {
	srv, host := l.svc, "SERVICE"
	if s.ceiling {
		srv, host = l.ceil, "CEILING"
	}
	if s.guard != "" {
		var err error
		if srv, err = l.guardServer(s.guard); err != nil {
			return wrkResult{}, err
		}
		if srv != l.svc {
			host = "SERVICE-" + strings.ToUpper(s.guard)
		}
	}
	threads := strconv.Itoa(min(s.conns, 2))
	// The command as run, and as the report shows it: the ports and ids of
	// a run mean nothing afterwards.
	var args, shown []string
	add := func(arg, show string) { args, shown = append(args, arg), append(shown, show) }
	for _, a := range []string{"-t", threads, "-c", strconv.Itoa(s.conns), "-d", d.String()} {
		add(a, a)
	}
	if s.timeout > 0 {
		for _, a := range []string{"--timeout", s.timeout.String()} {
			add(a, a)
		}
	}
	if h := s.header; h != "" {
		if strings.Contains(h, etagHeader) {
			etag, err := l.etag()
			if err != nil {
				return wrkResult{}, err
			}
			h = strings.ReplaceAll(h, etagHeader, etag)
		}
		add("-H", "-H")
		add(h, "'"+strings.ReplaceAll(s.header, etagHeader, "ETAG")+"'")
	}
	add("-s", "-s")
	add(l.script, "cmd/loadbench/wrk.lua")
	var events []string
	var buyers buyerFile
	var err error
	// Each request of seats or buyers needs a seat of its own (wrk.lua's
	// seatsPerEvent).
	seatEvents := int(maxRate*(d+time.Second)/time.Second)/eventSeats + 1
	switch s.mode {
	case "seats":
		add(srv.url(""), "http://"+host)
		for _, a := range []string{"--", "seats", s.path, threads} {
			add(a, a)
		}
		events, err = l.freshEvents(s, seatEvents)
	case "buyers":
		add(srv.url(""), "http://"+host)
		for _, a := range []string{"--", "buyers", s.path, threads, strconv.Itoa(l.o.buyerHolds)} {
			add(a, a)
		}
		if buyers, err = l.buyers(s, d, more); err != nil {
			return wrkResult{}, err
		}
		defer os.Remove(buyers.path)
		add(buyers.key, buyers.shownKey)
		add(buyers.path, "BUYERS")
		events, err = l.freshEvents(s, seatEvents)
	case "cart":
		add(srv.url(""), "http://"+host)
		for _, a := range []string{"--", "cart", s.path, strconv.Itoa(cartSeats), threads} {
			add(a, a)
		}
		events, err = l.freshEvents(s, int(maxRate*(d+time.Second)/time.Second)/(eventSeats/cartSeats)+1)
	case "best":
		add(srv.url(""), "http://"+host)
		for _, a := range []string{"--", "best", s.path, strconv.Itoa(bestSeats), strconv.Itoa(bestPerEvent), threads} {
			add(a, a)
		}
		events, err = l.bestEvents(s, d, more)
	case "create":
		add(srv.url(""), "http://"+host)
		for _, a := range []string{"--", "create", s.path} {
			add(a, a)
		}
		add(string(createBody), "'"+string(createBody)+"'")
	default:
		event := l.event
		if s.churn {
			if event, err = l.churnEvent(); err != nil {
				return wrkResult{}, err
			}
		}
		add(srv.url(strings.ReplaceAll(s.path, "{event}", event)), "http://"+host+s.path)
		add("--", "--")
		add("get", "get")
	}
	if err != nil {
		return wrkResult{}, err
	}
	if events != nil {
		args, shown = append(args, events...), append(shown, "EVENT...")
		if !s.ceiling {
			// The run's holds would expire a TTL later, and the Expirer's
			// reclaim of them, with its records, would run inside the
			// measure of whichever scenario ran then.
			defer l.svc.deleteEvents(l.ctx, events)
		}
	}
	if l.redis != nil {
		if err := l.resetRedisStats(); err != nil {
			return wrkResult{}, err
		}
	}
	var stopProbe func() *probeResult
	if s.probe {
		if stopProbe, err = l.startProbe(srv); err != nil {
			return wrkResult{}, err
		}
	}
	noteLoad()
	mark, err := l.cpuStart(srv)
	if err != nil {
		return wrkResult{}, err
	}
	cmd := exec.CommandContext(l.ctx, "wrk", args...)
	out, err := cmd.CombinedOutput()
	var probe *probeResult
	if stopProbe != nil {
		probe = stopProbe()
	}
	if bytes.Contains(out, []byte("loadbench: out of seats")) {
		return wrkResult{}, ranOut{len(events), "events"}
	}
	if bytes.Contains(out, []byte("loadbench: out of buyers")) {
		return wrkResult{}, ranOut{buyers.n, "buyers"}
	}
	var w wrkResult
	if err == nil {
		w, err = parseWrk(out)
	}
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", strings.Join(shown, " "), err, out)
	}
	w.Command = "wrk " + strings.Join(shown, " ")
	w.Probe = probe
	if w.CPU, err = l.cpuSince(srv, mark, cmd.ProcessState); err != nil {
		return wrkResult{}, err
	}
	if l.redis != nil {
		if w.Redis, err = l.redisStats(w.Statuses[strconv.Itoa(s.expect)]); err != nil {
			return wrkResult{}, err
		}
	}
	return w, nil
}

// etagHeader in a scenario's header stands for the ETag of the list of
// its event.
const etagHeader = "{etag}"

// etag is the ETag of the list of the loader's event, as a seat map that
// listed it once has it.
func (l *loader) etag() (string, error) {
	resp, err := newAPI(l.svc.url(""), l.httpClient()).ListAvailableSeats(l.ctx, l.event, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return "", err
	}
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || etag == "" {
		return "", fmt.Errorf("list of %s: status %d, ETag %q", l.event, resp.StatusCode, etag)
	}
	return etag, nil
}

// freshEvents returns n events for s: new events of the service, or for
// the ceiling, which reads none, ids of no event.
func (l *loader) freshEvents(s scenario, n int) ([]string, error) {
	if s.ceiling {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = uuid.NewString()
		}
		return ids, nil
	}
	return l.svc.createEvents(l.ctx, n, createBody)
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
