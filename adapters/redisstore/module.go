package redisstore

import (
	"context"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/seatres/reservation/application"
)

// Module provides the Redis store as the application.Store, and the
// limits it keeps as the application.Limiter. It needs a
// Config and a *zap.Logger.
var Module = fx.Module("redisstore",
	fx.Decorate(func(log *zap.Logger) *zap.Logger { return log.Named("redisstore") }),
	fx.Provide(fx.Annotate(provide, fx.As(new(application.Store)), fx.As(fx.Self()))),
	fx.Provide(fx.Annotate(NewLimiter, fx.As(new(application.Limiter)))),
)

// provide connects while the application is built, so an unreachable Redis
// stops start-up; New bounds the wait with the configured timeouts.
func provide(lc fx.Lifecycle, cfg Config, log *zap.Logger) (*Store, error) {
	s, err := New(context.Background(), cfg, log)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(s.Close))
	return s, nil
}
