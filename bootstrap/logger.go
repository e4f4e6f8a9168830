package bootstrap

import (
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// NewLogger builds the service's logger: zap's production setup (JSON, for
// machines) or its development setup (console, for people), at the
// configured level.
func NewLogger(c LogConfig) (*zap.Logger, error) {
	zc := zap.NewProductionConfig()
	if c.Format == LogConsole {
		zc = zap.NewDevelopmentConfig()
	}
	zc.Level = zap.NewAtomicLevelAt(c.Level)
	return zc.Build()
}

// newFxLogger logs fx's own events at debug level, so that a normal start
// prints only what the service says. Its errors go to debug too: fx returns
// each of them from Start or Stop, and the caller reports them once.
func newFxLogger(log *zap.Logger) fxevent.Logger {
	l := &fxevent.ZapLogger{Logger: log.Named("fx")}
	l.UseLogLevel(zapcore.DebugLevel)
	l.UseErrorLevel(zapcore.DebugLevel)
	return l
}
