package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// MemoryReader is a store whose servers have a memory limit of their own:
// Redis, whose maxmemory, once reached, refuses every write (STORE_FULL).
// The in-memory store has none.
type MemoryReader interface {
	// Memory calls report with the bytes used and the limit (0 for none)
	// of each server that answers; the error names those that did not.
	Memory(ctx context.Context, report func(node string, used, max int64)) error
}

// memoryReadEvery bounds how often a scrape reads the servers' memory:
// /metrics is open to anyone, and each read is a round trip to every node,
// so scrapes closer together than this share the last read.
const memoryReadEvery = 5 * time.Second

var (
	usedMemoryDesc = prometheus.NewDesc("redis_used_memory_bytes",
		"Memory a Redis server of the store uses (INFO memory used_memory), by node (host:port). Absent with the in-memory store.",
		[]string{"node"}, nil)
	maxMemoryDesc = prometheus.NewDesc("redis_maxmemory_bytes",
		"The maxmemory of a Redis server of the store, 0 for no limit, by node (host:port): at it, every hold and create is refused with 507 STORE_FULL.",
		[]string{"node"}, nil)
	// Exported with the two above, so that an alert can tell "the reads
	// fail" from "no Redis" (the in-memory store): both lack the gauges.
	readErrorDesc = prometheus.NewDesc("redis_memory_last_read_error",
		"1 when the last read of the Redis servers' memory (INFO memory) failed for some server, whose memory gauges are then absent; 0 when every server answered. Absent with the in-memory store.",
		nil, nil)
)

// WatchMemory exports the memory of r's servers, read when /metrics is
// scraped (at most once per memoryReadEvery). A server that does not
// answer is absent from that scrape, and redis_memory_last_read_error says
// so. The failure goes to log once when the reads start failing (those of
// a Redis user without INFO, in the @dangerous ACL category, fail forever)
// and once when they work again, not at every scrape.
func (m *Metrics) WatchMemory(r MemoryReader, log *zap.Logger) {
	m.reg.MustRegister(&memoryCollector{r: r, log: log})
}

type memoryCollector struct {
	r   MemoryReader
	log *zap.Logger

	mu      sync.Mutex          // serializes reads, so concurrent scrapes share one
	read    time.Time           // when the last read began; zero before the first
	last    []prometheus.Metric // what it found
	failing bool                // whether the last read failed
}

func (c *memoryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- usedMemoryDesc
	ch <- maxMemoryDesc
}

func (c *memoryCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read.IsZero() || time.Since(c.read) >= memoryReadEvery {
		c.read = time.Now()
		c.last = c.last[:0]
		// The error is not the scrape's to fail: that would hide every
		// other metric. It goes to the gauge and the log instead.
		err := c.r.Memory(context.Background(), func(node string, used, max int64) {
			c.last = append(c.last,
				prometheus.MustNewConstMetric(usedMemoryDesc, prometheus.GaugeValue, float64(used), node),
				prometheus.MustNewConstMetric(maxMemoryDesc, prometheus.GaugeValue, float64(max), node))
		})
		c.noteFailure(err)
		failed := 0.0
		if err != nil {
			failed = 1
		}
		c.last = append(c.last, prometheus.MustNewConstMetric(readErrorDesc, prometheus.GaugeValue, failed))
	}
	for _, m := range c.last {
		ch <- m
	}
}

// noteFailure logs the first failing read of a streak and the first good
// one after it.
func (c *memoryCollector) noteFailure(err error) {
	switch {
	case err != nil && !c.failing:
		c.log.Warn("cannot read the memory of Redis (INFO memory): its gauges are missing for the servers named, and the memory alert cannot fire for them; the Redis user needs the INFO command (ACL category @dangerous), not renamed",
			zap.Error(err))
	case err == nil && c.failing:
		c.log.Info("reading the memory of Redis works again")
	}
	c.failing = err != nil
}
