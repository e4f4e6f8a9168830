package redistest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Callgrind is a standalone server run by valgrind's callgrind, counting
// the instructions Redis executes inside EVALSHA: what the store's scripts
// cost Redis, as a count that, unlike a time, does not depend on what else
// the machine runs. Redis runs about 50 times slower under it.
type Callgrind struct {
	n   *node
	out string // callgrind's counts, written when the server exits
}

// StartCallgrind starts a Callgrind server for this test (or benchmark),
// killed when it ends. It fails, under CI or not, when valgrind is missing
// (`make ensure-valgrind`): a count is asked for on purpose.
func StartCallgrind(t testing.TB) *Callgrind {
	t.Helper()
	valgrind, err := exec.LookPath("valgrind")
	if err != nil {
		t.Fatalf("redistest: callgrind needs valgrind (make ensure-valgrind): %v", err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "callgrind.out")
	n, err := startWrapped([]string{valgrind, "--tool=callgrind", "--toggle-collect=evalShaCommand", "--callgrind-out-file=" + out}, dir, false, nil)
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(n.kill)
	return &Callgrind{n: n, out: out}
}

// Addr is the server's address.
func (c *Callgrind) Addr() string { return c.n.addr }

// Instructions shuts the server down, which has callgrind write its counts,
// and returns the instructions it counted inside EVALSHA since the start.
func (c *Callgrind) Instructions(t testing.TB) int64 {
	t.Helper()
	c.n.do("SHUTDOWN", "NOSAVE") // its connection closes unanswered
	select {
	case <-c.n.exited:
	case <-time.After(startTimeout):
		t.Fatalf("redistest: redis-server under callgrind did not exit on SHUTDOWN")
	}
	f, err := os.Open(c.out)
	if err != nil {
		t.Fatalf("redistest: callgrind's counts: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "summary: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("redistest: callgrind's summary %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("redistest: no summary in callgrind's counts %s: %v", c.out, sc.Err())
	return 0
}
