package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"

	"github.com/redis/rueidis"
)

// Redis replicates asynchronously: a master that confirms a write and dies
// before a replica got it loses the write at fail-over. With ReplicaAcks
// set, Reserve confirms a reservation only once that many replicas have it,
// by sending WAIT after the script on the same connection: WAIT counts the
// replicas that have every write its connection made.

// reserveSHA1 names reserveSource for EVALSHA.
var reserveSHA1 = func() string {
	sum := sha1.Sum([]byte(reserveSource))
	return hex.EncodeToString(sum[:])
}()

// reserveReplicated runs the reserve script and waits for s.replicaAcks
// replicas. A refusal changes nothing and is answered at once. A success
// that too few replicas have in time is an error: the reservation may be
// there or not, and the user's retry is safe (it writes the reservation
// again, and waits again).
func (s *Store) reserveReplicated(ctx context.Context, keys, args []string) (rueidis.RedisMessage, error) {
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
		reply, acks := run(c.B().Evalsha().Sha1(reserveSHA1).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
		if rerr, ok := rueidis.IsRedisErr(reply.Error()); ok && rerr.IsNoScript() {
			// A Redis that restarted, or a replica promoted since, has not
			// seen the script yet.
			reply, acks = run(c.B().Eval().Script(reserveSource).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build())
		}
		m, err := reply.ToMessage()
		if err != nil {
			return err
		}
		if msg = m; m.IsInt64() {
			return nil // a refusal: nothing was written
		}
		n, err := acks.AsInt64()
		if err != nil {
			return err
		}
		if n < int64(s.replicaAcks) {
			return fmt.Errorf("the reservation reached %d of the %d replicas required within %v", n, s.replicaAcks, s.ackTimeout)
		}
		return nil
	})
	if err != nil {
		return rueidis.RedisMessage{}, unavailable(err)
	}
	return msg, nil
}
