package redisstore_test

import (
	"context"
	"slices"
	"testing"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
)

// nodeMemory is one report of Store.Memory.
type nodeMemory struct {
	used, max int64
}

// memory returns what s.Memory reports, by node.
func memory(t *testing.T, s *redisstore.Store) map[string]nodeMemory {
	t.Helper()
	got := map[string]nodeMemory{}
	err := s.Memory(context.Background(), func(node string, used, max int64) {
		if _, dup := got[node]; dup {
			t.Errorf("node %s reported twice", node)
		}
		got[node] = nodeMemory{used, max}
	})
	if err != nil {
		t.Fatalf("Memory: %v", err)
	}
	return got
}

func TestMemoryStandalone(t *testing.T) {
	t.Parallel()
	addr := redistest.Standalone(t)
	s := newStore(t, addr)
	if got := memory(t, s)[addr]; got.used <= 0 || got.max != 0 {
		t.Errorf("a fresh server: used %d, maxmemory %d; want some used, and 0 (no limit)", got.used, got.max)
	}
	setMemory(t, redistest.Client(t, addr), "64mb")
	got := memory(t, s)
	if len(got) != 1 || got[addr].used <= 0 || got[addr].max != 64<<20 {
		t.Errorf("Memory = %v, want %s alone, some used and maxmemory %d", got, addr, 64<<20)
	}
}

// On a cluster every master is reported, by its address.
func TestMemoryCluster(t *testing.T) {
	t.Parallel()
	addrs := redistest.SharedCluster(t)
	got := memory(t, newStore(t, addrs[0]))
	for _, addr := range addrs {
		if got[addr].used <= 0 {
			t.Errorf("node %s: %+v, want some memory used", addr, got[addr])
		}
	}
	for node := range got {
		if !slices.Contains(addrs, node) {
			t.Errorf("node %s reported, not one of the cluster's %v", node, addrs)
		}
	}
}

// A server that does not answer is an error, and reports nothing.
func TestMemoryRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	s := newStore(t, srv.Addr())
	srv.Kill()
	err := s.Memory(context.Background(), func(node string, _, _ int64) {
		t.Errorf("node %s reported while down", node)
	})
	if err == nil {
		t.Error("Memory of a dead server: no error")
	}
}
