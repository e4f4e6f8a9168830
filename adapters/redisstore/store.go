package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

var _ application.Store = (*Store)(nil)

// Config says where Redis is and how long to wait for it.
type Config struct {
	// Addrs are host:port of a standalone server or of any nodes of a
	// cluster; the client finds out which.
	Addrs []string
	// Timeout bounds every call to Redis.
	Timeout time.Duration
	// DialTimeout bounds connecting; zero means rueidis's default.
	DialTimeout time.Duration
	// FlushDelay is how long the client may wait to gather commands into
	// one write (rueidis's MaxFlushDelay); zero writes each at once.
	FlushDelay time.Duration
	// ReplicaAcks is how many replicas must have a reservation before
	// Reserve succeeds; zero does not wait for any.
	ReplicaAcks int
	// ReplicaAckTimeout bounds that wait, on top of Timeout.
	ReplicaAckTimeout time.Duration
}

// Store keeps events and seats in Redis, standalone or Cluster, and applies
// each transition as one Lua script.
type Store struct {
	client      rueidis.Client
	timeout     time.Duration
	replicaAcks int
	ackTimeout  time.Duration
	events      eventCache
}

// New connects to Redis and checks that it answers, so a configured but
// unreachable Redis stops start-up at once rather than failing requests.
func New(ctx context.Context, cfg Config, log *zap.Logger) (*Store, error) {
	if cfg.Timeout <= 0 {
		return nil, fmt.Errorf("redisstore: timeout must be positive, got %v", cfg.Timeout)
	}
	if cfg.ReplicaAcks < 0 || cfg.ReplicaAcks > 0 && cfg.ReplicaAckTimeout < time.Millisecond {
		return nil, fmt.Errorf("redisstore: want 0 or more replica acks with a timeout of 1ms or more, got %d and %v", cfg.ReplicaAcks, cfg.ReplicaAckTimeout)
	}
	client, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress: cfg.Addrs,
		Dialer:      net.Dialer{Timeout: cfg.DialTimeout},
		// The store never reads through the client-side cache.
		DisableCache:  true,
		MaxFlushDelay: cfg.FlushDelay,
		RetryDelay:    retryDead,
	})
	if err != nil {
		return nil, fmt.Errorf("redisstore: connect to Redis at %s: %w: %w", strings.Join(cfg.Addrs, ","), application.ErrUnavailable, err)
	}
	s := &Store{client: client, timeout: cfg.Timeout, replicaAcks: cfg.ReplicaAcks, ackTimeout: cfg.ReplicaAckTimeout}
	if err := s.Ping(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("redisstore: ping Redis at %s: %w", strings.Join(cfg.Addrs, ","), err)
	}
	log.Info("connected to Redis", zap.Strings("addrs", cfg.Addrs))
	if s.replicaAcks > 0 {
		s.warnFewReplicas(ctx, log)
	}
	return s, nil
}

// Close closes the connections to Redis.
func (s *Store) Close() { s.client.Close() }

// Keys. Every key of event E starts with "rsv:{E}:", so all of them hash to
// the slot of E (Redis Cluster hashes only the first {...} of a key, and E is
// a UUID, free of braces) and every script works on one slot.
func key(e domain.EventID, kind string) string { return "rsv:{" + string(e) + "}:" + kind }

func eventKey(e domain.EventID) string { return key(e, "event") }
func seatsKey(e domain.EventID) string { return key(e, "seats") }
func holdsKey(e domain.EventID) string { return key(e, "holds") }

// resKey is the key of the reservations of seat n. They are spread over
// hashes of resPerKey seats, small enough for Redis to pack each in one
// listpack: half the memory of one big hash table, for a sold-out event.
func resKey(e domain.EventID, n int) string {
	return key(e, "res:"+strconv.Itoa((n-1)/resPerKey))
}

const resPerKey = 100

// userFieldPrefix starts the fields of the holds hash that list a user's
// holds (the scripts' user_field); the other fields are seat numbers.
const userFieldPrefix = "u:"

// pingKey names the slot whose node Ping asks; no such key is written.
const pingKey = "rsv:ping"

// Ping implements application.Store. On a cluster it asks the node that
// serves pingKey's slot: a command without a key goes to any connection of
// the client, among them those to its seed addresses, which it keeps even
// when their node has died, and one dead seed would then fail the pings of
// a healthy store at random.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.client.Do(ctx, s.client.B().Ping().Build().SetSlot(pingKey).ToRetryable()).Error(); err != nil {
		return unavailable(err)
	}
	return nil
}

