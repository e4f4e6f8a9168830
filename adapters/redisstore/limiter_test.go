package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// TestLimiterContract gives each limiter a client of its own, so the
// contract's "two instances" are two clients of one Redis.
func TestLimiterContract(t *testing.T) {
	t.Parallel()
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		addr := redistest.SharedStandalone(t)
		storetest.RunLimiter(t, func(t *testing.T) application.Limiter { return redisstore.NewLimiter(newStore(t, addr)) })
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		addrs := redistest.SharedCluster(t)
		storetest.RunLimiter(t, func(t *testing.T) application.Limiter { return redisstore.NewLimiter(newStore(t, addrs...)) })
	})
}

var limitKeyPattern = regexp.MustCompile(`^rsv:rl:\{[0-9a-f]{32}\}$`)

// TestLimiterOnRedis looks at what the limiter leaves in a Redis of the
// test's own and what it sends: one key per limit, named by a digest under
// a hash tag of its own, that expires when the limit is whole again; one
// EVALSHA for all the checks of a call once Redis knows the script, and a
// check still counted once when Redis has forgotten it.
func TestLimiterOnRedis(t *testing.T) {
	t.Parallel()
	addr := redistest.Standalone(t)
	l, c := redisstore.NewLimiter(newStore(t, addr)), redistest.Client(t, addr)
	ctx := context.Background()
	r := domain.Rate{Count: 1, Period: time.Minute, Burst: 3}
	checks := []application.LimitCheck{{Key: "buyer:{x}", Rate: r}, {Key: "ip:::1", Rate: r}, {Key: "key:" + uuid.NewString(), Rate: r}}
	allow := func(what string, remaining int) {
		t.Helper()
		ds, err := l.Allow(ctx, checks)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		for i, d := range ds {
			if !d.Allowed || d.Remaining != remaining {
				t.Fatalf("%s: check %d: %+v, want allowed with %d remaining", what, i, d, remaining)
			}
		}
	}

	allow("first call, before Redis knows the script", 2)
	keys, err := c.Do(ctx, c.B().Keys().Pattern("*").Build()).AsStrSlice()
	if err != nil || len(keys) != len(checks) {
		t.Fatalf("KEYS = %q, %v; want one key per check", keys, err)
	}
	for _, k := range keys {
		ttl, err := c.Do(ctx, c.B().Pttl().Key(k).Build()).AsInt64()
		if !limitKeyPattern.MatchString(k) || err != nil || ttl <= 0 || ttl > r.Interval().Milliseconds() {
			t.Errorf("key %q with PTTL %d, %v; want %v with a PTTL of at most one interval", k, ttl, err, limitKeyPattern)
		}
	}

	if err := c.Do(ctx, c.B().ScriptFlush().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	allow("after SCRIPT FLUSH", 1)

	resetStats(t, c)
	allow("a call once Redis knows the script", 0)
	stats := commandStats(t, c)
	if stats["evalsha"].calls != 1 || stats["mget"].calls != 1 {
		t.Fatalf("commandstats %v, want 1 call of evalsha, which reads the %d limits in one MGET", stats, len(checks))
	}
	for cmd := range stats {
		// Only the script's own commands, and the test's.
		if !slices.Contains([]string{"evalsha", "time", "mget", "set", "config|resetstat"}, cmd) {
			t.Fatalf("commandstats %v: a call sent %s", stats, cmd)
		}
	}
}

// TestLimiterUnavailable: a limiter whose Redis is gone cannot decide.
func TestLimiterUnavailable(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	l := redisstore.NewLimiter(newStore(t, srv.Addr()))
	checks := []application.LimitCheck{{Key: "buyer:x", Rate: domain.Rate{Count: 1, Period: time.Second, Burst: 1}}}
	if _, err := l.Allow(context.Background(), checks); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if ds, err := l.Allow(context.Background(), checks); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("Allow without Redis: %+v, %v; want an error wrapping %v", ds, err, application.ErrUnavailable)
	}
}

// TestLimiterModule: the module provides the limiter on the store's
// client, which stops with the application.
func TestLimiterModule(t *testing.T) {
	t.Parallel()
	cfg := redisstore.Config{Addrs: []string{redistest.SharedStandalone(t)}, Timeout: time.Second}
	var l application.Limiter
	app := fxtest.New(t, redisstore.Module, fx.Supply(cfg, zap.NewNop()), fx.Populate(&l))
	app.RequireStart()
	checks := []application.LimitCheck{{Key: "buyer:" + uuid.NewString(), Rate: domain.Rate{Count: 1, Period: time.Minute, Burst: 1}}}
	if ds, err := l.Allow(context.Background(), checks); err != nil || !ds[0].Allowed {
		t.Fatalf("Allow = %+v, %v", ds, err)
	}
	app.RequireStop()
	if _, err := l.Allow(context.Background(), checks); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("Allow after stop: %v, want %v", err, application.ErrUnavailable)
	}
}

