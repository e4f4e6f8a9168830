package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/seatres/reservation/adapters/metrics"
)

// fakeMemory reports its nodes, and fails for those in down.
type fakeMemory struct {
	used, max map[string]int64
	down      []string
	reads     int
}

func (f *fakeMemory) Memory(_ context.Context, report func(node string, used, max int64)) error {
	f.reads++
	for node, used := range f.used {
		report(node, used, f.max[node])
	}
	if len(f.down) > 0 {
		return errors.New("down: " + f.down[0])
	}
	return nil
}

// readError returns the value of redis_memory_last_read_error, -1 when
// it is absent.
func readError(fams map[string]*dto.MetricFamily) float64 {
	ms := fams["redis_memory_last_read_error"].GetMetric()
	if len(ms) != 1 {
		return -1
	}
	return ms[0].GetGauge().GetValue()
}

// gauges returns the values of family name by node.
func gauges(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range fams[name].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == "node" {
				out[l.GetValue()] = s.GetGauge().GetValue()
			}
		}
	}
	return out
}

func TestWatchMemoryExportsEachNode(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.WatchMemory(&fakeMemory{
		used: map[string]int64{"a:6379": 100, "b:6379": 200},
		max:  map[string]int64{"a:6379": 1000},
		// c answered nothing: it is absent, and the scrape still works.
		down: []string{"c:6379"},
	}, zap.NewNop())
	fams := families(t, m)
	if got := readError(fams); got != 1 {
		t.Errorf("redis_memory_last_read_error = %v with a node down, want 1", got)
	}
	for _, tt := range []struct {
		name string
		want map[string]float64
	}{
		{"redis_used_memory_bytes", map[string]float64{"a:6379": 100, "b:6379": 200}},
		{"redis_maxmemory_bytes", map[string]float64{"a:6379": 1000, "b:6379": 0}},
	} {
		got := gauges(fams, tt.name)
		if len(got) != len(tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
		for node, v := range tt.want {
			if got[node] != v {
				t.Errorf("%s{node=%q} = %v, want %v", tt.name, node, got[node], v)
			}
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("a node down hid the other metrics")
	}
}

// Without WatchMemory (the in-memory store) there is no such metric.
func TestNoMemoryWithoutReader(t *testing.T) {
	t.Parallel()
	fams := families(t, metrics.New())
	for _, name := range []string{"redis_used_memory_bytes", "redis_maxmemory_bytes", "redis_memory_last_read_error"} {
		if _, ok := fams[name]; ok {
			t.Errorf("%s exported with no Redis", name)
		}
	}
}

// Scrapes within 5 s of a read share it: hammering the open /metrics does
// not hammer Redis. The bubble's clock is fake, so no test waits.
func TestWatchMemoryReadsAtMostEveryFiveSeconds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		m := metrics.New()
		f := &fakeMemory{used: map[string]int64{"a:6379": 100}}
		m.WatchMemory(f, zap.NewNop())
		for range 3 {
			if got := readError(families(t, m)); got != 0 {
				t.Errorf("redis_memory_last_read_error = %v with every node up, want 0", got)
			}
		}
		if f.reads != 1 {
			t.Errorf("3 scrapes at once read %d times, want 1", f.reads)
		}
		f.used["a:6379"] = 150
		time.Sleep(4 * time.Second)
		if got := gauges(families(t, m), "redis_used_memory_bytes")["a:6379"]; f.reads != 1 || got != 100 {
			t.Errorf("4 s later: %d reads, used %v; want the first read's 100 still", f.reads, got)
		}
		time.Sleep(time.Second)
		if got := gauges(families(t, m), "redis_used_memory_bytes")["a:6379"]; f.reads != 2 || got != 150 {
			t.Errorf("5 s later: %d reads, used %v; want 2 reads and the new value 150", f.reads, got)
		}
	})
}

// A Redis that refuses INFO (a user without @dangerous) fails every read:
// the log says so once when the reads start failing and once when they
// work again, not at every scrape.
func TestWatchMemoryLogsOncePerFailureStreak(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		core, logs := observer.New(zapcore.InfoLevel)
		m := metrics.New()
		f := &fakeMemory{used: map[string]int64{"a:6379": 100}, down: []string{"b:6379"}}
		m.WatchMemory(f, zap.New(core))
		// scrape reads anew (5 s after the last read) and returns the
		// entries logged since the previous call.
		scrape := func() []observer.LoggedEntry {
			time.Sleep(5 * time.Second)
			families(t, m)
			return logs.TakeAll()
		}

		got := scrape()
		if len(got) != 1 || got[0].Level != zapcore.WarnLevel || !strings.Contains(fmt.Sprint(got[0].ContextMap()["error"]), "b:6379") {
			t.Fatalf("first failing read logged %+v, want one warning naming b:6379", got)
		}
		for range 3 {
			if got := scrape(); len(got) != 0 {
				t.Errorf("a read failing again logged %+v, want nothing", got)
			}
		}
		f.down = nil
		if got := scrape(); len(got) != 1 || got[0].Level != zapcore.InfoLevel {
			t.Errorf("the first read that works logged %+v, want one info", got)
		}
		if got := scrape(); len(got) != 0 {
			t.Errorf("a read working again logged %+v, want nothing", got)
		}
		f.down = []string{"a:6379"}
		if got := scrape(); len(got) != 1 || got[0].Level != zapcore.WarnLevel {
			t.Errorf("a new failure streak logged %+v, want one warning", got)
		}
		if f.reads != 7 {
			t.Errorf("%d reads, want 7 (one a scrape)", f.reads)
		}
	})
}
