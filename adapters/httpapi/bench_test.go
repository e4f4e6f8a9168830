package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// discardWriter keeps only what a benchmark checks, so that it measures
// the router and not a recorder.
type discardWriter struct {
	header http.Header
	status int
	bytes  int
}

func (w *discardWriter) Header() http.Header    { return w.header }
func (w *discardWriter) WriteHeader(status int) { w.status = status }
func (w *discardWriter) Write(b []byte) (int, error) {
	w.bytes += len(b)
	return len(b), nil
}

// reusableBody is a request body that can be refilled without allocating.
type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

// benchLoggers: no request log, and zap's JSON log to nowhere, to see what
// the request line costs.
var benchLoggers = []struct {
	name string
	log  *zap.Logger
}{
	{"nolog", zap.NewNop()},
	{"jsonlog", zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.InfoLevel))},
}

// benchRouter is the router over the in-memory store, with one event of
// the most seats, all available, and a clock that does not move.
func benchRouter(b *testing.B, log *zap.Logger) (*gin.Engine, domain.Event) {
	b.Helper()
	now := time.Date(2026, 3, 1, 18, 0, 0, 0, time.UTC)
	svc := application.NewService(memstore.New(func() time.Time { return now }), defaultPolicy)
	e, err := svc.CreateEvent(context.Background(), application.NewEvent{Name: "Spring concert", TotalSeats: domain.MaxTotalSeats})
	if err != nil {
		b.Fatal(err)
	}
	return NewRouter(svc, log, metrics.New()), e
}

// BenchmarkHold: POST /seats/hold, each seat by its own UUID. Once every
// seat is held, holds repeat, which the store extends.
func BenchmarkHold(b *testing.B) {
	for _, l := range benchLoggers {
		b.Run(l.name, func(b *testing.B) {
			router, e := benchRouter(b, l.log)
			bodies := make([][]byte, e.TotalSeats)
			for i := range bodies {
				bodies[i] = []byte(seatRequest(e.Seat(i+1).String(), "user-"+strconv.Itoa(i)))
			}
			var body reusableBody
			req := httptest.NewRequest(http.MethodPost, "/seats/hold", &body)
			req.Header.Set("Content-Type", "application/json")
			w := &discardWriter{header: http.Header{}}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				body.Reset(bodies[i%len(bodies)])
				router.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
				i++
			}
		})
	}
}

// BenchmarkListSeats: GET /seats/list/{id} of 10,000 available seats.
func BenchmarkListSeats(b *testing.B) {
	for _, l := range benchLoggers {
		b.Run(l.name, func(b *testing.B) {
			router, e := benchRouter(b, l.log)
			req := httptest.NewRequest(http.MethodGet, "/seats/list/"+string(e.ID), nil)
			w := &discardWriter{header: http.Header{}}
			router.ServeHTTP(w, req)
			b.SetBytes(int64(w.bytes))
			b.ReportAllocs()
			for b.Loop() {
				router.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}