// TestLimiterSlotsOnCluster: on a cluster the checks of one slot go in one
// script call and the others in calls of their own, so that a call mixing
// them is no CROSSSLOT error, and each check is counted once.
func TestLimiterSlotsOnCluster(t *testing.T) {
	t.Parallel()
	addrs := redistest.SharedCluster(t)
	l, c := redisstore.NewLimiter(newStore(t, addrs...)), redistest.Client(t, addrs...)
	slotOf := func(k string) uint16 {
		sum := sha256.Sum256([]byte(k))
		cmd := c.B().Get().Key("rsv:rl:{" + hex.EncodeToString(sum[:16]) + "}").Build()
		return cmd.Slot()
	}
	// Two limits of one slot: among a few hundred names, two share one.
	prefix, seen := uuid.NewString(), map[uint16]string{}
	var same []string
	for i := 0; same == nil; i++ {
		k := fmt.Sprintf("buyer:%s-%d", prefix, i)
		if other, ok := seen[slotOf(k)]; ok {
			same = []string{other, k}
		}
		seen[slotOf(k)] = k
	}
	r := domain.Rate{Count: 1, Period: time.Hour, Burst: 2}
	checks := []application.LimitCheck{{Key: same[0], Rate: r}, {Key: "ip:" + prefix, Rate: r}, {Key: same[1], Rate: r}}
	for _, want := range []int{1, 0} {
		ds, err := l.Allow(context.Background(), checks)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range ds {
			if !d.Allowed || d.Remaining != want {
				t.Fatalf("check %d: %+v, want allowed with %d remaining", i, d, want)
			}
		}
	}
	ds, err := l.Allow(context.Background(), checks)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range ds {
		if d.Allowed {
			t.Errorf("check %d allowed past its burst: %+v", i, d)
		}
	}
}

// TestLimiterBatch: the calls that arrive while the most runs of limits
// are in Redis go together in one script run, in which a limit that
// several of them check is taken once per check, in their order, as if
// each call ran alone: of 10 calls that all check one IP's limit of burst
// 5, and each a buyer's of burst 1 (two calls per buyer), 5 pass the IP,
// one per buyer passes the buyer's, and a call refused by one limit still
// counts against the other. Redis is frozen under the first calls, which
// go alone, so that the others queue in a known order.
func TestLimiterBatch(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	l, c := redisstore.NewLimiter(newStore(t, srv.Addr())), redistest.Client(t, srv.Addr())
	ip := "ip:" + uuid.NewString()
	buyer := func(i int) string { return fmt.Sprintf("buyer:%s-%d", ip, i/2) }
	checks := func(i int) []application.LimitCheck {
		if i < redisstore.MaxRuns {
			// The calls that go alone (they may reach Redis after the
			// batch): a limit of their own each.
			return []application.LimitCheck{{Key: fmt.Sprintf("buyer:%s-first-%d", ip, i), Rate: domain.Rate{Count: 1, Period: time.Hour, Burst: 1}}}
		}
		return []application.LimitCheck{
			{Key: ip, Rate: domain.Rate{Count: 1, Period: time.Hour, Burst: 5}},
			{Key: buyer(i), Rate: domain.Rate{Count: 1, Period: time.Hour, Burst: 1}},
		}
	}
	resetStats(t, c)
	srv.Freeze()
	calls := redisstore.MaxRuns + 10
	got := make([][]domain.Decision, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			ds, err := l.Allow(context.Background(), checks(i))
			if err != nil {
				t.Error(err)
			}
			got[i] = ds
		})
		want := [2]int{min(i+1, redisstore.MaxRuns), max(i+1-redisstore.MaxRuns, 0)}
		for running, waiting := l.LimitRuns(); [2]int{running, waiting} != want; running, waiting = l.LimitRuns() {
			runtime.Gosched()
		}
	}
	srv.Thaw()
	wg.Wait()
	if t.Failed() {
		return
	}
	for i, ds := range got {
		if i < redisstore.MaxRuns {
			if !ds[0].Allowed {
				t.Errorf("call %d, alone: %+v, want allowed", i, ds[0])
			}
			continue
		}
		wantIP, wantBuyer := i < redisstore.MaxRuns+5, i%2 == 0
		if ds[0].Allowed != wantIP || ds[1].Allowed != wantBuyer {
			t.Errorf("call %d: IP %+v, buyer %+v; want the IP's allowed %v, the buyer's %v", i, ds[0], ds[1], wantIP, wantBuyer)
		}
	}
	// Each run reads its limits with one MGET.
	if stats := commandStats(t, c); stats["mget"].calls != redisstore.MaxRuns+1 {
		t.Errorf("commandstats %v: want %d script runs, of the first calls alone and then the others'", stats, redisstore.MaxRuns+1)
	}
}
