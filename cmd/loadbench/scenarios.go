package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
)

// scenario is one kind of load: a request, on the service or the ceiling
// server, at a number of connections.
type scenario struct {
	id      string // what the report looks results up by
	label   string
	ceiling bool   // served by benchceiling
	mode    string // wrk.lua's mode: seats, create or get
	path    string // "{event}" stands for a 10,000-seat event's id
	conns   int
	expect  int // the only status a response may have
}

// curve is the concurrency of the hold curve.
var curve = []int{8, 64, 256}

// holdCurve has each hold run right after the ceiling run it is compared
// with, so that both see the machine in the same state.
func holdCurve() []scenario {
	var s []scenario
	for _, c := range curve {
		s = append(s,
			scenario{id: "evalsha", label: "ceiling: gin + JSON + one EVALSHA", ceiling: true, mode: "seats", path: "/evalsha", conns: c, expect: http.StatusOK},
			scenario{id: "hold", label: "POST /seats/hold", mode: "seats", path: "/seats/hold", conns: c, expect: http.StatusOK})
	}
	return s
}

// inOrder is the order of the scenarios in a round: every other round runs
// each hold before its ceiling rather than after, so that load on the
// machine that grows or fades during a pair does not always favour the
// same side of the ratio.
func inOrder(scenarios []scenario, round int) []scenario {
	s := slices.Clone(scenarios)
	if round%2 == 0 {
		for i := 0; i+1 < len(s); i++ {
			if s[i].id == "evalsha" && s[i+1].id == "hold" {
				s[i], s[i+1] = s[i+1], s[i]
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
	"standalone": {name: "standalone", start: redistest.StartStandalone, scenarios: append(holdCurve(),
		scenario{id: "decode", label: "ceiling: bare gin, POST + JSON, no Redis", ceiling: true, mode: "seats", path: "/decode", conns: 64, expect: http.StatusOK},
		scenario{id: "bareget", label: "ceiling: bare gin, GET, no Redis", ceiling: true, mode: "get", path: "/get/x", conns: 64, expect: http.StatusOK},
		scenario{id: "get", label: "GET /events/{id}", mode: "get", path: "/events/{event}", conns: 64, expect: http.StatusOK},
		scenario{id: "list", label: "GET /seats/list/{id} (10,000 available)", mode: "get", path: "/seats/list/{event}", conns: 1, expect: http.StatusOK},
		scenario{id: "create", label: "POST /events/create (10,000 seats)", mode: "create", path: "/events/create", conns: 1, expect: http.StatusCreated},
	)},
	"cluster": {name: "cluster", start: redistest.StartCluster, scenarios: holdCurve()},
}

// maxRate bounds the requests per second of a seat scenario, for which
// each request needs a seat of its own: far above what this service can do
// on one machine, so the seats never run out.
const maxRate = 100_000

// runTopology starts Redis, the service and the ceiling server, runs every
// scenario of t o.rounds times and stops them all. It returns the results
// gathered so far with any error.
func runTopology(ctx context.Context, o options, t topology) (results []result, err error) {
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
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	svc, err := startServer(ctx, "service", dir, addr, "/readyz", serviceEnv(addr, redisAddrs), o.service)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, svc.stop()) }()
	if addr, err = freeAddr(); err != nil {
		return nil, err
	}
	ceil, err := startServer(ctx, "ceiling", dir, addr, "/get/x", os.Environ(), o.ceiling, "-addr", addr, "-redis", redisAddrs)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, ceil.stop()) }()

	events, err := svc.createEvents(ctx, 1)
	if err != nil {
		return nil, err
	}
	l := loader{ctx: ctx, script: script, duration: o.duration, svc: svc, ceil: ceil, event: events[0]}
	// Warm-up, not counted: connections, loaded scripts, the Go runtime.
	for _, s := range t.scenarios[:2] {
		if _, err := l.run(s, true); err != nil {
			return nil, err
		}
	}
	for round := 1; round <= o.rounds; round++ {
		for _, s := range inOrder(t.scenarios, round) {
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

// serviceEnv is the service's default configuration, but for its address
// and its Redis.
func serviceEnv(addr, redisAddrs string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RESERVATION_") {
			env = append(env, kv)
		}
	}
	return append(env, "RESERVATION_HTTP_ADDR="+addr, "RESERVATION_REDIS_ADDRS="+redisAddrs)
}
