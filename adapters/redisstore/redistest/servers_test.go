package redistest

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

func TestServersStop(t *testing.T) {
	t.Parallel()
	s, err := StartStandalone()
	if err != nil {
		unavailable(t, err)
	}
	addr := s.Addrs()[0]
	if got, err := (&node{addr: addr}).do("PING"); err != nil || got != "PONG" {
		s.Stop()
		t.Fatalf("PING %s = %q, %v", addr, got, err)
	}
	s.Stop()
	if _, err := (&node{addr: addr}).do("PING"); err == nil {
		t.Errorf("%s still answers after Stop", addr)
	}
	if _, err := os.Stat(s.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stop left %s: %v", s.dir, err)
	}
}
