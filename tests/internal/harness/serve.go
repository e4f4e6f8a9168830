package harness

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

func init() { gin.SetMode(gin.ReleaseMode) } // no route listing on stdout

// Serve runs a service instance in this process, wired as bootstrap wires
// it (the router with its metrics over the use cases with policy, over the
// instrumented store), on a loopback port, and returns its
// base URL. It stops when the test ends, before the store closes if the
// store was opened first. Only errors are written to the test's log (a 500
// is a bug; refusals and 503s are the tests' to judge); the lines of 503s
// are kept for Cause.
func Serve(t testing.TB, policy domain.HoldPolicy, store application.Store) string {
	t.Helper()
	kept, seen := observer.New(zapcore.WarnLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel)).Core(), kept))
	m := metrics.New()
	store = m.InstrumentStore(store)
	// The stream's Feed and the Expirer, as bootstrap runs them.
	x := application.NewExpirer(store, log)
	feed := application.NewFeed(store, log, application.FeedConfig{Expiries: x})
	x.Start()
	feed.Start()
	t.Cleanup(x.Stop)
	svc := application.NewService(store, policy, application.WithFeed(feed), application.WithExpiryTracker(x))
	srv := httptest.NewServer(httpapi.NewRouter(svc, log, m))
	t.Cleanup(srv.Close)
	// Cleanups run last first: the streams end before the server closes,
	// which waits for them.
	t.Cleanup(feed.Close)
	logs.Store(srv.URL, seen)
	t.Cleanup(func() { logs.Delete(srv.URL) })
	return srv.URL
}

// logs holds, by base URL, the lines the instances of Serve logged at Warn
// or above.
var logs sync.Map

// Cause returns the error that the instance of Serve at base logged for the
// request of a, or "" if there is none: what lies behind a 503, which the
// answer's body leaves out.
func Cause(base string, a Answer) string {
	seen, ok := logs.Load(base)
	if !ok || a.RequestID == "" {
		return ""
	}
	for _, e := range seen.(*observer.ObservedLogs).FilterField(zap.String("request_id", a.RequestID)).All() {
		if err, ok := e.ContextMap()["error"].(string); ok {
			return err
		}
	}
	return ""
}

// RedisStore connects a store of its own to Redis at addrs, with timeout
// on every call, and closes it when the test ends.
func RedisStore(t testing.TB, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	cfg.DialTimeout = time.Second
	s, err := redisstore.New(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
