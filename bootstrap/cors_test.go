package bootstrap

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/seatres/reservation/adapters/httpapi"
)

// TestLoadConfigCORSOrigins: the origins come as a comma-separated list or
// a YAML list, in the form a browser sends them; none is the default.
func TestLoadConfigCORSOrigins(t *testing.T) {
	t.Parallel()
	want := []string{"https://tickets.example.com", "http://localhost:5173"}
	tests := []struct {
		name string
		src  Sources
		want []string
	}{
		{"default", sources(t, "", ""), nil},
		{"empty", sources(t, "", "", "RESERVATION_HTTP_CORS_ORIGINS= "), nil},
		{"environment", sources(t, "", "", "RESERVATION_HTTP_CORS_ORIGINS=HTTPS://Tickets.Example.com:443, http://localhost:5173"), want},
		{"dotenv", sources(t, "", `RESERVATION_HTTP_CORS_ORIGINS="https://tickets.example.com,http://localhost:5173"`+"\n"), want},
		{"yaml", sources(t, "http:\n  corsOrigins: [https://tickets.example.com, 'http://localhost:5173']\n", ""), want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.CORSOrigins, tt.want) {
				t.Errorf("CORSOrigins = %q, want %q", cfg.CORSOrigins, tt.want)
			}
		})
	}
}

// TestLoadConfigCORSOriginsInvalid: a wildcard, a path or an empty item
// stops start-up with a message that names the setting and says why.
func TestLoadConfigCORSOriginsInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		yaml, give string
		want       string
	}{
		{name: "wildcard", give: "*",
			want: `RESERVATION_HTTP_CORS_ORIGINS: origin "*": wildcards are refused, since the API takes credentials (Authorization, X-Buyer-Token): list each origin whose pages may call it, e.g. https://tickets.example.com`},
		{name: "wildcard subdomain", give: "https://tickets.example.com,https://*.example.com",
			want: `RESERVATION_HTTP_CORS_ORIGINS: origin "https://*.example.com": wildcards are refused`},
		{name: "path", give: "https://tickets.example.com/sale",
			want: `RESERVATION_HTTP_CORS_ORIGINS: invalid origin "https://tickets.example.com/sale": an origin has no path, query or fragment (want https://tickets.example.com)`},
		{name: "no scheme", give: "tickets.example.com",
			want: `RESERVATION_HTTP_CORS_ORIGINS: invalid origin "tickets.example.com" (want scheme://host[:port], e.g. https://tickets.example.com)`},
		{name: "empty item", give: "https://a.example,,https://b.example",
			want: `RESERVATION_HTTP_CORS_ORIGINS: invalid origin ""`},
		{name: "yaml", yaml: "http:\n  corsOrigins: ['*']\n",
			want: `config.yaml: http.corsOrigins: origin "*": wildcards are refused`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var environ []string
			if tt.give != "" {
				environ = append(environ, "RESERVATION_HTTP_CORS_ORIGINS="+tt.give)
			}
			_, err := LoadConfig(sources(t, tt.yaml, "", environ...))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("LoadConfig() error %v, want one with %q", err, tt.want)
			}
		})
	}
}

// TestModuleCORS: the assembled service answers a preflight of a
// configured origin, and without origins OPTIONS is the 405 it always was.
func TestModuleCORS(t *testing.T) {
	t.Parallel()
	const origin = "https://tickets.example.com"
	tests := []struct {
		name       string
		env        []string
		wantStatus int
		wantOrigin string
	}{
		{"on", []string{"RESERVATION_HTTP_CORS_ORIGINS=" + origin}, http.StatusNoContent, origin},
		{"off", nil, http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var srv *httpapi.Server
			app := fxtest.New(t, Module(config(t, append(tt.env, "RESERVATION_HTTP_ADDR=127.0.0.1:0")...)),
				fx.Replace(zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel))),
				fx.Populate(&srv),
			)
			app.RequireStart()
			defer app.RequireStop()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, "http://"+srv.Addr().String()+"/seats/hold", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", http.MethodPost)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != tt.wantStatus || got != tt.wantOrigin {
				t.Errorf("preflight: got %d, Access-Control-Allow-Origin %q; want %d, %q", resp.StatusCode, got, tt.wantStatus, tt.wantOrigin)
			}
		})
	}
}
