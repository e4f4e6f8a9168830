package redisstore_test

import (
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/redisstore"
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
	// What waiting for a replica adds: Reserve here against Reserve on
	// standalone (the other calls do not wait).
	b.Run("replica-acks", func(b *testing.B) {
		master := redistest.StartServer(b)
		redistest.StartReplica(b, master)
		cfg := redisstore.Config{Addrs: []string{master.Addr()}, Timeout: 5 * time.Second, ReplicaAcks: 1, ReplicaAckTimeout: time.Second}
		storetest.Benchmark(b, func(b *testing.B) application.Store { return newStoreWith(b, cfg) })
	})
}
