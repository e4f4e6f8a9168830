package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/seatres/reservation/application"
)

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	up := newAPI(t, defaultPolicy)
	down := newAPIOver(t, application.NewService(downStore{}, defaultPolicy), nil)
	tests := []struct {
		name     string
		api      *testAPI
		path     string
		want     int
		wantBody string
	}{
		{"alive", up, "/healthz", http.StatusOK, `{"status":"ok"}`},
		{"alive while the store is down", down, "/healthz", http.StatusOK, `{"status":"ok"}`},
		{"ready", up, "/readyz", http.StatusOK, `{"status":"ready"}`},
		{"not ready while the store is down", down, "/readyz", http.StatusServiceUnavailable, `"code":"STORE_UNAVAILABLE"`},
	}
	for _, tt := range tests {
		r := tt.api.get(tt.path)
		if r.Code != tt.want || !strings.Contains(r.Body.String(), tt.wantBody) {
			t.Errorf("%s: GET %s = %d %s, want %d with %s", tt.name, tt.path, r.Code, r.Body, tt.want, tt.wantBody)
		}
		// HEAD, as uptime checkers send it, over a real connection: the
		// same status and no body (a recorder would keep one).
		srv := httptest.NewServer(tt.api.router)
		resp, err := srv.Client().Head(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if err != nil || resp.StatusCode != tt.want || len(body) != 0 {
			t.Errorf("%s: HEAD %s = %d %q (%v), want %d without a body", tt.name, tt.path, resp.StatusCode, body, err, tt.want)
		}
	}
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	a.get("/events/" + e.ID)
	r := a.get("/metrics")
	if r.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", r.Code)
	}
	for _, want := range []string{
		`http_requests_total{method="POST",route="/events/create",status="201"} 1`,
		`http_requests_total{method="GET",route="/events/:id",status="200"} 1`,
	} {
		if !strings.Contains(r.Body.String(), want) {
			t.Errorf("GET /metrics lacks %s", want)
		}
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	tests := []struct {
		give     string
		wantSame bool
	}{
		{give: "", wantSame: false},
		{give: "abc-123", wantSame: true},
		{give: strings.Repeat("x", 128), wantSame: true},
		{give: strings.Repeat("x", 129), wantSame: false},
		{give: "has space", wantSame: false},
		{give: "ünïcode", wantSame: false},
	}
	for _, tt := range tests {
		req := a.request(http.MethodGet, "/healthz", "", "")
		if tt.give != "" {
			req.Header.Set(requestIDHeader, tt.give)
		}
		got := a.serve(req, "").Header().Get(requestIDHeader)
		if got == "" || !validRequestID(got) || (got == tt.give) != tt.wantSame {
			t.Errorf("X-Request-ID %q answered with %q", tt.give, got)
		}
	}
}
