package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
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
	// StreamMaxLen is how many records of changes each event keeps at
	// least (XADD MAXLEN ~); zero is DefaultStreamMaxLen.
	StreamMaxLen int
}

// DefaultStreamMaxLen is the records an event keeps when the Config says
// nothing.
const DefaultStreamMaxLen = 100_000

// Store keeps events and seats in Redis, standalone or Cluster, and applies
// each transition as one Lua script.
type Store struct {
	client rueidis.Client
	// follow is the client of Wait's XREADs (see followBuffer).
	follow      rueidis.Client
	timeout     time.Duration
	replicaAcks int
	ackTimeout  time.Duration
	events      eventCache
	policy      atomic.Pointer[policyArgs]
	scripts     *changeScripts
	holds       batcher[holdKey, *holdCall]
	xreads      xreads // Wait's
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
	if cfg.StreamMaxLen < 0 {
		return nil, fmt.Errorf("redisstore: want a stream length of 0 (the default) or more, got %d", cfg.StreamMaxLen)
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
	follow, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:         cfg.Addrs,
		Dialer:              net.Dialer{Timeout: cfg.DialTimeout},
		DisableCache:        true,
		ReadBufferEachConn:  followBuffer,
		WriteBufferEachConn: followBuffer,
		RingScaleEachConn:   followRingScale,
	})
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("redisstore: connect to Redis at %s: %w: %w", strings.Join(cfg.Addrs, ","), application.ErrUnavailable, err)
	}
	if cfg.StreamMaxLen == 0 {
		cfg.StreamMaxLen = DefaultStreamMaxLen
	}
	s := &Store{client: client, follow: follow, timeout: cfg.Timeout, replicaAcks: cfg.ReplicaAcks, ackTimeout: cfg.ReplicaAckTimeout, scripts: newChangeScripts(cfg.StreamMaxLen)}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("redisstore: ping Redis at %s: %w", strings.Join(cfg.Addrs, ","), err)
	}
	log.Info("connected to Redis", zap.Strings("addrs", cfg.Addrs))
	if s.replicaAcks > 0 {
		s.warnFewReplicas(ctx, log)
	}
	return s, nil
}

// Close closes the connections to Redis.
func (s *Store) Close() {
	s.xreads.close()
	s.follow.Close()
	s.client.Close()
}

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
func idemsKey(e domain.EventID) string { return key(e, "idems") }

// changesKey is the stream of the event's records (see Store.records).
func changesKey(e domain.EventID) string { return key(e, "changes") }

// ownerKey is the key of the events of an owner (an API key's name): under
// a hash tag of its own, not an event's, since an owner's events are in
// many slots. A name holding braces only moves the key's slot.
func ownerKey(owner string) string { return "rsv:{owner:" + owner + "}:events" }

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
	keys := append(make([]string, 0, 9+extra), e.keys[:keyIdems]...)
	if idem.Key == "" {
		keys = append(keys, e.noKey)
	} else {
		keys = append(keys, key(e.ID, "idem:"+idem.Key))
	}
	return append(keys, e.keys[keyIdems])
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
	return s.CreateOwnedEvent(ctx, e, application.Quota{})
}

// CreateOwnedEvent implements application.Store. The owner's events (see
// ownerKey) and the event are in two slots, so in two steps: first the
// event is counted as the owner's, then made. Whatever fails in between
// (a crash, a lost answer) leaves it counted, with or without the event: a
// place of the owner's quota taken by nothing, never an event beyond it,
// until the owner is at its quota: see reclaimCounts. A create refused for
// certain (the id taken, Redis out of memory) gives the place back.
func (s *Store) CreateOwnedEvent(ctx context.Context, e domain.Event, q application.Quota) error {
	counted := false
	if q.Owner != "" {
		var err error
		if counted, err = s.count(ctx, e.ID, q); err != nil {
			return err
		}
	}
	keys := []string{eventKey(e.ID), seatsKey(e.ID), changesKey(e.ID)}
	args := []string{e.Name, strconv.Itoa(e.TotalSeats), strconv.Itoa(e.SeatsPerRow), q.Owner}
	// An event confirmed and then lost in a failover would lose the
	// reservations made in it since (see replicas.go).
	msg, err := s.confirm(ctx, createScript, keys, args)
	if err == nil {
		err = refusal(msg)
	}
	if counted && (errors.Is(err, domain.ErrEventExists) || errors.Is(err, application.ErrStoreFull)) {
		_ = s.uncount(ctx, q.Owner, e.ID) // a failure leaves the place taken: see above
	}
	if err != nil {
		return err
	}
	s.events.put(e)
	return nil
}

