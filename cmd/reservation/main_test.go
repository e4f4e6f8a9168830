package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunBeforeStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		environ  []string
		wantCode int
		want     string // in stderr
	}{
		{"help lists the settings", []string{"-h"}, nil, 0, "RESERVATION_HOLD_TTL"},
		{"unknown flag", []string{"--port=1"}, nil, exitUsage, "flag provided but not defined"},
		{"invalid setting", nil, []string{"RESERVATION_HOLD_TTL=abc"}, exitUsage, `RESERVATION_HOLD_TTL: invalid duration "abc"`},
		{"unknown setting", nil, []string{"RESERVATION_HOLD_TTLL=5s"}, exitUsage, "RESERVATION_HOLD_TTLL: unknown setting"},
		{"missing config file", []string{"--config", "/nonexistent/reservation.yaml"}, nil, exitUsage, "/nonexistent/reservation.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			if code := run(tt.args, tt.environ, &stderr); code != tt.wantCode {
				t.Errorf("run() = %d, want %d\n%s", code, tt.wantCode, &stderr)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not contain %q", &stderr, tt.want)
			}
		})
	}
}
