package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// BenchmarkLimiter runs one Allow at a time against Redis on this machine,
// of 1 check (a buyer) and of 3 (buyer, key and IP, as a seat change with
// every limit on), every one allowed so that each runs the whole script.
// Ping is the round trip alone, for what the script adds to it.
func BenchmarkLimiter(b *testing.B) {
	b.Run("standalone", func(b *testing.B) { benchLimiter(b, redistest.SharedStandalone(b)) })
	b.Run("cluster", func(b *testing.B) { benchLimiter(b, redistest.SharedCluster(b)...) })
}

func benchLimiter(b *testing.B, addrs ...string) {
	ctx := context.Background()
	s := newStore(b, addrs...)
	b.Run("Ping", func(b *testing.B) {
		for b.Loop() {
			if err := s.Ping(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	l := redisstore.NewLimiter(s)
	open := domain.Rate{Count: 1_000_000, Period: time.Second, Burst: 1_000_000}
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("Allow/%d", n), func(b *testing.B) {
			checks := make([]application.LimitCheck, n)
			for i := range checks {
				checks[i] = application.LimitCheck{Key: "bench:" + uuid.NewString(), Rate: open}
			}
			b.ReportAllocs()
			for b.Loop() {
				ds, err := l.Allow(ctx, checks)
				if err != nil || !ds[n-1].Allowed {
					b.Fatal(ds, err)
				}
			}
		})
	}
}
