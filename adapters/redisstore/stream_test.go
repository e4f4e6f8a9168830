package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// TestChangesAfterLostRecords: a Redis that lost its last records (here
// the stream put back as it was two records before, as a restart from an
// AOF behind them or a replica promoted before it had them leaves it)
// numbers the next records after the lost ones' positions. A reader at a
// lost position is answered trimmed, to start again from a snapshot; read
// on from there, it would have kept the lost holds as made. (A record of a
// lost one's millisecond can take its very position: see Store.Changes.)
func TestChangesAfterLostRecords(t *testing.T) {
	t.Parallel()
	for name, addrs := range map[string][]string{"standalone": {redistest.SharedStandalone(t)}, "cluster": redistest.SharedCluster(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, c := newStore(t, addrs...), redistest.Client(t, addrs...)
			ctx := context.Background()
			e := eventOf(t, 10)
			if err := s.CreateEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
			hold := func(n int) domain.Position {
				t.Helper()
				if _, err := s.Hold(ctx, e.ID, ids(e, n), "alice", longHold, noIdem); err != nil {
					t.Fatal(err)
				}
				records, err := s.Changes(ctx, e.ID, domain.Position{}, 100)
				if err != nil || len(records) == 0 {
					t.Fatalf("Changes: %+v, %v", records, err)
				}
				return records[len(records)-1].Position
			}
			kept := hold(1)
			stream := layoutKey(e.ID, "changes")
			dump, err := c.Do(ctx, c.B().Dump().Key(stream).Build()).ToString()
			if err != nil {
				t.Fatal(err)
			}
			hold(2)
			lost := hold(3)
			if err := c.Do(ctx, c.B().Restore().Key(stream).Ttl(0).SerializedValue(dump).Replace().Build()).Error(); err != nil {
				t.Fatal(err)
			}
			// A record of the lost one's millisecond could take its very
			// position, which no reader can tell from the lost one.
			waitRedisPast(t, c, e, time.UnixMilli(int64(lost.Ms)))
			later := hold(4)
			var trimmed *application.TrimmedError
			if records, err := s.Changes(ctx, e.ID, lost, 100); !errors.As(err, &trimmed) || trimmed.Last != later {
				t.Errorf("Changes after the lost record %v: %+v, %v; want trimmed at %v", lost, records, err, later)
			}
			if records, err := s.Changes(ctx, e.ID, kept, 100); err != nil || len(records) != 1 || records[0].Position != later {
				t.Errorf("Changes after the record kept %v: %+v, %v; want the one at %v", kept, records, err, later)
			}
		})
	}
}
