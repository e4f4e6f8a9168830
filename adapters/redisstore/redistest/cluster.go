package redistest

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

const (
	clusterSize = 3
	slotCount   = 16384
)

// startCluster starts clusterSize masters in parent, gives each a range of
// slots and introduces them to each other. It returns the nodes it started,
// even on error, so the caller can kill them.
func startCluster(parent string) ([]*node, error) {
	return formCluster(parent, 0, nil)
}

// formCluster starts clusterSize masters and perMaster replicas of each,
// with extra arguments for every node. Replica j of master i is
// nodes[clusterSize*(j+1)+i].
func formCluster(parent string, perMaster int, extra []string) ([]*node, error) {
	size := clusterSize * (1 + perMaster)
	nodes := make([]*node, 0, size)
	for range size {
		n, err := start(parent, true, extra...)
		if err != nil {
			return nodes, err
		}
		nodes = append(nodes, n)
	}
	for i, n := range nodes[:clusterSize] {
		first, last := i*slotCount/clusterSize, (i+1)*slotCount/clusterSize-1
		if _, err := n.do("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(first), strconv.Itoa(last)); err != nil {
			return nodes, err
		}
		// Distinct epochs spare the nodes resolving a collision, which
		// takes rounds of gossip.
		if _, err := n.do("CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1)); err != nil {
			return nodes, err
		}
	}
	for _, n := range nodes[1:] {
		if _, err := nodes[0].do("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.port), strconv.Itoa(n.bus)); err != nil {
			return nodes, err
		}
	}
	if err := poll(nodes, func() error { return agreed(nodes) }); err != nil {
		return nodes, fmt.Errorf("form cluster: %w", err)
	}
	if perMaster == 0 {
		return nodes, nil
	}
	for i, r := range nodes[clusterSize:] {
		master, err := nodes[i%clusterSize].do("CLUSTER", "MYID")
		if err != nil {
			return nodes, err
		}
		// The replica must have heard of its master by gossip first.
		if err := poll(nodes, func() error { _, err := r.do("CLUSTER", "REPLICATE", master); return err }); err != nil {
			return nodes, fmt.Errorf("replicate: %w", err)
		}
	}
	if err := poll(nodes, func() error { return replicating(nodes) }); err != nil {
		return nodes, fmt.Errorf("form cluster: %w", err)
	}
	if err := poll(nodes, replicasAcked(nodes)); err != nil {
		return nodes, fmt.Errorf("form cluster: %w", err)
	}
	return nodes, nil
}

// replicating reports whether every replica of a replicated cluster has
// its master's data and every node sees every replica.
func replicating(nodes []*node) error {
	for _, r := range nodes[clusterSize:] {
		if err := linkUp(r); err != nil {
			return err
		}
	}
	return agreed(nodes)
}

// linkUp reports whether replica r has its master's data.
func linkUp(r *node) error {
	info, err := r.do("INFO", "replication")
	if err != nil {
		return err
	}
	if !strings.Contains(info, "master_link_status:up\r\n") {
		return fmt.Errorf("%s: replication link not up yet", r.addr)
	}
	return nil
}

// replicasAcked checks that every master's replicas acknowledge its
// writes (see acked).
func replicasAcked(nodes []*node) func() error {
	perMaster := len(nodes)/clusterSize - 1
	checks := make([]func() error, clusterSize)
	for i, m := range nodes[:clusterSize] {
		checks[i] = acked(m, perMaster)
	}
	return func() error {
		for _, check := range checks {
			if err := check(); err != nil {
				return err
			}
		}
		return nil
	}
}

// agreed reports whether every node sees the cluster ok and all see the
// same masters with the same slots, so a client gets no redirection
// whichever node it asks first.
func agreed(nodes []*node) error {
	var first string
	for i, n := range nodes {
		info, err := n.do("CLUSTER", "INFO")
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok\r\n") {
			return fmt.Errorf("%s: cluster state not ok yet", n.addr)
		}
		view, err := n.do("CLUSTER", "NODES")
		if err != nil {
			return err
		}
		sig := slotOwners(view)
		switch {
		case i == 0:
			first = sig
		case sig != first:
			return errors.New("nodes do not agree on slots yet")
		}
	}
	return nil
}

// slotOwners reduces a CLUSTER NODES reply to its node ids, the masters
// of replicas and the slots of masters, leaving out what differs between
// nodes' views (flags, ping times).
func slotOwners(view string) string {
	var lines []string
	for _, e := range clusterNodes(view) {
		lines = append(lines, e.id+" "+e.master+" "+strings.Join(e.slots, " "))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// acked returns a check that master has replicas replicas that have
// acknowledged all it wrote when acked was called. Only then does WAIT
// count them at once: a replica that has just synced may leave the first
// WAITs unanswered until its periodic acknowledgement, up to a second
// later. A SET of a key of its own gives the replicas something to
// acknowledge: on a cluster a PUBLISH, which writes no key, goes over the
// bus and not down the replication stream.
func acked(master *node, replicas int) func() error {
	var target int64
	return func() error {
		if target == 0 {
			key, err := ownKey(master)
			if err != nil {
				return err
			}
			if _, err := master.do("SET", key, "synced?", "PX", "10000"); err != nil {
				return err
			}
			offset, _, err := replicaOffsets(master)
			if err != nil {
				return err
			}
			target = offset
		}
		_, acks, err := replicaOffsets(master)
		if err != nil {
			return err
		}
		if len(acks) != replicas || slices.ContainsFunc(acks, func(a int64) bool { return a < target }) {
			return fmt.Errorf("%s: online replicas at offsets %v, want %d at %d", master.addr, acks, replicas, target)
		}
		return nil
	}
}

// ownKey returns a key of a slot that master serves: any key when it is
// not in a cluster.
func ownKey(master *node) (string, error) {
	id, err := master.do("CLUSTER", "MYID")
	if err != nil && strings.Contains(err.Error(), "cluster support disabled") {
		return "redistest:synced", nil
	}
	if err != nil {
		return "", err
	}
	view, err := master.do("CLUSTER", "NODES")
	if err != nil {
		return "", err
	}
	var own nodeEntry
	for _, e := range clusterNodes(view) {
		if e.id == id {
			own = e
		}
	}
	// A master of a third of the slots owns one of the first keys tried
	// with a chance of a third each.
	for i := range 1000 {
		key := "redistest:" + strconv.Itoa(i)
		v, err := master.do("CLUSTER", "KEYSLOT", key)
		if err != nil {
			return "", err
		}
		slot, err := strconv.Atoi(v)
		if err != nil {
			return "", err
		}
		if own.serves(slot) {
			return key, nil
		}
	}
	return "", fmt.Errorf("%s: no key of its slots %v found", master.addr, own.slots)
}

// replicaOffsets reads a master's replication offset and the offsets its
// online replicas acknowledged.
func replicaOffsets(master *node) (offset int64, acks []int64, err error) {
	info, err := master.do("INFO", "replication")
	if err != nil {
		return 0, nil, err
	}
	for line := range strings.Lines(info) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "master_repl_offset:"); ok {
			offset, err = strconv.ParseInt(v, 10, 64)
		}
		if strings.HasPrefix(line, "slave") && strings.Contains(line, ",state=online,") {
			_, v, _ := strings.Cut(line, ",offset=")
			v, _, _ = strings.Cut(v, ",")
			ack, perr := strconv.ParseInt(v, 10, 64)
			acks, err = append(acks, ack), errors.Join(err, perr)
		}
	}
	return offset, acks, err
}
