package memstore

import (
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/seatres/reservation/application"
)

// Module provides the in-memory store as the application.Store.
var Module = fx.Module("memstore",
	fx.Decorate(func(log *zap.Logger) *zap.Logger { return log.Named("memstore") }),
	fx.Provide(fx.Annotate(provide, fx.As(new(application.Store)))),
)

// provide warns, because choosing this store by accident loses every
// reservation on restart.
func provide(log *zap.Logger) *Store {
	log.Warn("using the in-memory store: state is lost on exit and not shared between instances; configure Redis to keep it")
	return New(time.Now)
}
