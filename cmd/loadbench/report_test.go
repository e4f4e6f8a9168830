package main

import (
	"encoding/xml"
	"strings"
	"testing"
)

const wrkOut = `Running 5s test @ http://127.0.0.1:1
  2 threads and 64 connections
loadbench {"requests":1000,"durationUs":2000000,"errors":{"connect":0,"read":0,"write":0,"timeout":0},"latencyUs":{"p50":1500,"p90":3000,"p99":9000,"max":12000},"statuses":{"200":1000}}
`

func TestParseWrk(t *testing.T) {
	t.Parallel()
	w, err := parseWrk([]byte(wrkOut))
	if err != nil {
		t.Fatal(err)
	}
	if w.rate() != 500 || w.LatencyUs.P99 != 9000 || w.Statuses["200"] != 1000 {
		t.Fatalf("parsed %+v", w)
	}
	if _, err := parseWrk([]byte("Running 5s test\n")); err == nil {
		t.Fatal("parsed output without wrk.lua's line")
	}
}

func TestFailure(t *testing.T) {
	t.Parallel()
	hold := scenario{label: "POST /seats/hold", conns: 64, expect: 200}
	tests := []struct {
		name     string
		statuses map[string]int64
		timeouts int64
		wantFail bool
	}{
		{name: "only expected", statuses: map[string]int64{"200": 10}},
		{name: "one conflict", statuses: map[string]int64{"200": 10, "409": 1}, wantFail: true},
		{name: "socket errors", statuses: map[string]int64{"200": 10}, timeouts: 1, wantFail: true},
		{name: "no answers", statuses: map[string]int64{}, wantFail: true},
	}
	for _, tt := range tests {
		r := result{topology: "standalone", scenario: hold, wrk: wrkResult{Statuses: tt.statuses}}
		r.wrk.Errors.Timeout = tt.timeouts
		if got := r.failure(); (got != "") != tt.wantFail {
			t.Errorf("%s: failure() = %q", tt.name, got)
		}
	}
}

func TestSpread(t *testing.T) {
	t.Parallel()
	if got := spreadOf([]float64{3, 1, 2}); got != (spread{1, 2, 3}) {
		t.Errorf("spreadOf(3, 1, 2) = %+v", got)
	}
	if got := spreadOf([]float64{4, 1}); got != (spread{1, 2.5, 4}) {
		t.Errorf("spreadOf(4, 1) = %+v", got)
	}
	if got := (spread{1, 2.5, 4}).format("%.1f"); got != "2.5 (1.0–4.0)" {
		t.Errorf("format = %q", got)
	}
	if got := (spread{2, 2, 2}).format("%.0f"); got != "2" {
		t.Errorf("format of one round = %q", got)
	}
}

// The report pairs each hold run with its ceiling run, and the chart is
// well-formed SVG.
func TestReport(t *testing.T) {
	t.Parallel()
	var r report
	for round, rates := range [][2]int64{{900, 1000}, {800, 1000}} {
		for i, s := range holdCurve()[2:4] { // 64 connections: ceiling, hold
			w, _ := parseWrk([]byte(wrkOut))
			w.Requests = rates[1-i] * 2
			r.results = append(r.results, result{topology: "standalone", scenario: s, round: round + 1, wrk: w})
		}
	}
	got, ok := r.ratio("standalone", "hold", "evalsha", 64)
	if !ok || got != (spread{80, 85, 90}) {
		t.Errorf("ratio = %+v, %v; want 80..90%%", got, ok)
	}
	if table := r.targetTable(); !strings.Contains(table, "| ≥ 80% | 85% (80%–90%) | yes |") {
		t.Errorf("target table lacks the hold ratio:\n%s", table)
	}
	if err := xml.Unmarshal(r.chart(), new(struct{})); err != nil {
		t.Errorf("chart is not XML: %v", err)
	}
	if fails := r.failures(); len(fails) > 0 {
		t.Errorf("failures: %v", fails)
	}
}

func TestNiceScale(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ top, wantTop, wantStep float64 }{
		{26526, 30000, 10000}, {24000, 25000, 5000}, {140.6, 150, 50}, {0.9, 1, 0.2}, {0, 1, 0.2},
	} {
		if top, step := niceScale(tt.top); top != tt.wantTop || step != tt.wantStep {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tt.top, top, step, tt.wantTop, tt.wantStep)
		}
	}
}

func TestInOrder(t *testing.T) {
	t.Parallel()
	ids := func(s []scenario) string {
		var b strings.Builder
		for _, x := range s {
			b.WriteString(x.id + " ")
		}
		return b.String()
	}
	s := append(holdCurve()[:2], topologies["standalone"].scenarios[6])
	if got := ids(inOrder(s, 1)); got != "evalsha hold decode " {
		t.Errorf("round 1: %s", got)
	}
	if got := ids(inOrder(s, 2)); got != "hold evalsha decode " {
		t.Errorf("round 2: %s", got)
	}
	if ids(s) != "evalsha hold decode " {
		t.Error("inOrder changed its argument")
	}
}
