// Command healthprobe is the container's health check. The final image is
// distroless, with no shell or curl, so the image ships this small static
// binary next to the service: it GETs a path of the service on the loopback
// interface and exits 0 on a 2xx answer, 1 otherwise.
//
// It finds the port in RESERVATION_HTTP_ADDR, the variable the service
// listens on; the image sets it, so both always agree.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	path := flag.String("path", "/readyz", "path to GET")
	timeout := flag.Duration("timeout", 2*time.Second, "deadline of the whole check")
	flag.Parse()
	if err := run(*path, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "healthprobe:", err)
		os.Exit(1)
	}
}

func run(path string, timeout time.Duration) error {
	addr, ok := os.LookupEnv("RESERVATION_HTTP_ADDR")
	if !ok {
		return errors.New("RESERVATION_HTTP_ADDR is not set")
	}
	target, err := probeURL(addr, path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return probe(ctx, target)
}

// probeURL is the URL of path on the service that listens on addr, reached
// through the loopback interface when addr listens on every interface.
func probeURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("RESERVATION_HTTP_ADDR %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: path}).String(), nil
}

// probe succeeds when GET target answers 2xx.
func probe(ctx context.Context, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", target, resp.Status)
	}
	return nil
}
