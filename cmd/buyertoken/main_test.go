package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/identity"
)

// TestMintedTokenIsAccepted: the token the command prints is one the
// service's verifier accepts, for the buyer asked and for its TTL only.
func TestMintedTokenIsAccepted(t *testing.T) {
	t.Parallel()
	secret := filepath.Join(t.TempDir(), "secret")
	// As an editor on Windows writes it: the trailing CRLF is no part of
	// the secret, for the command as for the service.
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var out bytes.Buffer
	if err := run([]string{"-secret-file", secret, "-sub", "alice", "-ttl", "1m", "-aud", "tickets"}, &out, now); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out.String())
	for _, tt := range []struct {
		name    string
		at      time.Time
		aud     string
		wantErr bool
	}{
		{"now", now, "tickets", false},
		{"another audience", now, "concerts", true},
		{"after its TTL and the leeway", now.Add(time.Minute + identity.Leeway + time.Second), "tickets", true},
	} {
		v, err := identity.NewTokens(identity.TokenConfig{SecretFile: secret, Audience: tt.aud, Now: func() time.Time { return tt.at }})
		if err != nil {
			t.Fatal(err)
		}
		buyer, err := v.Verify(token)
		if (err != nil) != tt.wantErr || !tt.wantErr && buyer != "alice" {
			t.Errorf("%s: Verify = %q, %v; want alice: %v", tt.name, buyer, err, !tt.wantErr)
		}
	}
}

func TestMissingFlags(t *testing.T) {
	t.Parallel()
	if err := run([]string{"-sub", "alice"}, &bytes.Buffer{}, time.Now()); err == nil {
		t.Error("no -secret-file: no error")
	}
}