// count counts event id as q.Owner's (quotaScript), and reports whether it
// was not counted yet. At the quota, it gives back the places taken by no
// event (reclaimCounts), and counts again if there were any.
func (s *Store) count(ctx context.Context, id domain.EventID, q application.Quota) (bool, error) {
	key, grace := ownerKey(q.Owner), strconv.FormatInt(s.countGrace().Milliseconds(), 10)
	for again := true; ; again = false {
		msg, err := s.run(ctx, quotaScript, []string{key}, []string{string(id), strconv.Itoa(q.Max), grace})
		if err != nil {
			return false, err
		}
		reply, err := msg.ToArray()
		if err != nil || len(reply) == 0 {
			return false, errMalformed
		}
		code, err := reply[0].AsInt64()
		switch {
		case err != nil || code == 0 && len(reply) != 2:
			return false, errMalformed
		case code == 0:
			n, err := reply[1].AsInt64()
			if err != nil {
				return false, errMalformed
			}
			return n == 1, nil
		}
		refused := codeRefusal(code)
		if !again || !errors.Is(refused, domain.ErrQuotaExceeded) || len(reply) == 1 {
			return false, refused
		}
		old := make([]string, len(reply)-1)
		for i, m := range reply[1:] {
			if old[i], err = m.ToString(); err != nil {
				return false, errMalformed
			}
		}
		if n, err := s.reclaimCounts(ctx, key, grace, old); err != nil || n == 0 {
			return false, errors.Join(err, refused)
		}
	}
}

// maxOrphans bounds the places an owner at its quota may take back in one
// create: a few creates that failed, each a place.
const maxOrphans = 16

// countGrace is how long after its count a create may still make its
// event: the longest a create takes (the store's timeout, and the wait
// for replicas), many times over, and at least a minute. A place counted
// longer ago for an event that is not there was taken by a create that
// failed after its count; one whose create did reach Redis later still
// would leave that event beyond the quota, by one.
func (s *Store) countGrace() time.Duration {
	return max(time.Minute, 10*(s.timeout+s.ackTimeout))
}

// reclaimCounts gives back the places of old (events counted more than
// grace ago, in the owner's events at key) whose event is not there, and
// answers how many it gave back. Those events are in slots of their own,
// so they are looked for first, and uncountScript then uncounts them
// unless a retry of a create counted one again meanwhile.
func (s *Store) reclaimCounts(ctx context.Context, key, grace string, old []string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmds := make(rueidis.Commands, len(old))
	for i, id := range old {
		cmds[i] = s.client.B().Exists().Key(eventKey(domain.EventID(id))).Build()
	}
	gone := []string{grace}
	for i, res := range s.client.DoMulti(ctx, cmds...) {
		n, err := res.AsInt64()
		if err != nil {
			return 0, unavailable(err)
		}
		if n == 0 {
			gone = append(gone, old[i])
		}
	}
	if len(gone) == 1 {
		return 0, nil
	}
	msg, err := s.run(ctx, uncountScript, []string{key}, gone)
	if err != nil {
		return 0, err
	}
	n, err := msg.AsInt64()
	if err != nil {
		return 0, errMalformed
	}
	return n, nil
}

// uncount gives back the owner's place of event id. It may fail, and the
// place stays taken: see CreateOwnedEvent.
func (s *Store) uncount(ctx context.Context, owner string, id domain.EventID) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.client.Do(ctx, s.client.B().Zrem().Key(ownerKey(owner)).Member(string(id)).Build()).Error(); err != nil {
		return unavailable(err)
	}
	return nil
}

// maxDeleteRounds bounds the reads of an event's idempotency index by a
// delete, of deleteBatch keys each: a sale of 10,000 buyers with a few
// keys each takes a few dozen.
const (
	maxDeleteRounds = 1000
	deleteBatch     = 1000
)

// DeleteEvent implements application.Store. The script deletes keys it is
// given, never keys it builds: so Go reads the event's total (its res
// keys) and its index of idempotency keys first, and the script deletes
// everything only if they are still all there is; else it deletes the
// idempotency keys it was given and Go reads again. Then the event leaves
// its owner's events, a second step with the same order as a create's: a
// failure between the two leaves the owner a place taken by nothing.
// Carts of the old layout (rsv:{E}:cart:<U>) are not found: they expire.
func (s *Store) DeleteEvent(ctx context.Context, id domain.EventID) error {
	owner, err := s.deleteKeys(ctx, id)
	s.events.drop(id)
	if err != nil {
		return err
	}
	if owner == "" {
		return nil
	}
	if err := s.uncount(ctx, owner, id); err != nil {
		return fmt.Errorf("event deleted, its owner's place not given back: %w", err)
	}
	return nil
}

