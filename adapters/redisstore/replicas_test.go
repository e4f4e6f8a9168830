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
	"github.com/seatres/reservation/application/storetest"
	"github.com/seatres/reservation/domain"
)

// ackTimeout is generous: a loaded machine may delay a replica's ack by
// a few hundred ms, and only the hung replicas of the tests wait it out.
const ackTimeout = time.Second

func ackingStore(t *testing.T, addrs ...string) *redisstore.Store {
	t.Helper()
	return newStoreWith(t, redisstore.Config{Addrs: addrs, Timeout: 5 * time.Second, ReplicaAcks: 1, ReplicaAckTimeout: ackTimeout})
}

// withReplica starts a Redis with a replica, two stores (two instances)
// that wait for it, and a client of the replica.
func withReplica(t *testing.T) (master *redistest.Server, replica *redistest.Server, s, other *redisstore.Store, onReplica rueidis.Client) {
	t.Helper()
	master = redistest.StartServer(t)
	replica = redistest.StartReplica(t, master)
	return master, replica, ackingStore(t, master.Addr()), ackingStore(t, master.Addr()), redistest.Client(t, replica.Addr())
}

// TestReplicaAcks: with a replica ack required, a reservation is confirmed
// only once the replica has it; a hung replica makes it a 503 (the
// reservation made or not), and the retry confirms it once the replica is
// back, not before: retried from another instance, whose connection wrote
// nothing yet, the retry writes again so that its WAIT covers the first
// write, with or without an idempotency key. Refusals do not wait.
func TestReplicaAcks(t *testing.T) {
	t.Parallel()
	master, replica, s, other, onReplica := withReplica(t)
	ctx := context.Background()
	e := newEvent(t, s, 10)

	hold(t, s, e.Seat(1), "alice")
	reserveAcked(t, s, onReplica, "alice", noIdem, e.Seat(1))

	replica.Freeze()
	hold(t, s, e.Seat(2), "bob")
	hold(t, s, e.Seat(3), "carol")
	key := idem("reserve 3")
	for _, r := range []struct {
		name  string
		store *redisstore.Store
		id    domain.SeatID
		user  domain.UserID
		idem  application.Idem
	}{
		{"Reserve", s, e.Seat(2), "bob", noIdem},
		{"Reserve retried", other, e.Seat(2), "bob", noIdem},
		{"Reserve with a key", s, e.Seat(3), "carol", key},
		{"Reserve with a key retried", other, e.Seat(3), "carol", key},
	} {
		_, err := r.store.Reserve(ctx, e.ID, []domain.SeatID{r.id}, r.user, r.idem)
		if !errors.Is(err, application.ErrUnavailable) || !strings.Contains(err.Error(), "replicas") {
			t.Fatalf("%s with the replica frozen: %v, want ErrUnavailable about replicas", r.name, err)
		}
	}
	if _, err := s.Reserve(ctx, e.ID, ids(e, 4), "bob", noIdem); !errors.Is(err, domain.ErrNoLiveHold) {
		t.Fatalf("Reserve of a seat not held, replica frozen: %v, want ErrNoLiveHold", err)
	}
	replica.Thaw()
	reserveAcked(t, other, onReplica, "bob", noIdem, e.Seat(2))
	reserveAcked(t, other, onReplica, "carol", key, e.Seat(3))

	// A cart, and a master that lost its scripts (a restart, a promoted
	// replica), which gets the script's text.
	c := redistest.Client(t, master.Addr())
	if err := c.Do(ctx, c.B().ScriptFlush().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	hold(t, s, e.Seat(5), "dave")
	hold(t, s, e.Seat(6), "dave")
	reserveAcked(t, s, onReplica, "dave", noIdem, e.Seat(5), e.Seat(6))
}

// TestReplicaAcksCreate: with a replica ack required, an event is
// confirmed only once the replica has it, as a reservation is: a failover
// that lost the event would lose every reservation made in it since. A hung
// replica makes the create a 503; the retry of the same id from another
// instance (a create with an idempotency key) writes again, so that it is
// confirmed only when the replica has the event. A create refused (the id
// taken by another event) does not wait.
func TestReplicaAcksCreate(t *testing.T) {
	t.Parallel()
	_, replica, s, other, onReplica := withReplica(t)
	ctx := context.Background()
	onReplicaHas := func(e domain.Event) bool {
		n, err := onReplica.Do(ctx, onReplica.B().Exists().Key(layoutKey(e.ID, "event"), layoutKey(e.ID, "seats")).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		return n == 2
	}
	if e := newEvent(t, s, 10); !onReplicaHas(e) {
		t.Fatalf("event %s confirmed, not on the replica", e.ID)
	}

	replica.Freeze()
	e := eventOf(t, 10)
	if err := s.CreateEvent(ctx, e); !errors.Is(err, application.ErrUnavailable) || !strings.Contains(err.Error(), "replicas") {
		t.Fatalf("CreateEvent with the replica frozen: %v, want ErrUnavailable about replicas", err)
	}
	taken := e
	taken.Name = "Another"
	if err := s.CreateEvent(ctx, taken); !errors.Is(err, domain.ErrEventExists) {
		t.Fatalf("CreateEvent of a taken id, replica frozen: %v, want ErrEventExists at once", err)
	}
	replica.Thaw()
	if err := other.CreateEvent(ctx, e); err != nil {
		t.Fatalf("CreateEvent retried with the replica back: %v", err)
	}
	if !onReplicaHas(e) {
		t.Fatalf("event %s confirmed on retry, not on the replica", e.ID)
	}
}

// TestReplicaAcksCluster: on a cluster, the wait goes to the master of the
// reservation's slot, on the connection that wrote it: with that master's
// replica hung, the reservation is not confirmed.
func TestReplicaAcksCluster(t *testing.T) {
	t.Parallel()
	cluster := redistest.ClusterWithReplicas(t, 1)
	s := ackingStore(t, cluster.Addrs()...)
	ctx := context.Background()
	e := newEvent(t, s, 10)
	hold(t, s, e.Seat(1), "alice")
	if _, err := s.Reserve(ctx, e.ID, ids(e, 1), "alice", noIdem); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	thaw := cluster.FreezeReplicas(t, "{"+string(e.ID)+"}")
	hold(t, s, e.Seat(2), "bob")
	if _, err := s.Reserve(ctx, e.ID, ids(e, 2), "bob", noIdem); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("Reserve with the replica frozen: %v, want ErrUnavailable", err)
	}
	thaw()
	if _, err := s.Reserve(ctx, e.ID, ids(e, 2), "bob", noIdem); err != nil {
		t.Fatalf("Reserve again with the replica back: %v", err)
	}
}

func hold(t *testing.T, s *redisstore.Store, id domain.SeatID, user domain.UserID) {
	t.Helper()
	if _, err := storetest.Hold(context.Background(), s, id, user, longHold); err != nil {
		t.Fatalf("Hold %s by %s: %v", id, user, err)
	}
}

// reserveAcked reserves held seats and checks the replica has them at once.
func reserveAcked(t *testing.T, s *redisstore.Store, replica rueidis.Client, user domain.UserID, key application.Idem, seats ...domain.SeatID) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Reserve(ctx, seats[0].Event, seats, user, key); err != nil {
		t.Fatalf("Reserve %v by %s: %v", seats, user, err)
	}
	for _, id := range seats {
		n := int64(id.Number - 1)
		got, err := replica.Do(ctx, replica.B().Getrange().Key(layoutKey(id.Event, "seats")).Start(n).End(n).Build()).ToString()
		if err != nil || got != "R" {
			t.Fatalf("seat %s on the replica right after the reservation: %q, %v; want R", id, got, err)
		}
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
