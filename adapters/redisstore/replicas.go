package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// Redis replicates asynchronously: a master that confirms a write and dies
// before a replica got it loses the write at fail-over. With ReplicaAcks
// set, Reserve confirms a reservation, and CreateOwnedEvent an event, only
// once that many replicas have it, by sending WAIT after the script on the
// same connection: WAIT counts the replicas that have every write its
// connection made.

// confirm runs cs, and with ReplicaAcks set waits for the replicas
// (replicated).
func (s *Store) confirm(ctx context.Context, cs confirmedScript, keys, args []string) (rueidis.RedisMessage, error) {
	if s.replicaAcks > 0 {
		return s.replicated(ctx, cs, keys, args)
	}
	return s.run(ctx, cs.lua, keys, args)
}

// replicated runs cs and waits for s.replicaAcks replicas. A refusal changes nothing and is
// answered at once. A success that too few replicas have in time is an
// error: the write may be there or not, and a retry is safe (a reserve
// writes the reservation again, a create of the same id its event, and
// each waits again).
func (s *Store) replicated(ctx context.Context, cs confirmedScript, keys, args []string) (rueidis.RedisMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout+s.ackTimeout)
	defer cancel()
	// A dedicated connection, on a cluster that of the keys' slot: the
	// script and WAIT go down the same one, and a script redirected to
	// another node fails rather than leave WAIT counting on the old one.
	var msg rueidis.RedisMessage
	err := s.client.Dedicated(func(c rueidis.DedicatedClient) error {
		run := func(script rueidis.Completed) (rueidis.RedisResult, rueidis.RedisResult) {
			wait := c.B().Wait().Numreplicas(int64(s.replicaAcks)).Timeout(s.ackTimeout.Milliseconds()).Build().SetSlot(keys[0])
			res := c.DoMulti(ctx, script, wait)
			return res[0], res[1]
		}
		reply, acks := run(c.B().Evalsha().Sha1(cs.sha).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
		if rerr, ok := rueidis.IsRedisErr(reply.Error()); ok && rerr.IsNoScript() {
			// A Redis that restarted, or a replica promoted since, has not
			// seen the script yet.
			reply, acks = run(c.B().Eval().Script(cs.source).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
		}
		m, err := reply.ToMessage()
		if err != nil {
			return err
		}
		if msg = m; isRefusal(m) {
			return nil // a refusal changes no seat: nothing to wait for
		}
		n, err := acks.AsInt64()
		if err != nil {
			return err
		}
		if n < int64(s.replicaAcks) {
			return fmt.Errorf("the write reached %d of the %d replicas required within %v", n, s.replicaAcks, s.ackTimeout)
		}
		return nil
	})
	if err != nil {
		return rueidis.RedisMessage{}, unavailable(err)
	}
	return msg, nil
}

// warnFewReplicas logs each master that has fewer replicas than a
// reservation waits for: all its reservations would get 503. It only
// warns, since replicas may come later, and holds work without them.
func (s *Store) warnFewReplicas(ctx context.Context, log *zap.Logger) {
	for addr, node := range s.client.Nodes() {
		info, err := node.Do(ctx, node.B().Info().Section("replication").Build()).ToString()
		if err != nil {
			log.Warn("cannot count the replicas of a Redis node", zap.String("addr", addr), zap.Error(err))
			continue
		}
		if !strings.Contains(info, "role:master\r\n") {
			continue
		}
		v := infoField(info, "connected_slaves")
		if n, err := strconv.Atoi(v); err != nil || n < s.replicaAcks {
			log.Warn("a Redis master has fewer replicas than a reservation waits for: its reservations get 503 until they come",
				zap.String("addr", addr), zap.String("replicas", v), zap.Int("replica_acks", s.replicaAcks))
		}
	}
}

// isRefusal reports whether a script's answer is a refusal: a bare code
// (the create's, see refusal) or a change's {code, ...} (see seatsOf); a
// malformed one is left to those too.
func isRefusal(m rueidis.RedisMessage) bool {
	if code, err := m.ToInt64(); err == nil {
		return code != 0
	}
	reply, err := m.ToArray()
	if err != nil || len(reply) == 0 {
		return true
	}
	code, err := reply[0].ToInt64()
	return err != nil || code != 0
}
