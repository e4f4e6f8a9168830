package bootstrap

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
)

// TestModuleStreams starts the assembled service on each store and follows
// an event's stream: a hold made through the API comes, then its expiry
// with no other change (the Expirer's doing), and stopping the service (as
// on SIGTERM) ends the stream at once, where the server's shutdown would
// otherwise wait for it.
func TestModuleStreams(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			env := []string{"RESERVATION_HTTP_ADDR=127.0.0.1:0", "RESERVATION_HOLD_TTL=500ms", "RESERVATION_SHUTDOWN_TIMEOUT=30s"}
			if store == "redis" {
				env = append(env, "RESERVATION_REDIS_ADDRS="+redistest.Standalone(t))
			}
			var srv *httpapi.Server
			app := fxtest.New(t, Module(config(t, env...)),
				fx.Replace(zaptest.NewLogger(t, zaptest.Level(zapcore.InfoLevel))),
				fx.Populate(&srv),
			)
			app.RequireStart()
			stopped := false
			defer func() {
				if !stopped {
					app.RequireStop()
				}
			}()
			base := "http://" + srv.Addr().String()
			var ev struct{ ID string }
			post(t, base+"/events/create", `{"name": "Stream", "totalSeats": 10}`, http.StatusCreated, &ev)

			client := &http.Client{Timeout: 20 * time.Second}
			resp, err := client.Get(base + "/events/" + ev.ID + "/stream")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			data := func(event string) string {
				t.Helper()
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						t.Fatalf("waiting for %s: %v", event, err)
					}
					if line == "event: "+event+"\n" {
						line, err = r.ReadString('\n')
						if err != nil {
							t.Fatal(err)
						}
						return line
					}
				}
			}
			data("snapshot")
			post(t, base+"/seats/hold", fmt.Sprintf(`{"id": "%s.1", "UUID": "u"}`, ev.ID), http.StatusOK, nil)
			if d := data("changes"); !strings.Contains(d, `"op":"hold"`) {
				t.Fatalf("changes %s, want the hold", d)
			}
			start := time.Now()
			if d := data("changes"); !strings.Contains(d, `"op":"expired"`) {
				t.Fatalf("changes %s, want the expiry", d)
			}
			t.Logf("the expiry came %v after the hold's record", time.Since(start))

			start = time.Now()
			app.RequireStop()
			stopped = true
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("stopping took %v with a stream open", took)
			}
			for {
				if _, err := r.ReadString('\n'); err != nil {
					break // the stream ended
				}
			}
		})
	}
}
