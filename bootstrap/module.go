package bootstrap

import (
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// stopMargin is the time left after the HTTP server's own shutdown timeout
// for the hooks that run after it (closing the store).
const stopMargin = 5 * time.Second

// Module is the whole service for cfg: the logger, the store that cfg
// chooses (Redis when it names addresses, memory otherwise), its metrics,
// the use cases and the HTTP server, and the admin listener when cfg names
// its address.
func Module(cfg Config) fx.Option {
	return fx.Options(
		fx.Provide(func() (*zap.Logger, error) { return NewLogger(cfg.Log) }),
		fx.WithLogger(newFxLogger),
		fx.StopTimeout(cfg.HTTP.ShutdownTimeout+stopMargin),
		store(cfg),
		metrics.Module,
		// At the root: fx applies a decoration only within its own module,
		// and the service's store must be the instrumented one.
		instrument(cfg),
		fx.Provide(func(m *metrics.Metrics) httpapi.Metrics { return m }),
		fx.Supply(cfg.Hold, cfg.HTTP),
		stream(cfg),
		fx.Provide(func(s application.Store, p domain.HoldPolicy, f *application.Feed, x *application.Expirer) *application.Service {
			return application.NewService(s, p, application.WithMaxEventsPerOwner(cfg.EventsMaxPerKey),
				application.WithFeed(f), application.WithExpiryTracker(x))
		}),
		security(cfg),
		httpapi.Module,
		admin(cfg), // admin.go: the profiles, on a listener of their own
		// Appended last, so its stop hook runs first: the log shows when
		// shutdown began, before the server drains in-flight requests.
		fx.Invoke(func(lc fx.Lifecycle, log *zap.Logger) {
			lc.Append(fx.StopHook(func() {
				log.Info("shutting down", zap.Duration("timeout", cfg.HTTP.ShutdownTimeout))
			}))
		}),
	)
}

// stream is the Feed of the streams of changes and the Expirer that
// records expiries on time, for the life of the application. Their hooks
// are appended before the HTTP server's, so that they stop after it; the
// server closes the Feed as its shutdown begins (httpapi's newServer), so
// that the streams end at once, and their clients reconnect elsewhere.
func stream(cfg Config) fx.Option {
	return fx.Options(
		fx.Provide(func(s application.Store, log *zap.Logger) *application.Expirer {
			return application.NewExpirer(s, log.Named("expirer"))
		}),
		fx.Provide(func(s application.Store, log *zap.Logger, x *application.Expirer) *application.Feed {
			return application.NewFeed(s, log.Named("feed"), application.FeedConfig{MaxSubscribers: cfg.StreamMaxSubscribers, Expiries: x})
		}),
		fx.Invoke(func(lc fx.Lifecycle, f *application.Feed, x *application.Expirer, m *metrics.Metrics) {
			m.WatchSubscribers(f.Subscribers)
			lc.Append(fx.StartStopHook(x.Start, x.Stop))
			lc.Append(fx.StartStopHook(f.Start, f.Close))
		}),
	)
}

func store(cfg Config) fx.Option {
	if len(cfg.Redis.Addrs) == 0 {
		return fx.Options(fx.Supply(memstore.Config{MaxSeats: cfg.MemoryMaxSeats, StreamMaxLen: cfg.StreamMaxLen}), memstore.Module)
	}
	redis := cfg.Redis
	redis.StreamMaxLen = cfg.StreamMaxLen
	return fx.Options(fx.Supply(redis), redisstore.Module,
		// Redis's memory in /metrics: a full Redis refuses every write.
		fx.Invoke(func(m *metrics.Metrics, s *redisstore.Store, log *zap.Logger) {
			m.WatchMemory(s, log.Named("metrics"))
		}))
}
