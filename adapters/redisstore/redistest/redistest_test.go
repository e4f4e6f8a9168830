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
