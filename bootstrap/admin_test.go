package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/adapters/httpapi"
)

// TestAdminServesProfiles: with RESERVATION_ADMIN_ADDR set, the profiles
// answer on the admin address, and the API's port knows no such path.
func TestAdminServesProfiles(t *testing.T) {
	t.Parallel()
	var (
		api   *httpapi.Server
		admin *adminServer
	)
	app := fxtest.New(t, Module(config(t, "RESERVATION_HTTP_ADDR=127.0.0.1:0", "RESERVATION_ADMIN_ADDR=127.0.0.1:0")),
		fx.Replace(zaptest.NewLogger(t)), fx.Populate(&api, &admin))
	app.RequireStart()
	defer app.RequireStop()

	if admin.Addr().String() == api.Addr().String() {
		t.Fatalf("admin and API on the same address %s", api.Addr())
	}
	base := "http://" + admin.Addr().String()
	if index := get(t, base+"/debug/pprof/"); !strings.Contains(index, "goroutine") || !strings.Contains(index, "heap") {
		t.Errorf("GET /debug/pprof/ on the admin address:\n%s\nwant the index of the profiles", index)
	}
	if stacks := get(t, base+"/debug/pprof/goroutine?debug=1"); !strings.Contains(stacks, "goroutine profile:") {
		t.Errorf("goroutine profile:\n%s", stacks)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap"} {
		wantNotFound(t, "http://"+api.Addr().String()+path)
	}
}

// TestAdminOffByDefault: without the setting there is no admin listener,
// and the API's port answers the profiles' paths 404 all the same.
func TestAdminOffByDefault(t *testing.T) {
	t.Parallel()
	var p struct {
		fx.In
		API   *httpapi.Server
		Admin *adminServer `optional:"true"`
	}
	app := fxtest.New(t, Module(config(t, "RESERVATION_HTTP_ADDR=127.0.0.1:0")),
		fx.Replace(zaptest.NewLogger(t)), fx.Populate(&p))
	app.RequireStart()
	defer app.RequireStop()
	if p.Admin != nil {
		t.Errorf("an admin server listens on %s without RESERVATION_ADMIN_ADDR", p.Admin.Addr())
	}
	wantNotFound(t, "http://"+p.API.Addr().String()+"/debug/pprof/")
}

// TestAdminBusyPort: an admin address already taken fails start-up, as
// the API's does.
func TestAdminBusyPort(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	app := fx.New(Module(config(t, "RESERVATION_HTTP_ADDR=127.0.0.1:0", "RESERVATION_ADMIN_ADDR="+taken.Addr().String())),
		fx.Replace(zaptest.NewLogger(t)))
	err = app.Start(context.Background())
	if err == nil {
		_ = app.Stop(context.Background())
		t.Fatal("started with the admin port taken")
	}
	if !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("start-up error %q does not name the address %s", err, taken.Addr())
	}
}

// TestAdminStopCutsOffProfiles: a CPU profile in flight does not make the
// stop unclean nor hold it: the admin listener closes at once, the profile
// is cut off, and Stop returns nil well within the stop timeout (which is
// only the deadline of a hung stop, not a measure of it).
func TestAdminStopCutsOffProfiles(t *testing.T) {
	t.Parallel()
	cfg := config(t, "RESERVATION_HTTP_ADDR=127.0.0.1:0", "RESERVATION_ADMIN_ADDR=127.0.0.1:0")
	var admin *adminServer
	app := fxtest.New(t, Module(cfg), fx.Replace(zaptest.NewLogger(t)), fx.Populate(&admin))
	app.RequireStart()

	// 300 s: the longest the admin listener allows, so that the profile
	// can only have ended by being cut off.
	ended := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + admin.Addr().String() + "/debug/pprof/profile?seconds=300")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		ended <- err
	}()
	waitForGoroutineIn("net/http/pprof.Profile(")

	ctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout+stopMargin)
	defer cancel()
	if err := app.Stop(ctx); err != nil {
		t.Errorf("Stop() with a profile in flight = %v, want nil", err)
	}
	if err := <-ended; err == nil {
		t.Error("the 300 s profile answered whole, want it cut off at stop")
	}
}

// waitForGoroutineIn returns once a goroutine of the process runs fn (a
// function's full name and its parenthesis): a request is in its handler.
func waitForGoroutineIn(fn string) {
	buf := make([]byte, 1<<20)
	for !bytes.Contains(buf[:runtime.Stack(buf, true)], []byte(fn)) {
		runtime.Gosched()
	}
}

// wantNotFound checks that GET url is the API's JSON 404.
func wantNotFound(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Code string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusNotFound || body.Code != "NOT_FOUND" {
		t.Errorf("GET %s: %d %+v (%v), want 404 NOT_FOUND", url, resp.StatusCode, body, err)
	}
}
