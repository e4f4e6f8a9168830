package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
)

// scenario is one kind of load: a request, on the service or the ceiling
// server, at a number of connections.
type scenario struct {
	id      string // what the report looks results up by
	label   string
	ceiling bool   // served by benchceiling
	mode    string // wrk.lua's mode: seats, buyers, cart, best, create or get
	path    string // "{event}" stands for the scenario's event
	conns   int
	expect  int // the only status a response may have
	// shed is a second status a response may have: the lists shed at the
	// instance's cap (crowd.go); 0 for none.
	shed int
	// probe runs the hold probe (crowd.go) beside wrk.
	probe bool
	// timeout is wrk's for a response; 0 for its own (2s).
	timeout time.Duration
	// base is the ceiling scenario whose rate this one's is a share of:
	// it runs next to it in every round (see inOrder).
	base string
	// churn says "{event}" of a get stands for an event of 10,000 seats,
	// 5,000 of them under live holds and 5,000 under expired ones, every
	// hold by a 128-character UUID (see prepare.go), rather than a fresh
	// one.
	churn bool
	// guard names the guardLayer of the instance of the service it runs
	// on (guard.go); "" for the one of the default configuration.
	guard string
	// rounds is how many rounds it runs in, the first ones; 0 for all.
	rounds int
	// header is a header of every request, "Name: value" (wrk's -H),
	// "" for none; "{etag}" in it stands for the ETag of the list of the
	// event, fetched before the run.
	header string
}

// Sizes of the cart scenarios.
const (
	cartSeats = 6 // seats of a cart hold
	bestSeats = 4 // seats of a best-available hold
)

// curve is the concurrency of the hold curve.
var curve = []int{8, 64, 256}

// holdCurve has each hold run right after the ceiling run it is compared
// with, so that both see the machine in the same state.
func holdCurve() []scenario {
	var s []scenario
	for _, c := range curve {
		s = append(s,
			scenario{id: "evalsha", label: "ceiling: gin + JSON + one EVALSHA", ceiling: true, mode: "seats", path: "/evalsha", conns: c, expect: http.StatusOK},
			scenario{id: "hold", label: "POST /seats/hold", mode: "seats", path: "/seats/hold", conns: c, expect: http.StatusOK, base: "evalsha"})
		if c == 64 {
			// The bound of the hold's share (report.go, boundsTable). Its
			// keys, and the cart's bound's, stay in Redis: a few MB a
			// run, of keys no other scenario reads.
			s = append(s, scenario{id: "writes", label: "bound: gin + JSON + one EVALSHA of a hold's writes alone", ceiling: true, mode: "seats", path: "/writes",
				conns: c, expect: http.StatusOK, base: "evalsha"})
		}
	}
	return s
}

// cartScenarios are the holds of carts, the summary and the list during a
// sale, each after its ceiling.
func cartScenarios() []scenario {
	return []scenario{
		{id: "cartceil", label: "ceiling: gin + cart JSON + one EVALSHA", ceiling: true, mode: "cart", path: "/evalsha/{event}/hold", conns: 64, expect: http.StatusOK},
		{id: "cart", label: "POST /events/{id}/hold, 6 listed seats", mode: "cart", path: "/events/{event}/hold", conns: 64, expect: http.StatusOK, base: "cartceil"},
		{id: "cartwrites", label: "bound: gin + cart JSON + one EVALSHA of a cart's writes alone", ceiling: true, mode: "cart", path: "/writes/{event}/hold", conns: 64,
			expect: http.StatusOK, base: "cartceil"},
		{id: "bestceil", label: "ceiling: gin + best-available JSON + one EVALSHA", ceiling: true, mode: "best", path: "/evalsha/{event}/hold", conns: 64, expect: http.StatusOK},
		{id: "best", label: "POST /events/{id}/hold, best available 4 (5,000 live holds)", mode: "best", path: "/events/{event}/hold", conns: 64, expect: http.StatusOK, base: "bestceil"},
		{id: "sumceil", label: "ceiling: gin GET + one EVALSHA", ceiling: true, mode: "get", path: "/evalsha/{event}/summary", conns: 64, expect: http.StatusOK},
		{id: "summary", label: "GET /events/{id}/summary (5,000 live + 5,000 expired holds)", mode: "get", path: "/events/{event}/summary", conns: 64, expect: http.StatusOK, base: "sumceil", churn: true},
		{id: "churnlist", label: "GET /seats/list/{id} (5,000 live + 5,000 expired holds)", mode: "get", path: "/seats/list/{event}", conns: 1, expect: http.StatusOK, churn: true},
	}
}

// inOrder is the order of the scenarios in a round: every other round runs
// each scenario before its ceiling rather than after, so that load on the
// machine that grows or fades during a pair does not always favour the
// same side of the ratio.
func inOrder(scenarios []scenario, round int) []scenario {
	s := slices.Clone(scenarios)
	if round%2 == 0 {
		for i := 0; i+1 < len(s); i++ {
			if s[i+1].base != "" && s[i+1].base == s[i].id {
				s[i], s[i+1] = s[i+1], s[i]
				i++
			}
		}
	}
	return s
}

// topology is a Redis set-up and the scenarios run against it.
type topology struct {
	name      string
	start     func() (*redistest.Servers, error)
	scenarios []scenario
}

