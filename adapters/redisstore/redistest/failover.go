package redistest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// failoverArgs make a replica take over from a dead master within about
// two seconds: it is declared failed after a second of silence (Redis's
// default is 15), and the election takes up to another. And a master
// syncs a new replica at once, where it would wait 5s for more.
var failoverArgs = []string{"--cluster-node-timeout", "1000", "--repl-diskless-sync-delay", "0"}

// ReplicatedCluster is a Redis Cluster of three masters with replicas,
// which a test can make fail over.
type ReplicatedCluster struct {
	nodes     []*node // masters, then their replicas in the same order, then those added
	dead      []*node
	dir       string // where the nodes keep their files
	perMaster int
}

// ClusterWithReplicas starts a cluster of three masters, each with a third
// of the slots and perMaster replicas, for this test. It returns once every
// replica has its master's data and all nodes agree on the topology. The
// nodes are killed when the test ends.
func ClusterWithReplicas(t testing.TB, perMaster int) *ReplicatedCluster {
	t.Helper()
	dir := t.TempDir()
	nodes, err := formCluster(dir, perMaster, failoverArgs)
	t.Cleanup(func() { killAll(nodes) })
	if err != nil {
		unavailable(t, err)
	}
	return &ReplicatedCluster{nodes: nodes, dir: dir, perMaster: perMaster}
}

// Addrs are the addresses of every node, masters first: a client may take
// any as seeds.
func (c *ReplicatedCluster) Addrs() []string { return addrs(c.nodes) }

// LiveAddrs are the addresses of the nodes not killed: seeds for a client
// started after a fail-over.
func (c *ReplicatedCluster) LiveAddrs() []string { return addrs(c.live()) }

// MasterOf returns the address of the master that serves key.
func (c *ReplicatedCluster) MasterOf(t testing.TB, key string) string {
	t.Helper()
	_, _, _, addr := c.masterOf(t, key)
	return addr
}

// KillMaster kills, with SIGKILL, the master that serves key, calls each
// of meanwhile once it is dead (a frozen replica must be thawed to take
// over: thawed before, it would connect to the master again and get what
// it missed), and returns its address once its replica has taken over the
// slots and the remaining nodes agree on it.
func (c *ReplicatedCluster) KillMaster(t testing.TB, key string, meanwhile ...func()) string {
	t.Helper()
	live, _, slot, addr := c.masterOf(t, key)
	i := indexOf(t, live, addr)
	master := live[i]
	master.kill()
	c.dead = append(c.dead, master)
	for _, f := range meanwhile {
		f()
	}
	live = slices.Delete(live, i, i+1)
	err := poll(live, func() error {
		for _, n := range live {
			view, err := n.do("CLUSTER", "NODES")
			if err != nil {
				return err
			}
			if now, err := owner(view, slot); err != nil || now == addr {
				return fmt.Errorf("%s: slot %s not taken over yet", n.addr, slot)
			}
		}
		return agreed(live)
	})
	if err != nil {
		t.Fatalf("fail over from %s: %v", addr, err)
	}
	return addr
}

// FreezeReplicas stops, with SIGSTOP, the replicas of the master that
// serves key, as hung replicas would be, until the returned thaw is called
// (or the test ends).
func (c *ReplicatedCluster) FreezeReplicas(t testing.TB, key string) (thaw func()) {
	t.Helper()
	live, view, _, master := c.masterOf(t, key)
	entries := clusterNodes(view)
	var frozen []*node
	for _, e := range entries {
		if !strings.Contains(e.flags, "slave") {
			continue
		}
		if i := slices.IndexFunc(entries, func(m nodeEntry) bool { return m.id == e.master }); i < 0 || entries[i].addr != master {
			continue
		}
		replica := live[indexOf(t, live, e.addr)]
		replica.freeze()
		frozen = append(frozen, replica)
	}
	if len(frozen) == 0 {
		t.Fatalf("master %s has no replica", master)
	}
	thaw = func() {
		for _, n := range frozen {
			n.thaw()
		}
	}
	t.Cleanup(thaw)
	return thaw
}

// CutOffReplicas freezes the replicas of the master that serves key, as
// FreezeReplicas does, and has the master drop its links to them, until the
// returned thaw is called (or the test ends): from then on nothing the
// master writes reaches them, as when a partition cuts them off. Frozen
// alone, a replica misses nothing: its kernel takes in what the master
// sends, and it applies that once thawed. Thawed while the master lives,
// it connects again and gets what it missed.
func (c *ReplicatedCluster) CutOffReplicas(t testing.TB, key string) (thaw func()) {
	t.Helper()
	live, _, _, addr := c.masterOf(t, key)
	master := live[indexOf(t, live, addr)]
	// First the replicas acknowledge all the master wrote so far, so that
	// they miss what it writes after the cut, and only that: a replica
	// just synced may get nothing until its next acknowledgement, up to a
	// second later.
	if err := poll(live, acked(master, c.perMaster)); err != nil {
		t.Fatalf("replicas of %s before the cut: %v", addr, err)
	}
	thaw = c.FreezeReplicas(t, key)
	// A stopped replica cannot connect again: the links stay cut.
	if _, err := master.do("CLIENT", "KILL", "TYPE", "replica"); err != nil {
		t.Fatalf("cut off the replicas of %s: %v", addr, err)
	}
	if info, err := master.do("INFO", "replication"); err != nil || !strings.Contains(info, "connected_slaves:0\r\n") {
		t.Fatalf("replicas of %s still connected after CLIENT KILL: %v\n%s", addr, err, info)
	}
	return thaw
}

