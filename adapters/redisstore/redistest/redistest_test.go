package redistest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
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
	c := ClusterWithReplicas(t, 1)
	if len(c.Addrs()) != 2*clusterSize {
		t.Fatalf("%d addresses, want %d", len(c.Addrs()), 2*clusterSize)
	}
	const key = "k" // slot 7629, the second master's
	master := &node{addr: c.Addrs()[1]}
	client := Client(t, c.Addrs()...)
	thaw := c.FreezeReplicas(t, key)
	if got := setAndWait(t, client, key, 100*time.Millisecond); got != 0 {
		t.Fatalf("WAIT for the frozen replica = %d, want 0", got)
	}
	thaw()
	if got := setAndWait(t, client, key, 5*time.Second); got != 1 {
		t.Fatalf("WAIT for the replica = %d, want 1", got)
	}
	if dead := c.KillMaster(t, key); dead != master.addr {
		t.Fatalf("killed %s, want the master of %q, %s", dead, key, master.addr)
	}
	replica := &node{addr: c.Addrs()[clusterSize+1]}
	if got, err := replica.do("GET", key); err != nil || got != "v" {
		t.Fatalf("GET %s on the promoted replica = %q, %v; want v", key, got, err)
	}
}

func TestStartReplica(t *testing.T) {
	t.Parallel()
	master := StartServer(t)
	replica := StartReplica(t, master)
	client := Client(t, master.Addr())
	replica.Freeze()
	if got := setAndWait(t, client, "k", 100*time.Millisecond); got != 0 {
		t.Fatalf("WAIT for the frozen replica = %d, want 0", got)
	}
	replica.Thaw()
	if got := setAndWait(t, client, "k", 5*time.Second); got != 1 {
		t.Fatalf("WAIT for the replica = %d, want 1", got)
	}
	if got, err := replica.n.do("GET", "k"); err != nil || got != "v" {
		t.Fatalf("GET k on the replica = %q, %v; want v", got, err)
	}
}

// setAndWait sets key to "v" and returns how many replicas WAIT counts,
// on the one connection WAIT needs.
func setAndWait(t *testing.T, c rueidis.Client, key string, timeout time.Duration) int64 {
	t.Helper()
	var n int64
	err := c.Dedicated(func(d rueidis.DedicatedClient) error {
		res := d.DoMulti(context.Background(),
			d.B().Set().Key(key).Value("v").Build(),
			d.B().Wait().Numreplicas(1).Timeout(timeout.Milliseconds()).Build().SetSlot(key))
		var err error
		if err = res[0].Error(); err == nil {
			n, err = res[1].AsInt64()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
