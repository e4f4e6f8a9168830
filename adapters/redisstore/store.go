package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
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
	policy      atomic.Pointer[policyArgs]
}

// policyArgs are a hold policy's texts for the scripts. A service has one
// policy: its texts are made once, not on every hold.
type policyArgs struct {
	domain.HoldPolicy
	ttl, maxSeats, maxLifetime string
}

func (s *Store) policyArgs(p domain.HoldPolicy) *policyArgs {
	if a := s.policy.Load(); a != nil && a.HoldPolicy == p {
		return a
	}
	a := &policyArgs{HoldPolicy: p, ttl: ms(p.TTL), maxSeats: strconv.Itoa(p.MaxSeats), maxLifetime: ms(p.MaxLifetime)}
	s.policy.Store(a)
	return a
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
// a UUID, free of braces) and every script works on one slot. A user id
// or an idempotency key after it may hold braces: they come after {E}.
func key(e domain.EventID, kind string) string { return "rsv:{" + string(e) + "}:" + kind }

func eventKey(e domain.EventID) string { return key(e, "event") }
func seatsKey(e domain.EventID) string { return key(e, "seats") }
func expKey(e domain.EventID) string   { return key(e, "exp") }
func holdsKey(e domain.EventID) string { return key(e, "holds") }
func expqKey(e domain.EventID) string  { return key(e, "expq") }
func coolKey(e domain.EventID) string  { return key(e, "cool") }

// resKey is the key of the reservations of seat n. They are spread over
// hashes of resPerKey seats, small enough for Redis to pack each in one
// listpack: half the memory of one big hash table, for a sold-out event.
func resKey(e domain.EventID, n int) string {
	return key(e, "res:"+strconv.Itoa((n-1)/resPerKey))
}

const resPerKey = 100

// changeKeys are the keys every change script starts with (see luaChange),
// with room for extra more. The user's cart is a field of the holds hash,
// not a key.
func changeKeys(e *cachedEvent, idem application.Idem, extra int) []string {
	keys := append(make([]string, 0, 7+extra), e.keys[:]...)
	if idem.Key == "" {
		return append(keys, e.noKey)
	}
	return append(keys, key(e.ID, "idem:"+idem.Key))
}

// changeArgs are the arguments every change script starts with (see
// luaChange), then more, then the seat numbers of ids.
func changeArgs(e *cachedEvent, user domain.UserID, idem application.Idem, ids []domain.SeatID, more ...string) []string {
	ttl := "0" // no idempotency key: nothing is kept
	if idem.Key != "" {
		ttl = strconv.FormatInt(max(idem.TTL.Milliseconds(), 0), 10)
	}
	args := make([]string, 0, 4+len(more)+len(ids))
	args = append(args, string(user), e.total, idem.Fingerprint, ttl)
	args = append(args, more...)
	return appendSeats(args, ids)
}

// appendSeats appends the seat numbers of ids to a script's arguments.
func appendSeats(args []string, ids []domain.SeatID) []string {
	for _, id := range ids {
		args = append(args, strconv.Itoa(id.Number))
	}
	return args
}

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
		[]string{e.Name, strconv.Itoa(e.TotalSeats), strconv.Itoa(e.SeatsPerRow)})
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
	e, err := s.event(ctx, id)
	if err != nil {
		return domain.Event{}, err
	}
	return e.Event, nil
}

