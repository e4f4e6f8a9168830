package httpapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/api"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// blockingServer is a started server whose GET /events/{id} waits until
// release is closed; entered is closed when such a request arrives.
func blockingServer(t *testing.T, cfg Config) (s *Server, entered, release chan struct{}) {
	t.Helper()
	entered, release = make(chan struct{}), make(chan struct{})
	uc := stubUseCases{event: func(context.Context, string) (domain.Event, error) {
		close(entered)
		<-release
		return domain.Event{ID: "0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10", Name: "a", TotalSeats: 10, SeatsPerRow: 10}, nil
	}}
	log := zaptest.NewLogger(t)
	s = NewServer(cfg, NewRouter(uc, log, metrics.New()), log)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, entered, release
}

type answer struct {
	status int
	err    error
}

// getAsync sends GET url on a connection of its own and reports the answer.
func getAsync(url string) <-chan answer {
	answered := make(chan answer, 1)
	go func() {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(url)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		answered <- answer{status: resp.StatusCode, err: err}
	}()
	return answered
}

func TestServerShutdownLetsRequestsFinish(t *testing.T) {
	t.Parallel()
	s, entered, release := blockingServer(t, Config{Addr: "127.0.0.1:0", ShutdownTimeout: time.Minute})
	shuttingDown := make(chan struct{})
	s.http.RegisterOnShutdown(func() { close(shuttingDown) })

	answered := getAsync("http://" + s.Addr().String() + "/events/x")
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	<-shuttingDown

	if conn, err := net.Dial("tcp", s.Addr().String()); err == nil {
		conn.Close()
		t.Error("a new connection was accepted during shutdown")
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a request was in flight", err)
	default:
	}
	close(release)
	if a := <-answered; a.err != nil || a.status != http.StatusOK {
		t.Errorf("in-flight request: status %d, error %v; want 200", a.status, a.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestServerShutdownTimeout(t *testing.T) {
	t.Parallel()
	s, entered, release := blockingServer(t, Config{Addr: "127.0.0.1:0", ShutdownTimeout: time.Millisecond})
	defer close(release)
	answered := getAsync("http://" + s.Addr().String() + "/events/x")
	<-entered
	if err := s.Stop(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop with a stuck request = %v, want a deadline error", err)
	}
	if a := <-answered; a.err == nil {
		t.Errorf("the stuck request got %d, want its connection closed", a.status)
	}
}

func TestServerBusyPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := NewServer(Config{Addr: ln.Addr().String()}, http.NotFoundHandler(), zap.NewNop())
	if err := s.Start(context.Background()); err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("Start on a busy port = %v, want an error naming the address", err)
	}
}

func moduleOptions(t *testing.T, s **Server) fx.Option {
	return fx.Options(
		fx.Supply(Config{Addr: "127.0.0.1:0", ShutdownTimeout: time.Second}, zaptest.NewLogger(t)),
		fx.Provide(func() *application.Service {
			return application.NewService(memstore.New(time.Now), defaultPolicy)
		}),
		fx.Provide(func() Metrics { return metrics.New() }),
		Module,
		fx.Populate(s),
	)
}

func TestModule(t *testing.T) {
	t.Parallel()
	var s *Server
	if err := fx.ValidateApp(moduleOptions(t, &s)); err != nil {
		t.Fatal(err)
	}
	app := fxtest.New(t, moduleOptions(t, &s))
	app.RequireStart()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + s.Addr().String() + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != string(api.OpenAPI) {
		t.Errorf("GET /openapi.yaml: %d, %d bytes, %v", resp.StatusCode, len(body), err)
	}
	app.RequireStop()
}
