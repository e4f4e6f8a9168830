// Package servicetest builds the reservation command and runs it as a child
// process, as an operator would, for tests that need the real binary: its
// configuration, its signals, its exit code.
package servicetest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeout bounds how long the binary may take to build, start or stop.
const Timeout = 30 * time.Second

// Build compiles the command into a directory of the test and returns the
// binary's path. (The build cache makes every build after the first one
// mostly a link, about a second.)
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "reservation")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/seatres/reservation/cmd/reservation").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Service is the binary running in the background.
type Service struct {
	Addr   string // where it listens, from its log
	cmd    *exec.Cmd
	stderr *watcher
	exited chan struct{} // closed once cmd.Wait has returned
}

// Start runs bin with the environment env (and nothing else of the test's),
// listening on a free loopback port, in an empty directory so no stray .env
// is read. It returns once the service logs that it listens. The service is
// killed when the test ends, if it still runs.
func Start(t testing.TB, bin string, env ...string) *Service {
	t.Helper()
	w := &watcher{found: make(chan string, 1)}
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(env, "RESERVATION_HTTP_ADDR=127.0.0.1:0")
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Service{cmd: cmd, stderr: w, exited: make(chan struct{})}
	go func() {
		defer close(s.exited)
		cmd.Wait() // its outcome is read from cmd.ProcessState
	}()
	t.Cleanup(func() {
		s.Signal(syscall.SIGKILL)
		<-s.exited
	})
	select {
	case s.Addr = <-w.found:
	case <-s.exited:
		t.Fatalf("service exited before listening: %v\n%s", cmd.ProcessState, w.text())
	case <-time.After(Timeout):
		t.Fatalf("service not listening after %v\n%s", Timeout, w.text())
	}
	return s
}

// URL is the service's base URL.
func (s *Service) URL() string { return "http://" + s.Addr }

// Signal sends sig to the service; it does nothing once the service has
// exited.
func (s *Service) Signal(sig os.Signal) {
	select {
	case <-s.exited:
	default:
		s.cmd.Process.Signal(sig)
	}
}

// Wait returns the exit code once the service exits, or fails the test if
// it still runs after Timeout.
func (s *Service) Wait(t testing.TB) int {
	t.Helper()
	select {
	case <-s.exited:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(Timeout):
		t.Fatalf("service still running after %v\n%s", Timeout, s.Log())
		return -1
	}
}

// Log is what the service has written to stderr so far.
func (s *Service) Log() string { return s.stderr.text() }

// watcher keeps what the service logs and sends, once, the address from
// the HTTP server's "listening" line.
type watcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	seen  int // bytes of buf already scanned for whole lines
	found chan string
	sent  bool
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		rest := w.buf.Bytes()[w.seen:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.seen += i + 1
		var entry struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if !w.sent && json.Unmarshal(rest[:i], &entry) == nil && entry.Msg == "listening" && entry.Addr != "" {
			w.found <- entry.Addr
			w.sent = true
		}
	}
}

func (w *watcher) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
