// Package redistest starts throwaway redis-server processes for tests: a
// standalone server or a three-master Redis Cluster on free loopback ports,
// and for benchmarks a server whose instructions callgrind counts.
//
// When redis-server is missing or cannot start, the calling test is skipped,
// except under CI=true where it fails, so CI never passes by skipping.
//
// Servers take from tens of milliseconds (standalone) to a few seconds
// (cluster) to start. Standalone and Cluster give a test its own servers;
// SharedStandalone and SharedCluster give every test of a binary the same
// ones, started on first use and stopped by Main.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/goleak"
)

// startTimeout bounds the start of a server or the forming of a cluster.
const startTimeout = 20 * time.Second

// Standalone starts a redis-server for this test and returns its address.
// The server is killed when the test ends.
func Standalone(t testing.TB) string {
	t.Helper()
	n, err := start(t.TempDir(), false)
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(n.kill)
	return n.addr
}

// Cluster starts a Redis Cluster of three masters, each with a third of the
// slots and no replica, for this test and returns the masters' addresses. It
// returns once every node reports the cluster ok and all agree on the slots.
// The nodes are killed when the test ends.
func Cluster(t testing.TB) []string {
	t.Helper()
	nodes, err := startCluster(t.TempDir())
	t.Cleanup(func() { killAll(nodes) })
	if err != nil {
		unavailable(t, err)
	}
	return addrs(nodes)
}

// shared is a set of servers started once per test binary.
type shared struct {
	once  sync.Once
	dir   string
	nodes []*node
	err   error
}

var (
	mainRunning bool
	standalone  shared
	cluster     shared
)

// Main runs the tests of a package, stops the shared servers and, if the
// tests passed, fails unless every goroutine they started has ended
// (goleak, ignoring IgnoreRueidis). Call it from TestMain in packages that
// use SharedStandalone or SharedCluster:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M) {
	mainRunning = true
	code := m.Run()
	for _, s := range []*shared{&standalone, &cluster} {
		killAll(s.nodes)
		if s.dir != "" {
			os.RemoveAll(s.dir)
		}
	}
	if code == 0 {
		if err := goleak.Find(IgnoreRueidis...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// IgnoreRueidis are the goleak options for the goroutines a Redis Cluster
// client leaves behind on purpose, whether or not it has been closed: after
// a topology refresh, one closes the connections it replaced five seconds
// later; after an error (a node a test killed), one waits up to a second
// before it refreshes the topology.
var IgnoreRueidis = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
	goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"),
}

// SharedStandalone returns the address of the test binary's standalone
// server, starting it on first use. Tests sharing it must use keys of their
// own.
func SharedStandalone(t testing.TB) string {
	t.Helper()
	return standalone.get(t, func(dir string) ([]*node, error) {
		n, err := start(dir, false)
		if err != nil {
			return nil, err
		}
		return []*node{n}, nil
	})[0]
}

// SharedCluster returns the addresses of the test binary's cluster, starting
// it on first use. Tests sharing it must use keys of their own.
func SharedCluster(t testing.TB) []string {
	t.Helper()
	return cluster.get(t, startCluster)
}

func (s *shared) get(t testing.TB, startIn func(dir string) ([]*node, error)) []string {
	t.Helper()
	if !mainRunning {
		t.Fatal("redistest: shared servers need TestMain to call redistest.Main, which stops them")
	}
	s.once.Do(func() {
		if s.dir, s.err = os.MkdirTemp("", "redistest-"); s.err == nil {
			s.nodes, s.err = startIn(s.dir)
		}
	})
	if s.err != nil {
		unavailable(t, s.err)
	}
	return addrs(s.nodes)
}

// unavailable skips the test, or fails it under CI where Redis must be there.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("redistest: Redis is required under CI=true: %v", err)
	}
	t.Skipf("redistest: no Redis for this test: %v", err)
}

// node is one running redis-server, and how it was started.
type node struct {
	addr   string
	port   int
	bus    int      // cluster bus port, 0 when not clustered
	prog   []string // the command line before the server's options
	dir    string
	args   []string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
}

