package memstore

import (
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/seatres/reservation/application"
)

// Module provides the in-memory store as the application.Store, and a
// limiter of this process as the application.Limiter. It needs a
// *zap.Logger, and takes a Config if one is provided.
var Module = fx.Module("memstore",
	fx.Decorate(func(log *zap.Logger) *zap.Logger { return log.Named("memstore") }),
	fx.Provide(fx.Annotate(provide, fx.As(new(application.Store)))),
	fx.Provide(fx.Annotate(provideLimiter, fx.As(new(application.Limiter)))),
)

// Config bounds the in-memory store.
type Config struct {
	// MaxSeats caps the seats of all events together (see WithMaxSeats);
	// 0 is no cap.
	MaxSeats int
	// StreamMaxLen is how many records of changes each event keeps (see
	// WithStreamMaxLen); 0 is DefaultStreamMaxLen.
	StreamMaxLen int
}

// params are provide's dependencies; without a Config the store has no cap.
type params struct {
	fx.In
	Log    *zap.Logger
	Config Config `optional:"true"`
}

// provide warns, because choosing this store by accident loses every
// reservation on restart.
func provide(p params) *Store {
	p.Log.Warn("using the in-memory store: state is lost on exit and not shared between instances; configure Redis to keep it")
	opts := []Option{WithMaxSeats(p.Config.MaxSeats)}
	if p.Config.StreamMaxLen > 0 {
		opts = append(opts, WithStreamMaxLen(p.Config.StreamMaxLen))
	}
	return New(time.Now, opts...)
}
