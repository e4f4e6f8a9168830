package bootstrap

import (
	"encoding/json"
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

// TestJSONEncoding: a JSON log line carries its time as RFC 3339 in UTC
// with milliseconds and its durations with a unit.
func TestJSONEncoding(t *testing.T) {
	t.Parallel()
	// In another zone than UTC, which the line gives.
	at := time.Date(2026, 12, 2, 2, 55, 44, 622_954_000, time.FixedZone("CET", 3600))
	buf, err := zapcore.NewJSONEncoder(jsonEncoding()).EncodeEntry(
		zapcore.Entry{Level: zapcore.InfoLevel, Time: at, Message: "shutting down"},
		[]zapcore.Field{zap.Duration("timeout", 15*time.Second), zap.Duration("latency", 1500*time.Microsecond)})
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		TS      string
		Timeout string
		Latency string
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%s: %v", buf, err)
	}
	if ts, err := time.Parse(time.RFC3339Nano, line.TS); err != nil || !ts.Equal(at.Truncate(time.Millisecond)) || line.TS != "2026-12-02T01:55:44.622Z" {
		t.Errorf("ts %q (%v), want RFC 3339 with milliseconds", line.TS, err)
	}
	if line.Timeout != "15s" || line.Latency != "1.5ms" {
		t.Errorf("durations %q and %q, want 15s and 1.5ms", line.Timeout, line.Latency)
	}
}
