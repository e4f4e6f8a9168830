package redistest

import (
	"strconv"
	"testing"
)

// Server is a standalone redis-server that a test can crash, freeze and
// start again, on the same port and with the same files, as an operator's
// restart would.
type Server struct {
	n *node
}

// Option adds to a server's configuration.
type Option func(args []string) []string

// AOF turns on the append-only file with the given appendfsync policy
// ("always", "everysec" or "no"), so that the data survives a restart.
func AOF(fsync string) Option {
	return func(args []string) []string {
		return append(args, "--appendonly", "yes", "--appendfsync", fsync)
	}
}

// StartServer starts a standalone server for this test, killed when the
// test ends.
func StartServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var extra []string
	for _, o := range opts {
		extra = o(extra)
	}
	n, err := start(t.TempDir(), false, extra...)
	if err != nil {
		unavailable(t, err)
	}
	s := &Server{n: n}
	t.Cleanup(func() { s.n.kill() })
	return s
}

// Addr is the server's address, the same across restarts.
func (s *Server) Addr() string { return s.n.addr }

// Kill kills the server with SIGKILL, as a crash would, and waits until it
// has exited.
func (s *Server) Kill() { s.n.kill() }

// Freeze stops the server with SIGSTOP: it keeps its connections but
// answers nothing, as a hung server would.
func (s *Server) Freeze() { s.n.freeze() }

// Thaw lets a frozen server go on, and returns once it answers again: by
// then it has run what each connection sent it while frozen, up to one
// read (16 KB) of each, as it reads a new connection's PING in a later
// turn of its event loop than the one that reads what was waiting. On a
// busy machine that is tens of milliseconds after the signal. A server
// that does not answer within do's deadline is left to the caller's next
// command to find.
func (s *Server) Thaw() {
	s.n.thaw()
	s.n.do("PING")
}

// StartReplica starts a replica of master for this test, killed when the
// test ends, and returns once it has the master's data and the master
// counts it.
func StartReplica(t testing.TB, master *Server) *Server {
	t.Helper()
	// The master waits 5s by default for more replicas to sync together.
	_, err := master.n.do("CONFIG", "SET", "repl-diskless-sync-delay", "0")
	var n *node
	if err == nil {
		n, err = start(t.TempDir(), false, "--replicaof", "127.0.0.1", strconv.Itoa(master.n.port))
	}
	if err == nil {
		err = poll([]*node{n, master.n}, acked(master.n, 1))
	}
	if n != nil {
		t.Cleanup(n.kill)
	}
	if err != nil {
		unavailable(t, err)
	}
	return &Server{n: n}
}

// Restart starts the killed server again on its port and directory, and
// returns once it has loaded its data and answers.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	n, err := launch(s.n.prog, s.n.dir, s.n.port, s.n.bus, s.n.args)
	if err != nil {
		t.Fatalf("restart redis-server: %v", err)
	}
	s.n = n
}