// AddReplica starts a node for this test and makes it a replica of the
// master that serves key, as an operator replaces a dead node, so that
// the master has as many replicas as the cluster started with (the
// replicas of a master that failed follow the one promoted by themselves).
// It returns once every node agrees on the replica and the master's
// replicas have acknowledged all it wrote (see acked).
func (c *ReplicatedCluster) AddReplica(t testing.TB, key string) {
	t.Helper()
	live, _, _, addr := c.masterOf(t, key)
	master := live[indexOf(t, live, addr)]
	n, err := start(c.dir, true, failoverArgs...)
	if err != nil {
		t.Fatalf("start a replica of %s: %v", addr, err)
	}
	t.Cleanup(n.kill)
	c.nodes = append(c.nodes, n)
	all := append(live, n)
	err = func() error {
		id, err := master.do("CLUSTER", "MYID")
		if err != nil {
			return err
		}
		if _, err := master.do("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.port), strconv.Itoa(n.bus)); err != nil {
			return err
		}
		// The replica must have heard of its master by gossip first.
		if err := poll(all, func() error { _, err := n.do("CLUSTER", "REPLICATE", id); return err }); err != nil {
			return err
		}
		if err := poll(all, func() error {
			if err := linkUp(n); err != nil {
				return err
			}
			return agreed(all)
		}); err != nil {
			return err
		}
		return poll(all, acked(master, c.perMaster))
	}()
	if err != nil {
		t.Fatalf("add a replica of %s: %v", addr, err)
	}
}

// masterOf returns the live nodes, the cluster's view (CLUSTER NODES), and
// the slot of key and the address of the master that serves it.
func (c *ReplicatedCluster) masterOf(t testing.TB, key string) (live []*node, view, slot, addr string) {
	t.Helper()
	live = c.live()
	slot, err := live[0].do("CLUSTER", "KEYSLOT", key)
	if err != nil {
		t.Fatal(err)
	}
	if view, err = live[0].do("CLUSTER", "NODES"); err != nil {
		t.Fatal(err)
	}
	if addr, err = owner(view, slot); err != nil {
		t.Fatal(err)
	}
	return live, view, slot, addr
}

// indexOf finds the node at addr among live ones.
func indexOf(t testing.TB, live []*node, addr string) int {
	t.Helper()
	i := slices.IndexFunc(live, func(n *node) bool { return n.addr == addr })
	if i < 0 {
		t.Fatalf("%s is no live node of this cluster", addr)
	}
	return i
}

func (c *ReplicatedCluster) live() []*node {
	return slices.DeleteFunc(slices.Clone(c.nodes), func(n *node) bool { return slices.Contains(c.dead, n) })
}

// owner finds in a CLUSTER NODES reply the address of the healthy master
// that serves slot.
func owner(view, slot string) (string, error) {
	s, err := strconv.Atoi(slot)
	if err != nil {
		return "", err
	}
	for _, e := range clusterNodes(view) {
		if !strings.Contains(e.flags, "master") || strings.Contains(e.flags, "fail") {
			continue
		}
		if e.serves(s) {
			return e.addr, nil
		}
	}
	return "", errors.New("no healthy master serves slot " + slot)
}

// serves reports whether slot is in e's slots.
func (e nodeEntry) serves(slot int) bool {
	for _, r := range e.slots {
		first, last, found := strings.Cut(r, "-")
		if !found {
			last = first
		}
		lo, err1 := strconv.Atoi(first)
		hi, err2 := strconv.Atoi(last)
		if err1 == nil && err2 == nil && lo <= slot && slot <= hi {
			return true
		}
	}
	return false
}

// nodeEntry is one line of a CLUSTER NODES reply.
type nodeEntry struct {
	id, addr, flags string
	master          string   // the id of its master, "-" for a master
	slots           []string // "n" or "first-last", for a master
}

// clusterNodes parses a CLUSTER NODES reply; addresses lose their bus port.
func clusterNodes(view string) []nodeEntry {
	var entries []nodeEntry
	for line := range strings.Lines(view) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		entries = append(entries, nodeEntry{id: f[0], addr: addr, flags: f[2], master: f[3], slots: f[8:]})
	}
	return entries
}
