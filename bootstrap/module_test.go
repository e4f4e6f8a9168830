package bootstrap

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
)

func config(t *testing.T, environ ...string) Config {
	t.Helper()
	cfg, err := LoadConfig(Sources{Environ: environ})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestModuleValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"memory", config(t)},
		{"redis", config(t, "RESERVATION_REDIS_ADDRS=127.0.0.1:6379")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := fx.ValidateApp(Module(tt.cfg)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestModuleServes starts the assembled service on each store, checks that
// the configuration chose the store and reached the use cases, and serves
// requests on a free port.
func TestModuleServes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		redis     bool
		wantStore application.Store
	}{
		{"memory", false, (*memstore.Store)(nil)},
		{"redis", true, (*redisstore.Store)(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := []string{"RESERVATION_HTTP_ADDR=127.0.0.1:0", "RESERVATION_HOLD_MAX_SEATS=1"}
			if tt.redis {
				env = append(env, "RESERVATION_REDIS_ADDRS="+redistest.Standalone(t))
			}
			var (
				srv   *httpapi.Server
				store application.Store
			)
			app := fxtest.New(t, Module(config(t, env...)),
				fx.Replace(zaptest.NewLogger(t, zaptest.Level(zapcore.InfoLevel))),
				fx.Populate(&srv, &store),
			)
			app.RequireStart()
			defer app.RequireStop()

			if reflect.TypeOf(store) != reflect.TypeOf(tt.wantStore) {
				t.Errorf("store is %T, want %T", store, tt.wantStore)
			}
			base := "http://" + srv.Addr().String()
			var ev struct{ ID string }
			post(t, base+"/events/create", `{"name": "Wiring", "totalSeats": 10}`, http.StatusCreated, &ev)
			hold := func(n int) string { return fmt.Sprintf(`{"id": "%s.%d", "UUID": "u"}`, ev.ID, n) }
			post(t, base+"/seats/hold", hold(1), http.StatusOK, nil)
			// The configured limit of one hold reached the use cases.
			post(t, base+"/seats/hold", hold(2), http.StatusTooManyRequests, nil)
		})
	}
}

func post(t *testing.T, url, body string, wantStatus int, out any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("POST %s %s: status %d, want %d", url, body, resp.StatusCode, wantStatus)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}
