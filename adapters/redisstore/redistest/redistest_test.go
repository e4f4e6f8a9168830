package redistest

import (
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

func TestStandalone(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{Standalone(t), SharedStandalone(t), SharedStandalone(t)} {
		got, err := (&node{addr: addr}).do("PING")
		if err != nil || got != "PONG" {
			t.Fatalf("PING %s = %q, %v", addr, got, err)
		}
	}
	if a, b := Standalone(t), SharedStandalone(t); a == b {
		t.Fatalf("a test's own server and the shared one have one address %s", a)
	}
}

func TestCluster(t *testing.T) {
	t.Parallel()
	addrs := Cluster(t)
	if len(addrs) != clusterSize {
		t.Fatalf("Cluster returned %d addresses, want %d", len(addrs), clusterSize)
	}
	for _, addr := range addrs {
		info, err := (&node{addr: addr}).do("CLUSTER", "INFO")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:3", "cluster_size:3"} {
			if !strings.Contains(info, want+"\r\n") {
				t.Errorf("%s: CLUSTER INFO lacks %s:\n%s", addr, want, info)
			}
		}
	}
}

func TestServerRestartKeepsAOF(t *testing.T) {
	t.Parallel()
	s := StartServer(t, AOF("always"))
	n := &node{addr: s.Addr()}
	if _, err := n.do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if _, err := n.do("PING"); err == nil {
		t.Fatal("a killed server answers")
	}
	s.Restart(t)
	if got, err := n.do("GET", "k"); err != nil || got != "v" {
		t.Fatalf("GET k after a restart = %q, %v; want v", got, err)
	}
}

func TestServerFreeze(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	n := &node{addr: s.Addr()}
	s.Freeze()
	// The kernel still accepts the connection; the reply never comes
	// within do's deadline.
	if _, err := n.do("PING"); err == nil {
		t.Error("a frozen server answers")
	}
	s.Thaw()
	if got, err := n.do("PING"); err != nil || got != "PONG" {
		t.Fatalf("PING after thaw = %q, %v", got, err)
	}
}

func TestClusterWithReplicasFailsOver(t *testing.T) {
	t.Parallel()
	c := ClusterWithReplicas(t)
	if len(c.Addrs()) != 2*clusterSize {
		t.Fatalf("%d addresses, want %d", len(c.Addrs()), 2*clusterSize)
	}
	const key = "k" // slot 7629, the second master's
	master := &node{addr: c.Addrs()[1]}
	if _, err := master.do("SET", key, "v"); err != nil {
		t.Fatal(err)
	}
	if got, err := master.do("WAIT", "1", "5000"); err != nil || got != "1" {
		t.Fatalf("WAIT for the replica = %q, %v", got, err)
	}
	if dead := c.KillMaster(t, key); dead != master.addr {
		t.Fatalf("killed %s, want the master of %q, %s", dead, key, master.addr)
	}
	replica := &node{addr: c.Addrs()[clusterSize+1]}
	if got, err := replica.do("GET", key); err != nil || got != "v" {
		t.Fatalf("GET %s on the promoted replica = %q, %v; want v", key, got, err)
	}
}
