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
	// MaxConns caps the connections open at once; those past it are
	// answered 503 TOO_MANY_CONNECTIONS and closed (see limitListener).
	// Zero is no cap.
	MaxConns int
	// WriteTimeout bounds the writing of each response, from the end of
	// its request's headers: a client that reads too slowly is cut off
	// then. Zero is 30 s. A stream (stream.go) sets a deadline of its own
	// for each of its writes with http.ResponseController.SetWriteDeadline.
	WriteTimeout time.Duration
	// MaxLists caps the seat lists answered at once; those past it are
	// answered 503 TOO_MANY_LISTS (see lists.go). Zero is no cap.
	MaxLists int
	// MaxStreamsPerIP caps the streams one client IP (its /64 for IPv6)
	// has open at once; one past it is answered 429 TOO_MANY_STREAMS (see
	// stream.go). Zero is no cap.
	MaxStreamsPerIP int
}

// Connection limits that protect the server from slow or idle clients; no
// request of this API needs more.
const (
	readHeaderTimeout   = 5 * time.Second
	readTimeout         = 15 * time.Second
	defaultWriteTimeout = 30 * time.Second
	idleTimeout         = 2 * time.Minute
)

// maxHeaderBytes bounds a request's line and header block. No request of
// this API needs more than a few hundred bytes; browsers and proxies allow
// 8 to 16 KiB, cookies and tokens included.
const maxHeaderBytes = 16 << 10

var errHeadersTooLarge = fmt.Errorf("request headers are over %d bytes", maxHeaderBytes)

// limitHeaders answers a request whose header block is over maxHeaderBytes
// 431 REQUEST_HEADERS_TOO_LARGE. It is the JSON half of the bound:
// http.Server.MaxHeaderBytes (set to the same value) stops reading a header
// block 4096 bytes past it (bufio slack) and then answers a plain-text 431
// of its own that no middleware sees, so a header block of 16 to 20 KiB
// gets this JSON 431 and a bigger one (a 1 MB flood) net/http's plain one,
// having cost at most 20 KiB to read. net/http does not keep the size it
// read, so headerBytes counts it again, about.
func limitHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		if headerBytes(c.Request) > maxHeaderBytes {
			c.Abort()
			writeError(c, errHeadersTooLarge)
			return
		}
		c.Next()
	}
}

// headerBytes is about the size of r's request line and header block on the
// wire: "Method URI Proto\r\n", "Name: value\r\n" for each value (Host
// included, which net/http takes out of the map) and the blank line.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	if r.Host != "" {
		n += len("Host") + len(r.Host) + 4
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(v) + 4
		}
	}
	return n + 2
}

// Server runs an http.Handler: Start listens and serves in the background,
// Stop lets in-flight requests finish.
type Server struct {
	cfg    Config
	log    *zap.Logger
	http   *http.Server
	addr   net.Addr
	served chan struct{} // closed when Serve has returned
	// refused counts a connection refused at the cap; the fx module
	// reports it to the Metrics.
	refused func()
}

// NewServer returns a server of h that is not yet listening.
func NewServer(cfg Config, h http.Handler, log *zap.Logger) *Server {
	writeTimeout := cfg.WriteTimeout
	if writeTimeout == 0 {
		writeTimeout = defaultWriteTimeout
	}
	return &Server{
		cfg:     cfg,
		log:     log,
		refused: func() {},
		http: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
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
	if s.cfg.MaxConns > 0 {
		ln = newLimitListener(ln, s.cfg.MaxConns, s.refused)
	}
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

// Close stops serving at once: it closes the listener and every
// connection, cutting off the requests in flight, for a server whose
// requests are not worth waiting for. It follows a successful Start.
func (s *Server) Close() error {
	err := s.http.Close()
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

// Options are the router's options that the module's user provides
// (credentials, limits); none leaves the API open.
type Options []Option

type serverParams struct {
	fx.In
	Config  Config
	Service *application.Service
	Log     *zap.Logger
	Metrics Metrics
	Options Options `optional:"true"`
	// Feed, when given, is closed as shutdown begins: Shutdown waits for
	// the requests in flight, and a stream would never end on its own.
	Feed *application.Feed `optional:"true"`
}

func newServer(p serverParams) *Server {
	gin.SetMode(gin.ReleaseMode) // no debug output on stdout: the logs are zap's
	opts := append([]Option{WithMaxLists(p.Config.MaxLists), WithMaxStreamsPerIP(p.Config.MaxStreamsPerIP)}, p.Options...)
	s := NewServer(p.Config, NewRouter(p.Service, p.Log, p.Metrics, opts...), p.Log)
	s.refused = p.Metrics.ConnectionRefused
	if p.Feed != nil {
		s.http.RegisterOnShutdown(p.Feed.Close)
	}
	return s
}
