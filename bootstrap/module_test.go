package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
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
		{"admin listener", config(t, "RESERVATION_ADMIN_ADDR=127.0.0.1:0")},
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
		name  string
		redis bool
	}{
		{"memory", false},
		{"redis", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := []string{"RESERVATION_HTTP_ADDR=127.0.0.1:0", "RESERVATION_HOLD_MAX_SEATS=1"}
			var redisAddr string
			if tt.redis {
				redisAddr = redistest.Standalone(t)
				env = append(env, "RESERVATION_REDIS_ADDRS="+redisAddr)
			}
			var srv *httpapi.Server
			app := fxtest.New(t, Module(config(t, env...)),
				fx.Replace(zaptest.NewLogger(t, zaptest.Level(zapcore.InfoLevel))),
				fx.Populate(&srv),
			)
			app.RequireStart()
			defer app.RequireStop()

			base := "http://" + srv.Addr().String()
			var ev struct{ ID string }
			post(t, base+"/events/create", `{"name": "Wiring", "totalSeats": 10}`, http.StatusCreated, &ev)
			if tt.redis && redisKeys(t, redisAddr) == 0 {
				t.Error("the event is not in the configured Redis")
			}
			// The store the service uses is the instrumented one.
			m := get(t, base+"/metrics")
			if !strings.Contains(m, `store_call_duration_seconds_count{op="create_event"} 1`) {
				t.Errorf("the store is not instrumented:\n%s", m)
			}
			// Redis's memory is watched on Redis, and only there.
			if got := strings.Contains(m, "redis_used_memory_bytes{"); got != tt.redis {
				t.Errorf("/metrics has Redis's memory: %v, want %v", got, tt.redis)
			}
			hold := func(n int) string { return fmt.Sprintf(`{"id": "%s.%d", "UUID": "u"}`, ev.ID, n) }
			post(t, base+"/seats/hold", hold(1), http.StatusOK, nil)
			// The configured limit of one hold reached the use cases.
			post(t, base+"/seats/hold", hold(2), http.StatusTooManyRequests, nil)
		})
	}
}

// redisKeys counts the keys in the Redis at addr.
func redisKeys(t *testing.T, addr string) int64 {
	t.Helper()
	c := redistest.Client(t, addr)
	n, err := c.Do(context.Background(), c.B().Dbsize().Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
	return string(b)
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
