package redisstore

import "testing"

// TestHashSlot: the slots Redis Cluster gives keys (CLUSTER KEYSLOT), from
// its specification's examples, so that Wait groups events as the cluster
// does.
func TestHashSlot(t *testing.T) {
	for key, want := range map[string]uint16{"123456789": 0x31C3, "foo": 12182, "somekey": 11058, "": 0} {
		if got := hashSlot(key); got != want {
			t.Errorf("hashSlot(%q) = %d, want %d", key, got, want)
		}
	}
}