// start starts a redis-server in a fresh directory under parent, with
// extra arguments after the defaults (later ones win). A port taken by
// someone else between picking and binding it makes the server exit, so it
// picks new ports and tries again a few times.
func start(parent string, clustered bool, extra ...string) (*node, error) {
	return startWrapped(nil, parent, clustered, extra)
}

// startWrapped is start with the server run by wrap, a tool and its
// arguments before the server's command line (none: the server itself).
func startWrapped(wrap []string, parent string, clustered bool, extra []string) (*node, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "node-")
	if err != nil {
		return nil, err
	}
	prog := append(slices.Clone(wrap), bin)
	for attempt := 1; ; attempt++ {
		n, err := try(prog, dir, clustered, extra)
		if err == nil || attempt == 5 {
			return n, err
		}
	}
}

func try(prog []string, dir string, clustered bool, extra []string) (*node, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"--save", "", "--appendonly", "no"}
	bus := 0
	if clustered {
		// The bus port defaults to port+10000, which may be taken: pick one.
		if bus, err = freePort(); err != nil {
			return nil, err
		}
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(bus))
	}
	return launch(prog, dir, port, bus, append(args, extra...))
}

// launch runs prog (redis-server, or a tool and its arguments before it) in
// dir, the server on port with args, and returns once it answers.
func launch(prog []string, dir string, port, bus int, args []string) (*node, error) {
	all := append(slices.Clone(prog[1:]), "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--logfile", "redis.log")
	cmd := exec.Command(prog[0], append(all, args...)...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &node{
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), port: port, bus: bus,
		prog: prog, dir: dir, args: args, cmd: cmd, exited: make(chan struct{}),
	}
	go func() { cmd.Wait(); close(n.exited) }()
	// Ask for the process id, not just PING: after a port race another
	// server may answer on this port. A server still loading its data
	// answers INFO but refuses commands: wait until it has loaded.
	want := fmt.Sprintf("process_id:%d\r\n", cmd.Process.Pid)
	err := poll([]*node{n}, func() error {
		info, err := n.do("INFO", "server")
		switch {
		case err != nil:
			return err
		case !strings.Contains(info, want):
			return errors.New("another server answers on this port")
		}
		_, err = n.do("PING")
		return err
	})
	if err != nil {
		n.kill()
		log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
		return nil, fmt.Errorf("start redis-server on port %d: %w\n%s", port, err, log)
	}
	return n, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// poll calls check every few milliseconds until it succeeds, one of the
// nodes exits or startTimeout passes.
func poll(nodes []*node, check func() error) error {
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		for _, n := range nodes {
			select {
			case <-n.exited:
				return fmt.Errorf("redis-server on %s exited: %s", n.addr, n.cmd.ProcessState)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %v: %w", startTimeout, err)
		}
		<-tick.C
	}
}

func (n *node) kill() {
	n.cmd.Process.Kill() // fails only if it has exited already
	<-n.exited
}

func (n *node) freeze() { n.cmd.Process.Signal(syscall.SIGSTOP) }

func (n *node) thaw() { n.cmd.Process.Signal(syscall.SIGCONT) }

func killAll(nodes []*node) {
	for _, n := range nodes {
		n.kill()
	}
}

func addrs(nodes []*node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.addr
	}
	return out
}

// do sends one command on a fresh connection and returns its reply, which
// must be a status, an integer or a bulk string: all that setting up needs.
// A client library would be heavier and would guess at the server's mode.
func (n *node) do(args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", n.addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	var req strings.Builder
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(req.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case line == "":
		return "", errors.New("empty reply")
	case line[0] == '+' || line[0] == ':':
		return line[1:], nil
	case line[0] == '-':
		return "", fmt.Errorf("%s: %s", args[0], line[1:])
	case line[0] == '$':
		size, err := strconv.Atoi(line[1:])
		if err != nil || size < 0 {
			return "", fmt.Errorf("%s: unexpected reply %q", args[0], line)
		}
		buf := make([]byte, size+2)
		_, err = io.ReadFull(r, buf)
		return string(buf[:size]), err
	}
	return "", fmt.Errorf("%s: unexpected reply %q", args[0], line)
}

// Client connects a plain client to the Redis at addrs, for tests that look
// at keys behind the store's back; it closes when the test ends.
func Client(t testing.TB, addrs ...string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: addrs, DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}
