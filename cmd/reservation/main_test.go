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
		want     string // in stdout when the code is 0, else in stderr
	}{
		{"help lists the settings", []string{"-h"}, nil, 0, "RESERVATION_HOLD_TTL"},
		{"help by its long name", []string{"--help"}, nil, 0, "Usage: reservation"},
		{"unknown flag", []string{"--port=1"}, nil, exitUsage, "flag provided but not defined"},
		{"usage after an unknown flag", []string{"--port=1"}, nil, exitUsage, "RESERVATION_HOLD_TTL"},
		{"invalid setting", nil, []string{"RESERVATION_HOLD_TTL=abc"}, exitUsage, `RESERVATION_HOLD_TTL: invalid duration "abc"`},
		{"unknown setting", nil, []string{"RESERVATION_HOLD_TTLL=5s"}, exitUsage, "RESERVATION_HOLD_TTLL: unknown setting"},
		{"missing config file", []string{"--config", "/nonexistent/reservation.yaml"}, nil, exitUsage, "/nonexistent/reservation.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, tt.environ, &stdout, &stderr); code != tt.wantCode {
				t.Errorf("run() = %d, want %d\n%s", code, tt.wantCode, &stderr)
			}
			// What was asked for goes to stdout, errors to stderr, never both.
			got, other := &stderr, &stdout
			if tt.wantCode == 0 {
				got, other = other, got
			}
			if !strings.Contains(got.String(), tt.want) {
				t.Errorf("output %q does not contain %q", got, tt.want)
			}
			if other.Len() != 0 {
				t.Errorf("the other stream got %q", other)
			}
		})
	}
}
