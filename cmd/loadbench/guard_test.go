package main

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/identity"
)

func ids(scenarios []scenario) string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.id+"@"+strconv.Itoa(s.conns))
	}
	return strings.Join(out, " ")
}

// The guarded holds run next to the plain hold at 64 connections, can be
// picked one concurrency at a time, and get a warm-up of their own on an
// instance of their own.
func TestGuardedScenarios(t *testing.T) {
	t.Parallel()
	all := topologies["standalone"].scenarios
	for _, tt := range []struct {
		give, want, wantWarm string
	}{
		{give: "hold@64", want: "hold@64", wantWarm: "hold@64"},
		{give: "hold", want: "hold@8 hold@64 hold@256", wantWarm: "hold@8 hold@64"},
		{
			give:     "evalsha@64,hold@64,holdall,holdoff,holdkey,holdtoken,holdlimits",
			want:     "evalsha@64 hold@64 holdall@64 holdoff@64 holdkey@64 holdtoken@64 holdlimits@64",
			wantWarm: "evalsha@64 hold@64 holdall@64 holdkey@64 holdtoken@64 holdlimits@64",
		},
		{give: "holdoff,holdtoken", want: "holdoff@64 holdtoken@64", wantWarm: "holdoff@64 holdtoken@64"},
	} {
		s := selected(all, tt.give)
		if got := ids(s); got != tt.want {
			t.Errorf("selected %s = %s, want %s", tt.give, got, tt.want)
		}
		if got := ids(warmUps(s)); got != tt.wantWarm {
			t.Errorf("warm-ups of %s = %s, want %s", tt.give, got, tt.wantWarm)
		}
	}
	if got := ids(selected(all, "")[2:9]); got != "evalsha@64 hold@64 holdall@64 holdoff@64 holdkey@64 holdtoken@64 holdlimits@64" {
		t.Errorf("standalone's scenarios around the hold at 64: %s", got)
	}
}

// What the guarded instances are started with and what wrk sends them
// are what the service's identity package accepts: the key has
// seats:write, every buyer's token is valid for its own UUID, and there
// are enough buyers for the expected rate.
func TestGuardedCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	creds, err := newCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := identity.LoadKeys(creds.keysFile)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := keys.Lookup(creds.key); !ok || !k.Has(identity.ScopeSeatsWrite) || k.Name != keyName {
		t.Errorf("key %+v, %v", k, ok)
	}
	tokens, err := identity.NewTokens(identity.TokenConfig{SecretFile: creds.secretFile})
	if err != nil {
		t.Fatal(err)
	}
	l := &loader{dir: dir, o: options{buyerHolds: 6}, rates: map[string]float64{"evalsha": 1000}, guard: guarded{creds: creds}}
	for _, tt := range []struct {
		layer   string
		wantKey string
		tokens  bool
	}{
		{layer: "all", wantKey: creds.key, tokens: true},
		{layer: "off", wantKey: "-"},
		{layer: "key", wantKey: creds.key},
		{layer: "token", wantKey: "-", tokens: true},
		{layer: "limits", wantKey: "-"},
	} {
		s := selected(guardedHolds(), "hold"+tt.layer)[0]
		f, err := l.buyers(s, time.Second, 1)
		if err != nil {
			t.Fatal(err)
		}
		if f.key != tt.wantKey || (f.key == "-") != (f.shownKey == "-") {
			t.Errorf("%s: key %q shown as %q, want %q", tt.layer, f.key, f.shownKey, tt.wantKey)
		}
		data, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		// A quarter above the ceiling's rate, for the run and half a second.
		if want := 1000 * 1.25 * 1.5 / 6; len(lines) != f.n || float64(f.n) < want {
			t.Errorf("%s: %d buyers, n %d, want at least %.0f", tt.layer, len(lines), f.n, want)
		}
		for _, line := range lines {
			uuid, token, hasToken := strings.Cut(line, " ")
			if hasToken != tt.tokens {
				t.Fatalf("%s: line %q", tt.layer, line)
			}
			if !hasToken {
				continue
			}
			if sub, err := tokens.Verify(token); err != nil || sub != uuid {
				t.Fatalf("%s: token of %s verifies as %q, %v", tt.layer, uuid, sub, err)
			}
		}
	}
}