var topologies = map[string]topology{
	"standalone": {name: "standalone", start: redistest.StartStandalone, scenarios: slices.Concat(withGuardedHolds(holdCurve()), []scenario{
		{id: "decode", label: "ceiling: bare gin, POST + JSON, no Redis", ceiling: true, mode: "seats", path: "/decode", conns: 64, expect: http.StatusOK},
		{id: "bareget", label: "ceiling: bare gin, GET, no Redis", ceiling: true, mode: "get", path: "/get/x", conns: 64, expect: http.StatusOK},
		{id: "get", label: "GET /events/{id}", mode: "get", path: "/events/{event}", conns: 64, expect: http.StatusOK, base: "bareget"},
		{id: "list304", label: "GET /seats/list/{id} with If-None-Match: its ETag (10,000 available)", mode: "get", path: "/seats/list/{event}", conns: 64,
			expect: http.StatusNotModified, base: "bareget", header: "If-None-Match: " + etagHeader},
		{id: "list", label: "GET /seats/list/{id} (10,000 available)", mode: "get", path: "/seats/list/{event}", conns: 1, expect: http.StatusOK},
		{id: "gzlist", label: "GET /seats/list/{id}, Accept-Encoding: gzip (10,000 available)", mode: "get", path: "/seats/list/{event}", conns: 1,
			expect: http.StatusOK, header: "Accept-Encoding: gzip"},
		{id: "create", label: "POST /events/create (10,000 seats)", mode: "create", path: "/events/create", conns: 1, expect: http.StatusCreated},
	}, cartScenarios(), crowdScenarios())},
	"cluster": {name: "cluster", start: redistest.StartCluster, scenarios: holdCurve()},
}

// selected keeps the scenarios named in only (comma-separated; empty keeps
// all), each by its id, for every concurrency, or by id@conns, e.g.
// hold@64.
func selected(scenarios []scenario, only string) []scenario {
	if only == "" {
		return scenarios
	}
	names := strings.Split(only, ",")
	return slices.DeleteFunc(slices.Clone(scenarios), func(s scenario) bool {
		return !slices.Contains(names, s.id) && !slices.Contains(names, s.id+"@"+strconv.Itoa(s.conns))
	})
}

// warmUps are the scenarios to run once, not counted, before the rounds:
// the first two, for the connections, loaded scripts and Go runtime of
// the servers, and each one on an instance of its own (a guarded one with
// some of the guard on), for its own.
func warmUps(scenarios []scenario) []scenario {
	warm := scenarios[:min(2, len(scenarios))]
	for _, s := range scenarios[len(warm):] {
		if s.guard != "" && !layerOf(s.guard).off() {
			warm = append(slices.Clip(warm), s)
		}
	}
	return warm
}

// maxRate bounds the requests per second of a seat or cart scenario, for
// which each request needs seats of its own: far above what this service
// can do on one machine, so the seats never run out.
const maxRate = 100_000

// runTopology starts Redis, the service and the ceiling server, runs every
// scenario of t o.rounds times and stops them all. It returns the results
// gathered so far with any error.
func runTopology(ctx context.Context, o options, t topology) (results []result, err error) {
	scenarios := selected(t.scenarios, o.scenarios)
	if len(scenarios) == 0 {
		return nil, nil
	}
	fmt.Printf("== %s: starting Redis\n", t.name)
	redis, err := t.start()
	if err != nil {
		return nil, fmt.Errorf("start Redis %s: %w", t.name, err)
	}
	defer redis.Stop()
	dir, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "wrk.lua")
	if err := os.WriteFile(script, wrkScript, 0o644); err != nil {
		return nil, err
	}

	redisAddrs := strings.Join(redis.Addrs(), ",")
	svc, err := startService(ctx, o, dir, "service", redisAddrs)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, svc.stop()) }()
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	ceil, err := startServer(ctx, "ceiling", dir, addr, "/get/x", os.Environ(), o.ceiling, "-addr", addr, "-redis", redisAddrs)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, ceil.stop()) }()

	events, err := svc.createEvents(ctx, 1, createBody)
	if err != nil {
		return nil, err
	}
	l := &loader{ctx: ctx, o: o, dir: dir, redisAddrs: redisAddrs, script: script, duration: o.duration,
		svc: svc, ceil: ceil, event: events[0], rates: map[string]float64{}}
	defer func() { err = errors.Join(err, l.close()) }()
	// Redis's time per request is measured on standalone Redis, where one
	// server runs every command.
	if len(redis.Addrs()) == 1 {
		if l.redis, err = rueidis.NewClient(rueidis.ClientOption{InitAddress: redis.Addrs(), DisableCache: true}); err != nil {
			return nil, err
		}
	}
	for _, s := range warmUps(scenarios) {
		if _, err := l.run(s, true); err != nil {
			return nil, err
		}
	}
	for round := 1; round <= o.rounds; round++ {
		for _, s := range inOrder(scenarios, round) {
			if s.rounds > 0 && round > s.rounds {
				continue
			}
			w, err := l.run(s, false)
			if err != nil {
				return results, err
			}
			r := result{topology: t.name, scenario: s, round: round, wrk: w}
			fmt.Println(r)
			results = append(results, r)
		}
	}
	return results, nil
}

// startService starts an instance of the service on a free address with
// its default configuration but for its address, its Redis (none: the
// in-memory store) and settings, "NAME=value" pairs of its environment.
func startService(ctx context.Context, o options, dir, name, redisAddrs string, settings ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return startServer(ctx, name, dir, addr, "/readyz", serviceEnv(addr, redisAddrs, settings...), o.service)
}

// serviceEnv is the service's default configuration, but for its address,
// its Redis and settings: none of the caller's settings, nor its OTEL_*
// variables, which would benchmark the service with traces on.
func serviceEnv(addr, redisAddrs string, settings ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RESERVATION_") && !strings.HasPrefix(kv, "OTEL_") {
			env = append(env, kv)
		}
	}
	env = append(env, "RESERVATION_HTTP_ADDR="+addr)
	if redisAddrs != "" {
		env = append(env, "RESERVATION_REDIS_ADDRS="+redisAddrs)
	}
	return append(env, settings...)
}
