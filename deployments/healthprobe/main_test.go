package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestProbeURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give    string
		want    string
		wantErr bool
	}{
		{give: ":8080", want: "http://127.0.0.1:8080/readyz"},
		{give: "0.0.0.0:9000", want: "http://127.0.0.1:9000/readyz"},
		{give: "[::]:9000", want: "http://127.0.0.1:9000/readyz"},
		{give: "127.0.0.2:80", want: "http://127.0.0.2:80/readyz"},
		{give: "[::1]:8080", want: "http://[::1]:8080/readyz"},
		{give: "8080", wantErr: true},
	}
	for _, tt := range tests {
		got, err := probeURL(tt.give, "/readyz")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("probeURL(%q) = %q, %v; want %q, error %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	notHTTP := answerOnce(t, "SSH-2.0-OpenSSH_9.6\r\n")
	silent := answerOnce(t, "")

	tests := []struct {
		give   string
		wantOK bool
	}{
		{srv.URL + "/readyz", true},
		{srv.URL + "/other", false}, // 503
		{closed.URL + "/readyz", false},
		{"http://" + notHTTP + "/readyz", false},
		{"http://" + silent + "/readyz", false}, // closes without a word
	}
	for _, tt := range tests {
		if err := probe(context.Background(), tt.give); (err == nil) != tt.wantOK {
			t.Errorf("probe(%s) = %v, want success %v", tt.give, err, tt.wantOK)
		}
	}
}

// answerOnce listens on a free loopback port, answers its first connection
// with reply whatever it was sent, closes it, and returns the address.
func answerOnce(t *testing.T, reply string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = conn.Write([]byte(reply))
		conn.Close()
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}
