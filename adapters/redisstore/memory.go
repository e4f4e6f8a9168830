package redisstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Memory reports, for each Redis server the client knows (the standalone
// server, or every node of a cluster), its used_memory and maxmemory in
// bytes, as INFO memory gives them; maxmemory 0 means no limit. A full
// server refuses every write (STORE_FULL), so this is what an operator
// watches before a sale fills it. The servers are asked at once, all
// within the store's timeout; one that does not answer is left out and its
// error returned, joined with the others'.
func (s *Store) Memory(ctx context.Context, report func(node string, used, max int64)) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	nodes := s.client.Nodes()
	addrs := slices.Sorted(maps.Keys(nodes))
	used, limit := make([]int64, len(addrs)), make([]int64, len(addrs))
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() {
			node := nodes[addr]
			info, err := node.Do(ctx, node.B().Info().Section("memory").Build()).ToString()
			if err == nil {
				used[i], err = infoInt(info, "used_memory")
			}
			if err == nil {
				limit[i], err = infoInt(info, "maxmemory")
			}
			if err != nil {
				errs[i] = fmt.Errorf("redisstore: INFO memory of %s: %w", addr, err)
			}
		})
	}
	wg.Wait()
	for i, addr := range addrs {
		if errs[i] == nil {
			report(addr, used[i], limit[i])
		}
	}
	return errors.Join(errs...)
}

// infoField returns the value of field in an INFO answer, "" when absent.
// Every field is on a line of its own, "name:value\r\n", after a section
// header: matching from the line's start keeps used_memory from matching
// inside another name.
func infoField(info, field string) string {
	_, v, found := strings.Cut(info, "\n"+field+":")
	if !found {
		return ""
	}
	v, _, _ = strings.Cut(v, "\r\n")
	return v
}

// infoInt is the integer value of field in an INFO answer.
func infoInt(info, field string) (int64, error) {
	n, err := strconv.ParseInt(infoField(info, field), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("field %s: %w", field, err)
	}
	return n, nil
}
