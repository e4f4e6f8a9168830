package tracing_test

import (
	"context"
	"strings"
	"testing"

	"github.com/seatres/reservation/adapters/tracing"
)

// TestNewProviderProtocols: the exporter speaks the OTLP protocols that Go
// has exporters for, and refuses the others by name. Building one connects
// to nothing.
func TestNewProviderProtocols(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", tracing.ProtocolHTTP, tracing.ProtocolGRPC} {
		tp, err := tracing.NewProvider(context.Background(), tracing.Config{On: true, Protocol: p})
		if err != nil {
			t.Errorf("protocol %q: %v", p, err)
			continue
		}
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Errorf("protocol %q: shut down: %v", p, err)
		}
	}
	_, err := tracing.NewProvider(context.Background(), tracing.Config{On: true, Protocol: "http/json"})
	if err == nil || !strings.Contains(err.Error(), `"http/json"`) {
		t.Errorf("protocol http/json: error %v, want one naming it", err)
	}
}
