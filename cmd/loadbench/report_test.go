package main

import (
	"encoding/xml"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/api/client"
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

// TestCrowdFailure: a crowd's lists may be shed with 503, but some must be
// served, and every hold of its probe must be answered 200.
func TestCrowdFailure(t *testing.T) {
	t.Parallel()
	crowd := scenario{label: "GET /seats/list/{id}", conns: 512, expect: 200, shed: 503, probe: true}
	held := &probeResult{statuses: map[int]int64{200: 5}}
	tests := []struct {
		name     string
		statuses map[string]int64
		probe    *probeResult
		wantFail bool
	}{
		{name: "served and shed", statuses: map[string]int64{"200": 10, "503": 90}, probe: held},
		{name: "served only", statuses: map[string]int64{"200": 10}, probe: held},
		{name: "shed only", statuses: map[string]int64{"503": 90}, probe: held, wantFail: true},
		{name: "another status", statuses: map[string]int64{"200": 10, "500": 1}, probe: held, wantFail: true},
		{name: "a hold refused", statuses: map[string]int64{"200": 10}, probe: &probeResult{statuses: map[int]int64{200: 5, 503: 1}}, wantFail: true},
		{name: "no hold answered", statuses: map[string]int64{"200": 10}, probe: &probeResult{statuses: map[int]int64{0: 3}}, wantFail: true},
	}
	for _, tt := range tests {
		r := result{topology: "standalone", scenario: crowd, wrk: wrkResult{Statuses: tt.statuses, Probe: tt.probe}}
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
	s := append(holdCurve()[:2], selected(topologies["standalone"].scenarios, "decode")...)
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

// Every pair of a scenario and its ceiling swaps in even rounds, whatever
// its ids.
func TestInOrderPairs(t *testing.T) {
	t.Parallel()
	s := cartScenarios()
	var got []string
	for _, x := range inOrder(s, 2) {
		got = append(got, x.id)
	}
	want := "cart cartceil cartwrites best bestceil summary sumceil churnlist"
	if strings.Join(got, " ") != want {
		t.Errorf("round 2: %v, want %s", got, want)
	}
}

func TestParseCommandStats(t *testing.T) {
	t.Parallel()
	const info = "# Commandstats\r\n" +
		"cmdstat_exec:calls=100,usec=1000,usec_per_call=10.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_get:calls=200,usec=900,usec_per_call=4.50,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_multi:calls=100,usec=10,usec_per_call=0.10,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_config|resetstat:calls=1,usec=99,usec_per_call=99.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=1,usec=50,usec_per_call=50.00,rejected_calls=0,failed_calls=0\r\n"
	rt, err := parseCommandStats(info, 100)
	if err != nil {
		t.Fatal(err)
	}
	// EXEC's 10 µs include its GETs: the larger of 10 and 9 + 0.1.
	if rt.us != 10 || !rt.nested || len(rt.commands) != 3 || rt.calls["exec"] != 100 || rt.calls["get"] != 200 {
		t.Errorf("parsed %+v", rt)
	}
	if got := rt.String(); got != "EXEC 10.0 µs, GET 9.0 µs, MULTI 0.1 µs" {
		t.Errorf("String() = %q", got)
	}
	plain, _ := parseCommandStats("cmdstat_get:calls=2,usec=8,usec_per_call=4.00\r\ncmdstat_time:calls=2,usec=2,usec_per_call=1.00\r\n", 2)
	if plain.us != 5 || plain.nested {
		t.Errorf("without containers: %+v", plain)
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	const e = "6b1d4f5e-2c49-4f7e-9d0a-3e8c5b7a1f20"
	ids := seatIDs(e, []int{1, 20})
	if strings.Join(ids, " ") != e+".1 "+e+".20" {
		t.Errorf("seatIDs = %v", ids)
	}
	for _, tt := range []struct {
		give string
		want int
	}{{ids[1], 20}, {e, 0}, {e + ".x", 0}} {
		if got := seatNumber(client.Seat{ID: tt.give}); got != tt.want {
			t.Errorf("seatNumber(%q) = %d, want %d", tt.give, got, tt.want)
		}
	}
	list := `{"total":2,"event":{"id":"` + e + `","name":"x","totalSeats":10},"seats":[{"id":"` + e + `.3","eventId":"` + e + `"},{"id":"` + e + `.10","eventId":"` + e + `"}]}`
	if got := listedSeats([]byte(list), e, nil); len(got) != 2 || got[0] != 3 || got[1] != 10 {
		t.Errorf("listedSeats = %v", got)
	}
	if u := longUser("live", e, 2); len(u) != 128 || !strings.HasPrefix(u, "live-"+e+"-00002-") {
		t.Errorf("longUser = %q", u)
	}
}

// The sale's time is a target; a capped single-seat run shows its rate.
func TestSaleReport(t *testing.T) {
	t.Parallel()
	r := report{opts: options{saleBuyers: 500}}
	for i, d := range []time.Duration{2 * time.Second, 4 * time.Second, 3 * time.Second} {
		r.sales = append(r.sales, saleRun{store: "Redis", flow: "cart", clients: 500, round: i + 1, elapsed: d, sold: eventSeats, requests: map[int]int64{200: 10}})
	}
	r.sales = append(r.sales, saleRun{store: "Redis", flow: "single", clients: 100, round: 1, elapsed: 10 * time.Second, sold: 2500, capped: true, cap: 10 * time.Second})
	if table := r.targetTable(); !strings.Contains(table, "| < 3 s | 3.00 s (2.00 s–4.00 s) | no |") {
		t.Errorf("target table lacks the sale:\n%s", table)
	}
	if table := r.saleTable(); !strings.Contains(table, "2500 seats sold in 10.0 s; sold out in ~40 s") || !strings.Contains(table, "| 200: 30 |") {
		t.Errorf("sale table:\n%s", table)
	}
}

// The stream's runs: their targets at 1,000 subscribers, a failure for a
// subscriber that missed changes or a sale's refused answer, and their
// chart.
func TestStreamReport(t *testing.T) {
	t.Parallel()
	run := func(n, failed int, p99ms int64, requests map[int]int64) streamRun {
		r := streamRun{subscribers: n, topology: "standalone", changes: 30_000, records: 30_000, span: 5 * time.Second, sale: 5 * time.Second, window: 6 * time.Second,
			requests: requests, messages: int64(n) * 50, bytes: 1e9, lags: &lagHistogram{}, peakRSS: 200 << 20, failed: failed,
			cpu: [2]time.Duration{6 * time.Second, 3 * time.Second}}
		for range 199 {
			r.lags.add(10e3) // in the bucket of 10 to 11 ms
		}
		r.lags.add(p99ms * 1000)
		return r
	}
	ok := map[int]int64{200: 30_000, 503: 2}
	r := report{opts: options{streamRate: 6000, streamDuration: 5 * time.Second}, streams: []streamRun{
		run(100, 0, 20, ok), run(1000, 0, 900, ok), run(5000, 1, 3000, ok),
	}}
	r.streams[2].problems = []string{"subscriber 7: disconnected"}
	r.streams[2].resumed, r.streams[2].behind = 40, 4000 // beyond 1,000: figures, not failures
	table := r.targetTable()
	for _, want := range []string{
		"changes/s of the sale | ≥ 5,000 | 6000 | yes |",
		"saw one twice or out of order | 0 | 0 | yes |",
		"subscribers disconnected, or behind at the end | 0 | 0 | yes |",
		"to its arrival | < 500 ms | 11 ms | yes |", // 199 of 200 changes at 10 ms
		"peak RSS (VmHWM) | < 300 MB | 200 MB | yes |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("target table lacks %q:\n%s", want, table)
		}
	}
	fails := r.failures()
	if len(fails) != 1 || !strings.Contains(fails[0], "5000 subscribers") || !strings.Contains(fails[0], "subscriber 7: disconnected") {
		t.Errorf("failures: %q", fails)
	}
	r.streams[0].requests = map[int]int64{200: 10, 409: 1}
	if f := r.streams[0].failure(); !strings.Contains(f, "409: 1") {
		t.Errorf("a refused change of the sale: failure %q", f)
	}
	r.streams[1].resumed = 1
	if f := r.streams[1].failure(); !strings.Contains(f, "1 of 1000 subscribers were disconnected") {
		t.Errorf("a subscriber of 1,000 disconnected: failure %q", f)
	}
	r.streams[1].resumed, r.streams[1].behind = 0, 2
	if f := r.streams[1].failure(); !strings.Contains(f, "2 of 1000 subscribers had not seen the last change") {
		t.Errorf("subscribers of 1,000 behind: failure %q", f)
	}
	if md := r.streamSection(); !strings.Contains(md, "| standalone | 1,000 | 6000 | 30000 (30000) | 11 | 11 | 900 |") || !strings.Contains(md, "**1 failed**: subscriber 7") {
		t.Errorf("stream section:\n%s", md)
	}
	if err := xml.Unmarshal(r.streamChart(), new(struct{})); err != nil {
		t.Errorf("stream chart is not XML: %v", err)
	}
	if (report{}).streamChart() != nil || (report{}).streamTargets() != nil || (report{}).followedTargets() != nil {
		t.Error("a stream chart or targets without a run of the stream")
	}
	// The run beside other events followed: its own targets and row, and
	// a subscriber of it that missed a change fails the bench.
	followed := run(100, 0, 700, ok)
	followed.followed, followed.topology = 2000, "cluster"
	r.followed = &followed
	if table := r.targetTable(); !strings.Contains(table, "while the instance follows 2,000 other events (one subscriber each), cluster: p99 lag from a change's store time to its arrival | < 500 ms | 11 ms | yes |") {
		t.Errorf("target table lacks the run beside other events followed:\n%s", table)
	}
	if md := r.streamSection(); !strings.Contains(md, "| cluster | 100, and 2,000 other events followed |") || !strings.Contains(md, "**other events followed**") {
		t.Errorf("stream section without the run beside other events followed:\n%s", md)
	}
	r.followed.failed, r.followed.problems = 1, []string{"subscriber 3: a gap"}
	if fails := r.failures(); !slices.ContainsFunc(fails, func(f string) bool { return strings.Contains(f, "subscriber 3: a gap") }) {
		t.Errorf("a subscriber of the run beside other events followed missed a change: failures %q", fails)
	}
}

// The 304 list's share of bare gin, and the gzipped list's size, are
// targets.
func TestListTargets(t *testing.T) {
	t.Parallel()
	var r report
	for _, s := range selected(topologies["standalone"].scenarios, "bareget,list304,gzlist") {
		w, _ := parseWrk([]byte(wrkOut))
		switch s.id {
		case "list304":
			w.Requests = 900
		case "gzlist":
			w.BodyBytes = 1000 * 30_000
		}
		r.results = append(r.results, result{topology: "standalone", scenario: s, round: 1, wrk: w})
	}
	table := r.targetTable()
	for _, want := range []string{"answered 304, 64 connections: share of bare gin (GET, no Redis) | ≥ 80% | 90% | yes |", "gzip: the answer's size | < 65,536 bytes | 30000 bytes | yes |"} {
		if !strings.Contains(table, want) {
			t.Errorf("target table lacks %q:\n%s", want, table)
		}
	}
}

// TestBoundsTable: the share of a hold's writes alone is reported beside
// the hold's, and nothing when they did not run.
func TestBoundsTable(t *testing.T) {
	t.Parallel()
	var r report
	for _, s := range selected(topologies["standalone"].scenarios, "evalsha@64,hold@64") {
		w, _ := parseWrk([]byte(wrkOut))
		w.Requests = map[string]int64{"evalsha": 1000, "hold": 600}[s.id]
		r.results = append(r.results, result{topology: "standalone", scenario: s, round: 1, wrk: w})
	}
	if table := r.boundsTable(); table != "" {
		t.Errorf("bounds table without a run of the writes:\n%s", table)
	}
	w, _ := parseWrk([]byte(wrkOut))
	w.Requests = 750
	r.results = append(r.results, result{topology: "standalone", scenario: selected(topologies["standalone"].scenarios, "writes@64")[0], round: 1, wrk: w})
	if table, want := r.boundsTable(), "| POST /seats/hold | standalone | 75% | 60% |"; !strings.Contains(table, want) {
		t.Errorf("bounds table lacks %q:\n%s", want, table)
	}
}

func TestCPUPerRequest(t *testing.T) {
	t.Parallel()
	const info = "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:0.750000\r\nused_cpu_sys_children:9.000000\r\n"
	d, err := parseRedisCPU(info)
	if err != nil || d != 2*time.Second {
		t.Fatalf("parseRedisCPU = %v, %v; want 2s", d, err)
	}
	if _, err := parseRedisCPU("# CPU\r\nused_cpu_sys:1.0\r\n"); err == nil {
		t.Error("an INFO cpu without used_cpu_user parsed")
	}
	w := wrkResult{Requests: 1000, DurationUs: 1e6, CPU: cpuUse{wrk: 20 * time.Millisecond, server: 50 * time.Millisecond, redis: 30 * time.Millisecond}}
	if got := []float64{cpuWrk(w), cpuServer(w), cpuRedis(w), cpuAll(w)}; !slices.Equal(got, []float64{20, 50, 30, 100}) {
		t.Errorf("µs per request = %v; want [20 50 30 100]", got)
	}
	// A run on the cluster measures no Redis: no figure, rather than a
	// sum that leaves Redis out.
	w.CPU.redis = 0
	if !math.IsNaN(cpuRedis(w)) || !math.IsNaN(cpuAll(w)) {
		t.Errorf("without Redis's CPU: Redis %v, all %v; want NaN", cpuRedis(w), cpuAll(w))
	}
}
