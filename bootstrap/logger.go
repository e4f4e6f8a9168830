package bootstrap

import (
	"time"

	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Sampling of the JSON log, per level and message and per second: the
// first sampleFirst entries, then one in sampleThereafter. In a flash sale
// the request lines (info, for answers below 500) would otherwise cost as
// much as the requests; warnings and errors (503, 500) are never sampled,
// so every failed request keeps its line.
const (
	sampleFirst      = 100
	sampleThereafter = 100
)

// NewLogger builds the service's logger: zap's production setup (JSON, for
// machines, sampled below warnings) or its development setup (console, for
// people, unsampled), at the configured level.
func NewLogger(c LogConfig) (*zap.Logger, error) {
	if c.Format == LogConsole {
		zc := zap.NewDevelopmentConfig()
		zc.Level = zap.NewAtomicLevelAt(c.Level)
		return zc.Build()
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(c.Level)
	zc.Sampling = nil // zap's own would sample errors too
	zc.EncoderConfig = jsonEncoding()
	return zc.Build(zap.WrapCore(sampleBelowWarn))
}

// jsonEncoding is zap's production encoding with times and durations that
// people and log tools read without converting them: zap's own are epoch
// seconds as a float and durations as seconds without a unit.
func jsonEncoding() zapcore.EncoderConfig {
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = func(t time.Time, enc zapcore.PrimitiveArrayEncoder) { encodeMillis(t.UTC(), enc) }
	ec.EncodeDuration = zapcore.StringDurationEncoder // "15s", "1.2ms"
	return ec
}

// encodeMillis writes a time as RFC 3339 (and so ISO 8601) with
// milliseconds. Given in UTC, as "2026-12-02T01:55:44.622Z": the lines of
// instances in other time zones then sort and compare as text.
var encodeMillis = zapcore.TimeEncoderOfLayout("2006-01-02T15:04:05.000Z07:00")

// sampleBelowWarn samples the entries of core below warning level.
func sampleBelowWarn(core zapcore.Core) zapcore.Core {
	return splitCore{
		Core:    core,
		sampled: zapcore.NewSamplerWithOptions(core, time.Second, sampleFirst, sampleThereafter),
	}
}

// splitCore hands entries below warning level to sampled, the others to
// Core.
type splitCore struct {
	zapcore.Core
	sampled zapcore.Core
}

func (c splitCore) With(fields []zapcore.Field) zapcore.Core {
	return splitCore{Core: c.Core.With(fields), sampled: c.sampled.With(fields)}
}

func (c splitCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Level < zapcore.WarnLevel {
		return c.sampled.Check(e, ce)
	}
	return c.Core.Check(e, ce)
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
