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

// startCluster starts clusterSize nodes in parent, gives each a range of
// slots and introduces them to each other. It returns the nodes it started,
// even on error, so the caller can kill them.
func startCluster(parent string) ([]*node, error) {
	nodes := make([]*node, 0, clusterSize)
	for range clusterSize {
		n, err := start(parent, true)
		if err != nil {
			return nodes, err
		}
		nodes = append(nodes, n)
	}
	for i, n := range nodes {
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
	err := poll(nodes, func() error { return agreed(nodes) })
	if err != nil {
		return nodes, fmt.Errorf("form cluster: %w", err)
	}
	return nodes, nil
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

// slotOwners reduces a CLUSTER NODES reply to its node ids and their slots,
// leaving out what differs between nodes' views (flags, ping times).
func slotOwners(view string) string {
	var lines []string
	for line := range strings.Lines(view) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		lines = append(lines, f[0]+" "+strings.Join(f[8:], " "))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
