package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Redis's time per request: CONFIG RESETSTAT before a run, INFO
// commandstats after it. Only the service talks to Redis during a run (the
// ceiling and the preparing instances are idle), and the time of each
// command is the time Redis spent executing it, without reading the request
// or writing the answer.

// redisTime is Redis's time per request of a run.
type redisTime struct {
	us       float64            // per request
	commands map[string]float64 // µs per request by command, as INFO names them
	calls    map[string]int64   // calls of each command in the run
	nested   bool               // commands ran inside EXEC or scripts
}

// containers are the commands whose time includes that of the commands they
// run (Redis 7 counts both).
var containers = []string{"exec", "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"}

func (l *loader) resetRedisStats() error {
	ctx, cancel := context.WithTimeout(l.ctx, 5*time.Second)
	defer cancel()
	return l.redis.Do(ctx, l.redis.B().Arbitrary("CONFIG", "RESETSTAT").Build()).Error()
}

// redisStats reads INFO commandstats after a run of requests.
func (l *loader) redisStats(requests int64) (*redisTime, error) {
	ctx, cancel := context.WithTimeout(l.ctx, 5*time.Second)
	defer cancel()
	info, err := l.redis.Do(ctx, l.redis.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		return nil, err
	}
	if requests == 0 {
		return nil, fmt.Errorf("no requests to share Redis's time")
	}
	return parseCommandStats(info, requests)
}

// parseCommandStats shares the time of the commands in an INFO commandstats
// among requests. A container's time includes the commands it ran, which
// are also counted on their own: the time of the requests is the larger of
// the containers' and the rest's. That is exact when the requests' commands
// all ran inside containers (a transaction, a script) or none did; when
// some ran outside, it is at least each part, and the report lists the
// commands.
func parseCommandStats(info string, requests int64) (*redisTime, error) {
	t := &redisTime{commands: map[string]float64{}, calls: map[string]int64{}}
	var inside, outside float64
	for line := range strings.Lines(info) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
		if !ok {
			continue
		}
		name, fields, _ := strings.Cut(rest, ":")
		if name == "info" || strings.HasPrefix(name, "config|") || name == "client|setinfo" || name == "hello" || name == "ping" {
			continue // ours, or a client's connecting
		}
		var usec, calls float64
		for f := range strings.SplitSeq(fields, ",") {
			k, v, _ := strings.Cut(f, "=")
			var err error
			switch k {
			case "usec":
				usec, err = strconv.ParseFloat(v, 64)
			case "calls":
				calls, err = strconv.ParseFloat(v, 64)
			}
			if err != nil {
				return nil, fmt.Errorf("commandstats %q: %w", line, err)
			}
		}
		t.calls[name] = int64(calls)
		per := usec / float64(requests)
		t.commands[name] = per
		if slices.Contains(containers, name) {
			inside += per
			t.nested = true
		} else {
			outside += per
		}
	}
	t.us = max(inside, outside)
	return t, nil
}

// String lists the commands, the slowest first.
func (t *redisTime) String() string {
	names := slices.SortedFunc(maps.Keys(t.commands), func(a, b string) int {
		if t.commands[a] != t.commands[b] {
			if t.commands[a] > t.commands[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	if len(names) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %.1f µs", strings.ToUpper(n), t.commands[n]))
	}
	return strings.Join(parts, ", ")
}