// deleteMore is the delete script's answer when it could not delete the
// whole event yet (see deleteScript).
const deleteMore = -1

// deleteKeys deletes every key of event id and returns its owner.
func (s *Store) deleteKeys(ctx context.Context, id domain.EventID) (string, error) {
	for range maxDeleteRounds {
		total, idems, err := s.deleteView(ctx, id)
		if err != nil {
			return "", err
		}
		keys := []string{eventKey(id), seatsKey(id), expKey(id), holdsKey(id), expqKey(id), coolKey(id), idemsKey(id)}
		for b := range (total-1)/resPerKey + 1 {
			keys = append(keys, resKey(id, b*resPerKey+1))
		}
		keys = append(keys, changesKey(id))
		first := len(keys) + 1
		msg, err := s.run(ctx, deleteScript, append(keys, idems...), []string{strconv.Itoa(total), strconv.Itoa(first)})
		if err != nil {
			return "", err
		}
		reply, err := msg.ToArray()
		if err != nil || len(reply) == 0 {
			return "", errMalformed
		}
		code, err := reply[0].ToInt64()
		switch {
		case err != nil:
			return "", errMalformed
		case code == deleteMore:
			continue
		case code != 0:
			return "", codeRefusal(code)
		case len(reply) != 2:
			return "", errMalformed
		}
		owner, err := reply[1].ToString()
		if err != nil {
			return "", errMalformed
		}
		return owner, nil
	}
	return "", fmt.Errorf("redis: delete event %s: its idempotency keys kept changing: %w", id, application.ErrUnavailable)
}

// deleteView reads what a delete of event id must name: its total of
// seats and up to deleteBatch keys of its idempotency index. The delete
// script reads both again, so they need no transaction here.
func (s *Store) deleteView(ctx context.Context, id domain.EventID) (int, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b := s.client.B()
	res := s.client.DoMulti(ctx,
		b.Hget().Key(eventKey(id)).Field("total").Build(),
		b.Zrange().Key(idemsKey(id)).Min("0").Max(strconv.Itoa(deleteBatch-1)).Build())
	total, err := res[0].AsInt64()
	if rueidis.IsRedisNil(err) {
		return 0, nil, domain.ErrEventNotFound
	}
	if err != nil {
		return 0, nil, unavailable(err)
	}
	idems, err := res[1].AsStrSlice()
	if err != nil {
		return 0, nil, unavailable(err)
	}
	if total < 1 {
		return 0, nil, errMalformed
	}
	return int(total), idems, nil
}

// Event implements application.Store. Events never change, so once read
// they are answered from memory, for eventCacheTTL at a time (an event may
// be deleted by another instance).
func (s *Store) Event(ctx context.Context, id domain.EventID) (domain.Event, error) {
	e, err := s.event(ctx, id)
	if err != nil {
		return domain.Event{}, err
	}
	return e.Event, nil
}

// event returns the event from memory, or from Redis when it has not been
// read for eventCacheTTL. An event kept that Redis cannot be asked about
// is answered all the same, as it was: the seat scripts find out whether
// it is still there.
func (s *Store) event(ctx context.Context, id domain.EventID) (*cachedEvent, error) {
	kept, ok := s.events.get(id)
	if ok && kept.fresh() {
		return kept, nil
	}
	e, err := s.readEvent(ctx, id)
	switch {
	case err == nil:
		return s.events.put(e), nil
	case errors.Is(err, domain.ErrEventNotFound):
		s.events.drop(id)
	case ok && errors.Is(err, application.ErrUnavailable):
		return kept, nil
	}
	return nil, err
}

// readEvent reads event id from Redis.
func (s *Store) readEvent(ctx context.Context, id domain.EventID) (domain.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	fields, err := s.client.Do(ctx, s.client.B().Hmget().Key(eventKey(id)).Field("name", "total", "rows").Build()).ToArray()
	if err != nil {
		return domain.Event{}, unavailable(err)
	}
	if len(fields) != 3 || fields[0].IsNil() {
		return domain.Event{}, domain.ErrEventNotFound
	}
	return toEvent(id, fields[0], fields[1], fields[2])
}

