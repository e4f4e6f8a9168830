package metrics_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"

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
	})
	fams := families(t, m)
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
	for _, name := range []string{"redis_used_memory_bytes", "redis_maxmemory_bytes"} {
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
		m.WatchMemory(f)
		for range 3 {
			families(t, m)
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