// The settings of each layer turn on what it names and nothing else, with
// limits no load of one machine reaches.
func TestGuardedSettings(t *testing.T) {
	t.Parallel()
	c := &credentials{keysFile: "/k", secretFile: "/s"}
	limits := []string{
		"RESERVATION_LIMIT_BUYER_RATE=1000", "RESERVATION_LIMIT_BUYER_BURST=1000",
		"RESERVATION_LIMIT_IP_RATE=1000000", "RESERVATION_LIMIT_IP_BURST=1000000",
		"RESERVATION_LIMIT_KEY_RATE=1000000", "RESERVATION_LIMIT_KEY_BURST=1000000",
		"RESERVATION_LIMIT_CREATE_RATE=1000000", "RESERVATION_LIMIT_CREATE_BURST=1000000",
	}
	for _, tt := range []struct {
		give string
		want []string
	}{
		{give: "off"},
		{give: "key", want: []string{"RESERVATION_AUTH_KEYS_FILE=/k"}},
		{give: "token", want: []string{"RESERVATION_AUTH_BUYER_SECRET_FILE=/s"}},
		{give: "limits", want: limits},
		{give: "all", want: slices.Concat([]string{"RESERVATION_AUTH_KEYS_FILE=/k", "RESERVATION_AUTH_BUYER_SECRET_FILE=/s"}, limits)},
	} {
		if got := c.settings(layerOf(tt.give)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.give, got, tt.want)
		}
	}
}

// Each layer is a share of the ceiling of its own round, and costs the
// machine's time per request over the guard off of the same round, when
// it runs in fewer rounds than the ceiling too.
func TestGuardedReport(t *testing.T) {
	t.Parallel()
	r := report{opts: options{buyerHolds: 6}}
	base, _ := parseWrk([]byte(wrkOut)) // 2 s
	add := func(round int, s scenario, rate int64) {
		w := base
		w.Requests = 2 * rate
		r.results = append(r.results, result{topology: "standalone", scenario: s, round: round, wrk: w})
	}
	byID := func(id string) scenario { return selected(topologies["standalone"].scenarios, id+"@64")[0] }
	for round, rates := range []map[string]int64{
		{"evalsha": 1000, "hold": 800, "holdall": 500, "holdoff": 800, "holdkey": 500},
		{"evalsha": 2000, "hold": 1600, "holdall": 1600, "holdoff": 1600},
	} {
		for _, id := range []string{"evalsha", "hold", "holdall", "holdoff", "holdkey"} {
			if rate, ok := rates[id]; ok {
				add(round+1, byID(id), rate)
			}
		}
	}
	table := r.layerTable()
	for _, want := range []string{
		"| off, a UUID per request (the plain hold) | 2 | 1200 (800–1600) | 1.50 | 9.00 | 80% |  |",
		"| off | 2 | 1200 (800–1600) | 1.50 | 9.00 | 80% | 0.0 |",
		// Round 1 only: 1,000,000/500 - 1,000,000/800 µs.
		"| a key (seats:write) | 1 | 500 | 1.50 | 9.00 | 50% | 750.0 |",
		"| a key, a buyer token and all limits | 2 | 1050 (500–1600) | 1.50 | 9.00 | 65% (50%–80%) | 375.0 (0.0–750.0) |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("layer table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "buyer token (HS256)") {
		t.Errorf("layer table shows a layer that did not run:\n%s", table)
	}
	if targets := r.targetTable(); !strings.Contains(targets, "all limits on, 64 connections, standalone: share of the gin + one EVALSHA ceiling | ≥ 70% | 65% (50%–80%) | no |") ||
		!strings.Contains(targets, "all limits on, 64 connections, standalone: p99 | < 10 ms | 9.00 ms | yes |") {
		t.Errorf("target table lacks the guarded hold:\n%s", targets)
	}
	if md := r.markdown(); !strings.Contains(md, "## The guard's layers") || !strings.Contains(md, table) {
		t.Errorf("report lacks the guard's layers")
	}
	if (report{}).guardSection() != "" {
		t.Error("a report of no guarded run has a section on them")
	}
}