// event returns the event from memory, or Redis once.
func (s *Store) event(ctx context.Context, id domain.EventID) (*cachedEvent, error) {
	if e, ok := s.events.get(id); ok {
		return e, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	fields, err := s.client.Do(ctx, s.client.B().Hmget().Key(eventKey(id)).Field("name", "total", "rows").Build()).ToArray()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(fields) != 3 || fields[0].IsNil() {
		return nil, domain.ErrEventNotFound
	}
	e, err := toEvent(id, fields[0], fields[1], fields[2])
	if err != nil {
		return nil, err
	}
	return s.events.put(e), nil
}

// AvailableSeats implements application.Store. The event comes from
// memory, or Redis once; then one transaction reads the seats' bytes,
// their hold expiries and the time, which so agree. It costs Redis a copy
// of 9 bytes a seat, however many holds there are: a hold not yet
// reclaimed ('H' with its expiry passed) is available, the domain's rule
// (domain.Seat.At) says so.
func (s *Store) AvailableSeats(ctx context.Context, id domain.EventID) (domain.Event, []int, error) {
	e, err := s.event(ctx, id)
	if err != nil {
		return domain.Event{}, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b := s.client.B()
	tx := []rueidis.Completed{
		b.Multi().Build(),
		b.Get().Key(e.keys[keySeats]).Build(),
		b.Get().Key(e.keys[keyExp]).Build(),
		b.Time().Build(),
		b.Exec().Build(),
	}
	for i := range tx {
		// Every command names the event's slot: a Cluster client that
		// retries them (they only read, see retryDead) one by one sends
		// them all, in order, to its node.
		tx[i] = tx[i].SetSlot(e.keys[keySeats]).ToRetryable()
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
	exp, err2 := reply[1].ToString()
	if reply[1].IsNil() {
		exp, err2 = "", nil // no seat was ever held
	}
	clock, err3 := reply[2].AsIntSlice()
	if errors.Join(err1, err2, err3) != nil || len(seats) != e.TotalSeats || len(clock) != 2 {
		return domain.Event{}, nil, errMalformed
	}
	now := time.UnixMilli(clock[0]*1000 + clock[1]/1000) // seconds and microseconds, read as the scripts' now_ms reads them
	free := make([]int, 0, len(seats))
	for i := range len(seats) {
		switch seats[i] {
		case 'A':
		case 'H':
			if len(exp) < 8*(i+1) {
				return domain.Event{}, nil, errMalformed
			}
			hold := domain.Seat{Status: domain.OnHold, HoldExpiresAt: time.UnixMilli(expiryAt(exp, i))}
			if hold.At(now).Status != domain.Available {
				continue
			}
		default:
			continue
		}
		free = append(free, i+1)
	}
	return e.Event, free, nil
}

// expiryAt reads the expiry of seat i+1 in an exp string: 8 bytes
// big-endian at 8i, in ms (see set_exp in the scripts).
func expiryAt(exp string, i int) int64 {
	ms := int64(0)
	for _, b := range []byte(exp[8*i : 8*i+8]) {
		ms = ms<<8 | int64(b)
	}
	return ms
}

// Summary implements application.Store.
func (s *Store) Summary(ctx context.Context, id domain.EventID) (domain.Summary, error) {
	msg, err := s.run(ctx, summaryScript, []string{eventKey(id), seatsKey(id), expqKey(id)}, nil)
	if err != nil {
		return domain.Summary{}, err
	}
	if msg.IsInt64() {
		return domain.Summary{}, refusal(msg)
	}
	v, err := msg.AsIntSlice()
	if err != nil || len(v) != 4 {
		return domain.Summary{}, errMalformed
	}
	return domain.Summary{Total: int(v[0]), Available: int(v[1]), OnHold: int(v[2]), Reserved: int(v[3])}, nil
}

// Seat implements application.Store.
func (s *Store) Seat(ctx context.Context, id domain.SeatID) (domain.Seat, error) {
	return seatOf(id)(s.run(ctx, seatScript,
		[]string{seatsKey(id.Event), expKey(id.Event), holdsKey(id.Event), resKey(id.Event, id.Number)},
		[]string{strconv.Itoa(id.Number)}))
}

// Hold implements application.Store.
func (s *Store) Hold(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	ev, err := s.event(ctx, e)
	if err != nil {
		return nil, err
	}
	pa := s.policyArgs(p)
	if idem.Key == "" {
		// The most frequent change, with only the keys and arguments it
		// needs: Redis spends about 1,000 instructions an element making
		// the script's KEYS and ARGV.
		args := appendSeats(append(make([]string, 0, 5+len(ids)), string(user), ev.total, pa.ttl, pa.maxSeats, pa.maxLifetime), ids)
		return seatsOf(e, user, domain.OnHold)(s.run(ctx, holdPlainScript, ev.keys[keySeats:], args))
	}
	return seatsOf(e, user, domain.OnHold)(s.run(ctx, holdScript, changeKeys(ev, idem, 0),
		changeArgs(ev, user, idem, ids, pa.ttl, pa.maxSeats, pa.maxLifetime)))
}

// HoldBest implements application.Store. Without an idempotency key its
// script is not retried when a connection fails: a second run would pick
// more seats.
func (s *Store) HoldBest(ctx context.Context, e domain.EventID, b domain.BestAvailable, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	ev, err := s.event(ctx, e)
	if err != nil {
		return nil, err
	}
	script := holdBestScript
	if idem.Key != "" {
		script = holdBestIdemScript
	}
	pa := s.policyArgs(p)
	return seatsOf(e, user, domain.OnHold)(s.run(ctx, script, changeKeys(ev, idem, 0),
		changeArgs(ev, user, idem, nil, pa.ttl, pa.maxSeats, pa.maxLifetime,
			strconv.Itoa(ev.SeatsPerRow), strconv.Itoa(b.Count), flag(b.Adjacent))))
}

// Refresh implements application.Store.
func (s *Store) Refresh(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, p domain.HoldPolicy, idem application.Idem) ([]domain.Seat, error) {
	ev, err := s.event(ctx, e)
	if err != nil {
		return nil, err
	}
	pa := s.policyArgs(p)
	return seatsOf(e, user, domain.OnHold)(s.run(ctx, refreshScript, changeKeys(ev, idem, 0),
		changeArgs(ev, user, idem, ids, pa.ttl, pa.maxLifetime, flag(ids == nil))))
}

// Reserve implements application.Store. With replica acks configured it
// waits for the replicas (see replicas.go).
func (s *Store) Reserve(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, idem application.Idem) ([]domain.Seat, error) {
	ev, err := s.event(ctx, e)
	if err != nil {
		return nil, err
	}
	keys := changeKeys(ev, idem, len(ids))
	for _, id := range ids {
		keys = append(keys, resKey(e, id.Number))
	}
	args := changeArgs(ev, user, idem, ids)
	if s.replicaAcks > 0 {
		return seatsOf(e, user, domain.Reserved)(s.reserveReplicated(ctx, keys, args))
	}
	return seatsOf(e, user, domain.Reserved)(s.run(ctx, reserveScript, keys, args))
}

// Release implements application.Store.
func (s *Store) Release(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, idem application.Idem) ([]domain.Seat, error) {
	ev, err := s.event(ctx, e)
	if err != nil {
		return nil, err
	}
	return seatsOf(e, user, domain.Available)(s.run(ctx, releaseScript, changeKeys(ev, idem, 0),
		changeArgs(ev, user, idem, ids, flag(ids == nil))))
}

// retryDead is rueidis's retry policy for the commands marked retryable
// (every call of the store but HoldBest without an idempotency key and the
// reserve that waits for replicas: reads, and scripts that are idempotent,
// see createScript): when the connection fails, not the command, try
// again at once. A connection that died idle (Redis restarted, a proxy
// dropped it) is found dead only when written to, then replaced; the next
// try may pick another dead one, so one try per connection, plus one. A
// Redis that is down is still answered at once, not after backing off
// until the timeout.
func retryDead(attempts int, _ rueidis.Completed, _ error) time.Duration {
	if attempts > connsPerNode {
		return -1
	}
	return 0
}

// connsPerNode is how many pipelined connections rueidis opens to a node
// at most, with its default PipelineMultiplex.
const connsPerNode = 4

// ms is a duration in the scripts' unit.
func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// seatOf reads the answer of the seat script, or its failure, as the seat
// it answers as it is now.
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

// seatsOf reads the answer of a change script, or its failure: {OK, n,
// expiresAtMs, ...} for the seats of event e it leaves in status for user,
// or a refusal (see refused).
func seatsOf(e domain.EventID, user domain.UserID, status domain.Status) func(rueidis.RedisMessage, error) ([]domain.Seat, error) {
	return func(msg rueidis.RedisMessage, err error) ([]domain.Seat, error) {
		if err != nil {
			return nil, err
		}
		reply, err := msg.AsIntSlice()
		if err != nil || len(reply) == 0 {
			return nil, errMalformed
		}
		if reply[0] != 0 {
			return nil, refused(e, reply)
		}
		if len(reply)%2 != 1 {
			return nil, errMalformed
		}
		seats := make([]domain.Seat, 0, len(reply)/2)
		for i := 1; i < len(reply); i += 2 {
			seat := domain.NewSeat(domain.SeatID{Event: e, Number: int(reply[i])})
			if status != domain.Available {
				seat.Status, seat.Holder = status, user
			}
			if status == domain.OnHold {
				seat.HoldExpiresAt = time.UnixMilli(reply[i+1])
			}
			seats = append(seats, seat)
		}
		return seats, nil
	}
}

// refused maps a change script's refusal {code, ...} to the domain's
// error: the cool-down with its retry-after in ms, a refusal that names
// seats with their numbers, or a bare one.
func refused(e domain.EventID, reply []int64) error {
	code, rest := reply[0], reply[1:]
	if code < 1 || code >= int64(len(codes)) {
		return errMalformed
	}
	r := codes[code]
	switch {
	case r == domain.ErrCoolDown:
		if len(rest) != 1 {
			return errMalformed
		}
		return &domain.CoolDownError{RetryAfter: time.Duration(rest[0]) * time.Millisecond}
	case len(rest) == 0:
		return r
	}
	ids := make([]domain.SeatID, len(rest))
	for i, n := range rest {
		ids[i] = domain.SeatID{Event: e, Number: int(n)}
	}
	return &domain.SeatsError{Err: r, Seats: ids}
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

// refusal maps a bare code, of the scripts that answer one, to the
// domain's error: nil for success.
func refusal(msg rueidis.RedisMessage) error {
	code, err := msg.ToInt64()
	if err != nil || code < 0 || code >= int64(len(codes)) {
		return errMalformed
	}
	if code == 0 {
		return nil
	}
	return codes[code]
}

// toEvent reads an event's fields. An event the old code wrote has no
// rows: all its seats are one row.
func toEvent(id domain.EventID, name, total, rows rueidis.RedisMessage) (domain.Event, error) {
	n, err1 := name.ToString()
	t, err2 := total.AsInt64()
	r, err3 := t, error(nil)
	if !rows.IsNil() {
		r, err3 = rows.AsInt64()
	}
	if errors.Join(err1, err2, err3) != nil {
		return domain.Event{}, errMalformed
	}
	return domain.Event{ID: id, Name: n, TotalSeats: int(t), SeatsPerRow: int(r)}, nil
}

func unavailable(err error) error {
	return fmt.Errorf("redis: %w: %w", application.ErrUnavailable, err)
}

// errMalformed reports an answer no script gives: a bug, or keys written by
// something else. The store cannot answer, as when Redis is down.
var errMalformed = fmt.Errorf("redis: unexpected answer: %w", application.ErrUnavailable)
