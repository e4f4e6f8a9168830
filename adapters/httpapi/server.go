// Package httpapi is the HTTP input adapter: the gin router of the contract
// in api/openapi.yaml over the application's use cases, and the server that
// runs it.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/seatres/reservation/application"
)

// Config is the HTTP server's configuration.
type Config struct {
	Addr string // host:port to listen on
	// ShutdownTimeout bounds how long in-flight requests may run after
	// shutdown starts; zero leaves it to the caller's context.
	ShutdownTimeout time.Duration
}

// Connection limits that protect the server from slow or idle clients; no
// request of this API needs more.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
)

// Server runs an http.Handler: Start listens and serves in the background,
// Stop lets in-flight requests finish.
type Server struct {
	cfg    Config
	log    *zap.Logger
	http   *http.Server
	addr   net.Addr
	served chan struct{} // closed when Serve has returned
}

// NewServer returns a server of h that is not yet listening.
func NewServer(cfg Config, h http.Handler, log *zap.Logger) *Server {
	return &Server{
		cfg: cfg,
		log: log,
		http: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          zap.NewStdLog(log),
		},
	}
}

// Start listens, so that a busy port fails start-up, then serves in the
// background.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %q: %w", s.cfg.Addr, err)
	}
	s.addr = ln.Addr()
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP server stopped serving", zap.Error(err))
		}
	}()
	s.log.Info("listening", zap.Stringer("addr", ln.Addr()))
	return nil
}

// Addr is the address the server listens on, once started.
func (s *Server) Addr() net.Addr { return s.addr }

// Stop stops accepting connections and waits for in-flight requests to
// finish, at most ShutdownTimeout; connections still busy then are closed.
// It follows a successful Start.
func (s *Server) Stop(ctx context.Context) error {
	if s.cfg.ShutdownTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
		defer cancel()
	}
	err := s.http.Shutdown(ctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("shut down HTTP server: %w", err), s.http.Close())
	}
	<-s.served
	return err
}

// Module runs the HTTP API over the application's use cases for the life
// of the fx application. It needs the Metrics to report to.
var Module = fx.Module("httpapi",
	fx.Decorate(func(log *zap.Logger) *zap.Logger { return log.Named("http") }),
	fx.Provide(newServer),
	fx.Invoke(func(lc fx.Lifecycle, s *Server) { lc.Append(fx.StartStopHook(s.Start, s.Stop)) }),
)

func newServer(cfg Config, svc *application.Service, log *zap.Logger, m Metrics) *Server {
	gin.SetMode(gin.ReleaseMode) // no debug output on stdout: the logs are zap's
	return NewServer(cfg, NewRouter(svc, log, m), log)
}
