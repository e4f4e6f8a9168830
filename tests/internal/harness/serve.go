package harness

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

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
// store was opened first. Only errors are logged (a 500 is a bug; refusals
// and 503s are the tests' to judge).
func Serve(t testing.TB, policy domain.HoldPolicy, store application.Store) string {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zapcore.ErrorLevel))
	m := metrics.New()
	svc := application.NewService(m.InstrumentStore(store), policy)
	srv := httptest.NewServer(httpapi.NewRouter(svc, log, m))
	t.Cleanup(srv.Close)
	return srv.URL
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
