package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
)

// WatchMemory exports the memory of r's servers, read when /metrics is
// scraped (at most once per memoryReadEvery). A server that does not
// answer is absent from that scrape: store_errors_total tells why.
func (m *Metrics) WatchMemory(r MemoryReader) {
	m.reg.MustRegister(&memoryCollector{r: r})
}

type memoryCollector struct {
	r MemoryReader

	mu   sync.Mutex          // serializes reads, so concurrent scrapes share one
	read time.Time           // when the last read began; zero before the first
	last []prometheus.Metric // what it found
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
		// The error is not this scrape's to report: failing the scrape
		// would hide every other metric, and the store's failures are
		// already counted where the requests meet them.
		_ = c.r.Memory(context.Background(), func(node string, used, max int64) {
			c.last = append(c.last,
				prometheus.MustNewConstMetric(usedMemoryDesc, prometheus.GaugeValue, float64(used), node),
				prometheus.MustNewConstMetric(maxMemoryDesc, prometheus.GaugeValue, float64(max), node))
		})
	}
	for _, m := range c.last {
		ch <- m
	}
}