// AvailableSeats implements application.Store. The event comes from
// memory, or Redis once; then one transaction reads the seats' bytes,
// their hold expiries and the time, which so agree. It costs Redis a copy
// of 9 bytes a seat, however many holds there are: a hold not yet
// reclaimed ('H' with its expiry passed) is available, the domain's rule
// (domain.Seat.At) says so. A Redis out of memory refuses the
// transaction: a read-only script then reads the same (see listScript),
// at the cost of moving the strings through Lua.
func (s *Store) AvailableSeats(ctx context.Context, id domain.EventID) (domain.Event, []int, domain.Version, error) {
	e, err := s.event(ctx, id)
	if err != nil {
		return domain.Event{}, nil, domain.Version{}, err
	}
	reply, err := s.listReply(ctx, e)
	if err != nil {
		return domain.Event{}, nil, domain.Version{}, err
	}
	if len(reply) != 5 {
		return domain.Event{}, nil, domain.Version{}, errMalformed
	}
	seats, err := s.seatsString(e, reply[0])
	if err != nil {
		return domain.Event{}, nil, domain.Version{}, err
	}
	exp, err2 := reply[1].ToString()
	if reply[1].IsNil() {
		exp, err2 = "", nil // no seat was ever held
	}
	clock, err3 := reply[2].AsIntSlice()
	at, err4 := position(reply[3], reply[4])
	if errors.Join(err2, err3, err4) != nil || len(clock) != 2 {
		return domain.Event{}, nil, domain.Version{}, errMalformed
	}
	now := time.UnixMilli(clock[0]*1000 + clock[1]/1000) // seconds and microseconds, read as the scripts' now_ms reads them
	free := make([]int, 0, len(seats))
	v := domain.Version{Position: at}
	for i := range len(seats) {
		switch seats[i] {
		case 'A':
		case 'H':
			if len(exp) < 8*(i+1) {
				return domain.Event{}, nil, domain.Version{}, errMalformed
			}
			hold := domain.Seat{Status: domain.OnHold, HoldExpiresAt: time.UnixMilli(expiryAt(exp, i))}
			if hold.At(now).Status != domain.Available {
				continue
			}
			v.Expired++ // available by its expiry, which has no record yet
		default:
			continue
		}
		free = append(free, i+1)
	}
	return e.Event, free, v, nil
}

// seatsString reads the seats string of e from a reply: missing is the
// event gone (deleted by another instance: this one forgets the event
// now, or a Redis that lost its data).
func (s *Store) seatsString(e *cachedEvent, reply rueidis.RedisMessage) (string, error) {
	if reply.IsNil() {
		return "", s.gone(e.ID, domain.ErrEventNotFound)
	}
	seats, err := reply.ToString()
	if err != nil {
		return "", errMalformed
	}
	if len(seats) != e.TotalSeats {
		// Deleted and created again with other seats by another
		// instance: the next call reads the event again.
		s.events.drop(e.ID)
		return "", errMalformed
	}
	return seats, nil
}

