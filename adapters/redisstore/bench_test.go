package redisstore_test

import (
	"testing"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
)

// BenchmarkStore runs one call at a time against Redis on this machine, so
// it measures a round trip plus the script.
func BenchmarkStore(b *testing.B) {
	b.Run("standalone", func(b *testing.B) {
		addr := redistest.SharedStandalone(b)
		storetest.Benchmark(b, func(b *testing.B) application.Store { return newStore(b, addr) })
	})
	b.Run("cluster", func(b *testing.B) {
		addrs := redistest.SharedCluster(b)
		storetest.Benchmark(b, func(b *testing.B) application.Store { return newStore(b, addrs...) })
	})
}
