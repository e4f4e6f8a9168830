package bootstrap

import (
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/seatres/reservation/adapters/httpapi"
)

// adminWriteTimeout is the admin listener's own: a CPU profile or an
// execution trace writes its answer only at the end of the seconds it was
// asked for, and net/http/pprof refuses one that would outlast the write
// timeout, so it allows profiles of up to 5 minutes.
const adminWriteTimeout = 5*time.Minute + 10*time.Second

// adminServer is the admin listener's server, a type of its own beside the
// API's *httpapi.Server.
type adminServer struct{ *httpapi.Server }

// admin serves Go's profiles (net/http/pprof) on a listener of their own,
// at cfg.AdminAddr, when it is set. Never on the API's port, whose router
// answers /debug/pprof/ 404: profiles tell how the service works inside,
// a CPU profile costs the instance while it runs, and the API's port is the
// one the world reaches.
func admin(cfg Config) fx.Option {
	if cfg.AdminAddr == "" {
		return fx.Options()
	}
	return fx.Module("admin",
		fx.Decorate(func(log *zap.Logger) *zap.Logger { return log.Named("admin") }),
		fx.Provide(func(log *zap.Logger) *adminServer {
			c := httpapi.Config{Addr: cfg.AdminAddr, WriteTimeout: adminWriteTimeout}
			return &adminServer{httpapi.NewServer(c, profiles(), log)}
		}),
		// Start listens, so that a busy port fails start-up. Stop closes at
		// once, with no drain: a profile still running is cut off, as it is
		// not worth holding the instance's stop for, and fx runs this hook
		// before the API's, whose drain must not wait behind it.
		fx.Invoke(func(lc fx.Lifecycle, s *adminServer) { lc.Append(fx.StartStopHook(s.Start, s.Close)) }),
	)
}

// profiles is net/http/pprof's handlers on a mux of their own, not
// http.DefaultServeMux, where importing the package also puts them: nothing
// serves that mux, and nothing else is on this one.
func profiles() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // and every named profile: heap, goroutine, ...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