// listReply reads the seats and exp strings of e, the time, the last
// record and the birth, in one step: {seats, exp, TIME, last record,
// birth}.
func (s *Store) listReply(ctx context.Context, e *cachedEvent) ([]rueidis.RedisMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b := s.client.B()
	tx := []rueidis.Completed{
		b.Multi().Build(),
		b.Get().Key(e.keys[keySeats]).Build(),
		b.Get().Key(e.keys[keyExp]).Build(),
		b.Time().Build(),
		b.Xrevrange().Key(e.keys[keyChanges]).End("+").Start("-").Count(1).Build(),
		b.Hget().Key(e.keys[keyEvent]).Field("born").Build(),
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
	if err == nil {
		return reply, nil
	}
	if !slices.ContainsFunc(res, func(r rueidis.RedisResult) bool { return isOOM(r.Error()) }) {
		return nil, unavailable(err)
	}
	keys := []string{e.keys[keySeats], e.keys[keyExp], e.keys[keyChanges], e.keys[keyEvent]}
	if reply, err = listScript.Exec(ctx, s.client, keys, nil).ToArray(); err != nil {
		return nil, unavailable(err)
	}
	return reply, nil
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
		return domain.Summary{}, s.gone(id, refusal(msg))
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
		h := &holdCall{user: user, seats: appendSeats(make([]string, 0, len(ids)), ids)}
		return s.seatsOf(e, user, domain.OnHold)(s.holdBatched(ctx, ev, h, pa))
	}
	return s.seatsOf(e, user, domain.OnHold)(s.run(ctx, s.scripts.hold, changeKeys(ev, idem, 0),
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
	pa := s.policyArgs(p)
	if idem.Key == "" {
		return s.seatsOf(e, user, domain.OnHold)(s.holdBatched(ctx, ev, &holdCall{user: user, best: b}, pa))
	}
	return s.seatsOf(e, user, domain.OnHold)(s.run(ctx, s.scripts.holdBest, changeKeys(ev, idem, 0),
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
	return s.seatsOf(e, user, domain.OnHold)(s.run(ctx, s.scripts.refresh, changeKeys(ev, idem, 0),
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
	return s.seatsOf(e, user, domain.Reserved)(s.confirm(ctx, s.scripts.reserve, keys, args))
}

// Release implements application.Store.
func (s *Store) Release(ctx context.Context, e domain.EventID, ids []domain.SeatID, user domain.UserID, idem application.Idem) ([]domain.Seat, error) {
	ev, err := s.event(ctx, e)
	if err != nil {
		return nil, err
	}
	return s.seatsOf(e, user, domain.Available)(s.run(ctx, s.scripts.release, changeKeys(ev, idem, 0),
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

// heldReply (HELD in the scripts) opens the answer of a hold: {HELD,
// expiresAtMs, n, ...}, since every seat of a hold gets the same expiry. A
// cart's answer in the form of the others' spent Redis a number a seat
// more, to make and to send.
const heldReply = -1

// seatsOf reads the answer of a change script, or its failure: {OK, n,
// expiresAtMs, ...} for the seats of event e it leaves in status for user
// (a hold's: {HELD, expiresAtMs, n, ...}, or the first form in an
// Idempotency-Key's answer kept before HELD), or a refusal (see refused).
func (s *Store) seatsOf(e domain.EventID, user domain.UserID, status domain.Status) func(rueidis.RedisMessage, error) ([]domain.Seat, error) {
	return func(msg rueidis.RedisMessage, err error) ([]domain.Seat, error) {
		if err != nil {
			return nil, err
		}
		reply, err := msg.AsIntSlice()
		if err != nil || len(reply) == 0 {
			return nil, errMalformed
		}
		// Seat k's number and expiry, in {OK, n, e, ...} or a hold's {HELD,
		// e, n, ...}.
		count, at := len(reply)/2, func(k int) (int64, int64) { return reply[1+2*k], reply[2+2*k] }
		switch {
		case reply[0] == heldReply && status == domain.OnHold && len(reply) > 2:
			count, at = len(reply)-2, func(k int) (int64, int64) { return reply[2+k], reply[1] }
		case reply[0] != 0:
			return nil, s.gone(e, refused(e, reply))
		case len(reply)%2 != 1:
			return nil, errMalformed
		}
		seats := make([]domain.Seat, count)
		for k := range seats {
			n, exp := at(k)
			seat := domain.NewSeat(domain.SeatID{Event: e, Number: int(n)})
			if status != domain.Available {
				seat.Status, seat.Holder = status, user
			}
			if status == domain.OnHold {
				seat.HoldExpiresAt = time.UnixMilli(exp)
			}
			seats[k] = seat
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

// gone returns err, having forgotten event e if err says Redis has it no
// more (deleted through another instance, or a Redis that lost its data):
// then Event asks Redis again at once instead of answering the event from
// memory for up to eventCacheTTL, and GET /events/{id} agrees with the
// seat call that found it gone.
func (s *Store) gone(e domain.EventID, err error) error {
	if errors.Is(err, domain.ErrEventNotFound) {
		s.events.drop(e)
	}
	return err
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
	if err != nil {
		return errMalformed
	}
	return codeRefusal(code)
}

// codeRefusal maps a script's code to the domain's error: nil for success.
func codeRefusal(code int64) error {
	if code < 0 || code >= int64(len(codes)) {
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

// unavailable wraps a failure to get an answer from Redis:
// application.ErrStoreFull when Redis refused a write for lack of memory
// (nothing changed: a script fails at its first write), else
// application.ErrUnavailable.
func unavailable(err error) error {
	if isOOM(err) {
		return fmt.Errorf("redis: %w: %w", application.ErrStoreFull, err)
	}
	return fmt.Errorf("redis: %w: %w", application.ErrUnavailable, err)
}

// isOOM reports whether err is Redis's refusal of a write over its
// maxmemory ("OOM command not allowed when used memory > 'maxmemory'"),
// from a command or from a script's call.
func isOOM(err error) bool {
	rerr, ok := rueidis.IsRedisErr(err)
	return ok && strings.HasPrefix(rerr.Error(), "OOM ")
}

// errMalformed reports an answer no script gives: a bug, or keys written by
// something else. The store cannot answer, as when Redis is down.
var errMalformed = fmt.Errorf("redis: unexpected answer: %w", application.ErrUnavailable)
