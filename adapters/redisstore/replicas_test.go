package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/seatres/reservation/adapters/redisstore"
	"github.com/seatres/reservation/adapters/redisstore/redistest"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

const ackTimeout = 200 * time.Millisecond

func ackingStore(t *testing.T, addrs ...string) *redisstore.Store {
	t.Helper()
	return newStoreWith(t, redisstore.Config{Addrs: addrs, Timeout: 5 * time.Second, ReplicaAcks: 1, ReplicaAckTimeout: ackTimeout})
}

// TestReplicaAcks: with a replica ack required, a reservation is confirmed
// only once the replica has it; a hung replica makes it a 503 (the
// reservation made or not), and the retry confirms it once the replica is
// back. Refusals do not wait.
func TestReplicaAcks(t *testing.T) {
	t.Parallel()
	master := redistest.StartServer(t)
	replica := redistest.StartReplica(t, master)
	s := ackingStore(t, master.Addr())
	onReplica := redistest.Client(t, replica.Addr())
	e := newEvent(t, s, 10)

	hold(t, s, e.Seat(1), "alice")
	reserveAcked(t, s, onReplica, e.Seat(1), "alice")

	replica.Freeze()
	hold(t, s, e.Seat(2), "bob")
	if _, err := s.Reserve(context.Background(), e.Seat(2), "bob"); !errors.Is(err, application.ErrUnavailable) || !strings.Contains(err.Error(), "replicas") {
		t.Fatalf("Reserve with the replica frozen: %v, want ErrUnavailable about replicas", err)
	}
	if _, err := s.Reserve(context.Background(), e.Seat(3), "bob"); !errors.Is(err, domain.ErrNoLiveHold) {
		t.Fatalf("Reserve of a seat not held, replica frozen: %v, want ErrNoLiveHold", err)
	}
	replica.Thaw()
	reserveAcked(t, s, onReplica, e.Seat(2), "bob")

	// A master that lost its scripts (a restart, a promoted replica) gets
	// the script's text.
	c := redistest.Client(t, master.Addr())
	if err := c.Do(context.Background(), c.B().ScriptFlush().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	hold(t, s, e.Seat(4), "carol")
	reserveAcked(t, s, onReplica, e.Seat(4), "carol")
}

// TestReplicaAcksCluster: on a cluster, the wait goes to the master of the
// reservation's slot, on the connection that wrote it: with that master's
// replica hung, the reservation is not confirmed.
func TestReplicaAcksCluster(t *testing.T) {
	t.Parallel()
	cluster := redistest.ClusterWithReplicas(t, 1)
	s := ackingStore(t, cluster.Addrs()...)
	e := newEvent(t, s, 10)
	hold(t, s, e.Seat(1), "alice")
	if _, err := s.Reserve(context.Background(), e.Seat(1), "alice"); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	thaw := cluster.FreezeReplicas(t, "{"+string(e.ID)+"}")
	hold(t, s, e.Seat(2), "bob")
	if _, err := s.Reserve(context.Background(), e.Seat(2), "bob"); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("Reserve with the replica frozen: %v, want ErrUnavailable", err)
	}
	thaw()
	if _, err := s.Reserve(context.Background(), e.Seat(2), "bob"); err != nil {
		t.Fatalf("Reserve again with the replica back: %v", err)
	}
}

func hold(t *testing.T, s *redisstore.Store, id domain.SeatID, user domain.UserID) {
	t.Helper()
	if _, err := s.Hold(context.Background(), id, user, longHold); err != nil {
		t.Fatalf("Hold %s by %s: %v", id, user, err)
	}
}

// reserveAcked reserves a held seat and checks the replica has it at once.
func reserveAcked(t *testing.T, s *redisstore.Store, replica rueidis.Client, id domain.SeatID, user domain.UserID) {
	t.Helper()
	if _, err := s.Reserve(context.Background(), id, user); err != nil {
		t.Fatalf("Reserve %s by %s: %v", id, user, err)
	}
	key := "rsv:{" + string(id.Event) + "}:seats"
	n := int64(id.Number - 1)
	got, err := replica.Do(context.Background(), replica.B().Getrange().Key(key).Start(n).End(n).Build()).ToString()
	if err != nil || got != "R" {
		t.Fatalf("seat %s on the replica right after the reservation: %q, %v; want R", id, got, err)
	}
}

// TestReplicaAcksWithoutReplicas: a store told to wait for a replica that
// Redis does not have says so at start, naming the master.
func TestReplicaAcksWithoutReplicas(t *testing.T) {
	t.Parallel()
	addr := redistest.Standalone(t)
	core, logs := observer.New(zap.WarnLevel)
	s, err := redisstore.New(context.Background(), redisstore.Config{Addrs: []string{addr}, Timeout: time.Second, ReplicaAcks: 1, ReplicaAckTimeout: ackTimeout}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	warned := logs.FilterMessageSnippet("fewer replicas").FilterField(zap.String("addr", addr)).Len()
	if warned != 1 {
		t.Fatalf("warnings naming %s: %d, want 1; logs: %v", addr, warned, logs.All())
	}
}
