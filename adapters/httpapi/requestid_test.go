package httpapi

import (
	"testing"

	"github.com/google/uuid"
)

// New request ids are version 4 UUIDs, as the contract says, and distinct.
func TestNewRequestID(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 1000 {
		id := newRequestID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("request id %q is not a canonical version 4 UUID: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("request id %q given twice", id)
		}
		seen[id] = true
	}
}