// CreateEvent implements application.Store.
func (s *Store) CreateEvent(ctx context.Context, e domain.Event) error {
	msg, err := s.run(ctx, createScript,
		[]string{eventKey(e.ID), seatsKey(e.ID)},
		[]string{e.Name, strconv.Itoa(e.TotalSeats)})
	if err != nil {
		return err
	}
	if err := refusal(msg); err != nil {
		return err
	}
	s.events.put(e)
	return nil
}

// Event implements application.Store. Events never change, so once read
// they are answered from memory.
func (s *Store) Event(ctx context.Context, id domain.EventID) (domain.Event, error) {
	if e, ok := s.events.get(id); ok {
		return e, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	fields, err := s.client.Do(ctx, s.client.B().Hmget().Key(eventKey(id)).Field("name", "total").Build()).ToArray()
	if err != nil {
		return domain.Event{}, unavailable(err)
	}
	if len(fields) != 2 || fields[0].IsNil() {
		return domain.Event{}, domain.ErrEventNotFound
	}
	e, err := toEvent(id, fields[0], fields[1])
	if err != nil {
		return domain.Event{}, err
	}
	s.events.put(e)
	return e, nil
}

// AvailableSeats implements application.Store. The event comes from
// memory, or Redis once; then one transaction reads the seats, every hold
// and the time, which so agree; which holds are live is the domain's call.
// (A script would cost Redis as much again during a sale, passing every
// hold through Lua.)
func (s *Store) AvailableSeats(ctx context.Context, id domain.EventID) (domain.Event, []int, error) {
	e, err := s.Event(ctx, id)
	if err != nil {
		return domain.Event{}, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b := s.client.B()
	tx := []rueidis.Completed{
		b.Multi().Build(),
		b.Get().Key(seatsKey(id)).Build(),
		b.Hgetall().Key(holdsKey(id)).Build(),
		b.Time().Build(),
		b.Exec().Build(),
	}
	for i := range tx {
		// Every command names the event's slot: a Cluster client that
		// retries them (they only read, see retryDead) one by one sends
		// them all, in order, to its node.
		tx[i] = tx[i].SetSlot(seatsKey(id)).ToRetryable()
	}
	res := s.client.DoMulti(ctx, tx...)
	reply, err := res[len(res)-1].ToArray()
	if err != nil {
		return domain.Event{}, nil, unavailable(err)
	}
	if len(reply) != 3 {
		return domain.Event{}, nil, errMalformed
	}
	if reply[0].IsNil() {
		// Known here, gone from Redis: only a Redis that lost its data
		// does that, and the seat scripts then answer the seat is not found.
		return domain.Event{}, nil, domain.ErrEventNotFound
	}
	seats, err1 := reply[0].ToString()
	holds, err2 := reply[1].AsStrMap()
	clock, err3 := reply[2].AsIntSlice()
	if errors.Join(err1, err2, err3) != nil || len(seats) != e.TotalSeats || len(clock) != 2 {
		return domain.Event{}, nil, errMalformed
	}
	nowMs := clock[0]*1000 + clock[1]/1000 // seconds and microseconds, read as the scripts' now_ms reads them
	state := []byte(seats)
	now := time.UnixMilli(nowMs)
	for field, v := range holds {
		if strings.HasPrefix(field, userFieldPrefix) {
			continue // a user's list of holds; the seats' own fields say it all
		}
		n, err := strconv.Atoi(field)
		exp, _, ok := strings.Cut(v, ":")
		expMs, err2 := strconv.ParseInt(exp, 10, 64)
		if err != nil || !ok || err2 != nil || n < 1 || n > len(state) {
			return domain.Event{}, nil, errMalformed
		}
		hold := domain.Seat{Status: domain.OnHold, HoldExpiresAt: time.UnixMilli(expMs)}
		if hold.At(now).Status == domain.OnHold {
			state[n-1] = 'H'
		}
	}
	free := make([]int, 0, len(state))
	for i, c := range state {
		if c == 'A' {
			free = append(free, i+1)
		}
	}
	return e, free, nil
}

// Seat implements application.Store.
func (s *Store) Seat(ctx context.Context, id domain.SeatID) (domain.Seat, error) {
	return seatOf(id)(s.run(ctx, seatScript,
		[]string{seatsKey(id.Event), holdsKey(id.Event), resKey(id.Event, id.Number)},
		[]string{strconv.Itoa(id.Number)}))
}

// Hold implements application.Store.
func (s *Store) Hold(ctx context.Context, id domain.SeatID, user domain.UserID, p domain.HoldPolicy) (domain.Seat, error) {
	return seatOf(id)(s.run(ctx, holdScript,
		[]string{seatsKey(id.Event), holdsKey(id.Event)},
		[]string{strconv.Itoa(id.Number), string(user), ttlMs(p), strconv.Itoa(p.MaxSeats)}))
}

// Refresh implements application.Store.
func (s *Store) Refresh(ctx context.Context, id domain.SeatID, user domain.UserID, p domain.HoldPolicy) (domain.Seat, error) {
	return seatOf(id)(s.run(ctx, refreshScript,
		[]string{seatsKey(id.Event), holdsKey(id.Event)},
		[]string{strconv.Itoa(id.Number), string(user), ttlMs(p)}))
}

// Reserve implements application.Store. With replica acks configured it
// waits for the replicas (see replicas.go).
func (s *Store) Reserve(ctx context.Context, id domain.SeatID, user domain.UserID) (domain.Seat, error) {
	keys := []string{seatsKey(id.Event), holdsKey(id.Event), resKey(id.Event, id.Number)}
	args := []string{strconv.Itoa(id.Number), string(user)}
	if s.replicaAcks > 0 {
		return seatOf(id)(s.reserveReplicated(ctx, keys, args))
	}
	return seatOf(id)(s.run(ctx, reserveScript, keys, args))
}

// retryDead is rueidis's retry policy for the commands marked retryable
// (every call of the store but the reserve that waits for replicas: reads,
// and scripts that are idempotent, see createScript): when the connection
// fails, not the command, try again at once. A connection that died idle
// (Redis restarted, a proxy dropped it) is found dead only when written
// to, then replaced; the next try may pick another dead one, so one try
// per connection, plus one. A Redis that is down is still answered at
// once, not after backing off until the timeout.
func retryDead(attempts int, _ rueidis.Completed, _ error) time.Duration {
	if attempts > connsPerNode {
		return -1
	}
	return 0
}

// connsPerNode is how many pipelined connections rueidis opens to a node
// at most, with its default PipelineMultiplex.
const connsPerNode = 4

// ttlMs is the hold TTL in the scripts' unit; the policy guarantees at
// least 1ms.
func ttlMs(p domain.HoldPolicy) string { return strconv.FormatInt(p.TTL.Milliseconds(), 10) }

// seatOf reads the answer of a seat script, or its failure, as the seat it
// answers as it is now.
func seatOf(id domain.SeatID) func(rueidis.RedisMessage, error) (domain.Seat, error) {
	return func(msg rueidis.RedisMessage, err error) (domain.Seat, error) {
		if err != nil {
			return domain.Seat{}, err
		}
		if msg.IsInt64() {
			return domain.Seat{}, refusal(msg)
		}
		reply, err := msg.ToArray()
		if err != nil || len(reply) != 4 {
			return domain.Seat{}, errMalformed
		}
		state, err1 := reply[0].ToString()
		holder, err2 := reply[1].ToString()
		expMs, err3 := reply[2].ToInt64()
		nowMs, err4 := reply[3].ToInt64()
		if errors.Join(err1, err2, err3, err4) != nil {
			return domain.Seat{}, errMalformed
		}
		seat := domain.Seat{ID: id, Holder: domain.UserID(holder)}
		switch state {
		case "A":
			seat.Status = domain.Available
		case "H":
			seat.Status = domain.OnHold
			seat.HoldExpiresAt = time.UnixMilli(expMs)
		case "R":
			seat.Status = domain.Reserved
		default:
			return domain.Seat{}, errMalformed
		}
		return seat.At(time.UnixMilli(nowMs)), nil
	}
}

// run runs a script within the store's timeout. Only a failure to get an
// answer is an error here; refusals are in the answer.
func (s *Store) run(ctx context.Context, script *rueidis.Lua, keys, args []string) (rueidis.RedisMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	msg, err := script.Exec(ctx, s.client, keys, args).ToMessage()
	if err != nil {
		return rueidis.RedisMessage{}, unavailable(err)
	}
	return msg, nil
}

// refusal maps a script's code to the domain's error, nil for success.
func refusal(msg rueidis.RedisMessage) error {
	code, err := msg.ToInt64()
	if err != nil || code < 0 || code >= int64(len(codes)) {
		return errMalformed
	}
	return codes[code].err
}

func toEvent(id domain.EventID, name, total rueidis.RedisMessage) (domain.Event, error) {
	n, err1 := name.ToString()
	t, err2 := total.AsInt64()
	if errors.Join(err1, err2) != nil {
		return domain.Event{}, errMalformed
	}
	return domain.Event{ID: id, Name: n, TotalSeats: int(t)}, nil
}

func unavailable(err error) error {
	return fmt.Errorf("redis: %w: %w", application.ErrUnavailable, err)
}

// errMalformed reports an answer no script gives: a bug, or keys written by
// something else. The store cannot answer, as when Redis is down.
var errMalformed = fmt.Errorf("redis: unexpected answer: %w", application.ErrUnavailable)
