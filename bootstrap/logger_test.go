package bootstrap

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestSampleBelowWarn: a burst of request lines is sampled, but every
// warning and error is kept, through loggers derived with With too.
func TestSampleBelowWarn(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(sampleBelowWarn(core), zap.WithClock(stoppedClock{})).With(zap.String("logger", "http"))
	const burst = 3 * sampleFirst
	for range burst {
		log.Info("request")
		log.Warn("request")
		log.Error("request")
	}
	// All in one second: the first sampleFirst, then one in sampleThereafter.
	wantInfo := sampleFirst + (burst-sampleFirst)/sampleThereafter
	for level, want := range map[zapcore.Level]int{zapcore.InfoLevel: wantInfo, zapcore.WarnLevel: burst, zapcore.ErrorLevel: burst} {
		got := logs.Filter(func(e observer.LoggedEntry) bool { return e.Level == level }).Len()
		if got != want {
			t.Errorf("%v: %d lines logged, want %d", level, got, want)
		}
	}
	if f := logs.All()[0].ContextMap(); f["logger"] != "http" {
		t.Errorf("fields of With lost: %v", f)
	}
}

// stoppedClock keeps a burst within one second of the sampler's.
type stoppedClock struct{}

func (stoppedClock) Now() time.Time                         { return time.Unix(1_800_000_000, 0) }
func (stoppedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }
