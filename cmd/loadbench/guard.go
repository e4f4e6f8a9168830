package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The guarded holds (issue #10): the single-seat hold at 64 connections,
// for buyers who hold several seats each (-buyer-holds), on instances of
// the service with parts of the guard on, one instance per layer on the
// same Redis, each request carrying the credentials its layer reads; and
// the same holds with the guard off, on the default instance, since a
// buyer's second seat costs the store more than a first one (its cart).
// Their events are made on the default instance, which needs no key to
// create them. The limits are set far above the load: the runs measure
// what the guard costs, and a refusal fails the run like any other answer
// but 200.

// guardLayer is what an instance of the guarded holds has on; nothing is
// the default instance.
type guardLayer struct {
	id    string // the scenario's is "hold" + id
	label string
	// keys: API keys, each request sending the key (seats:write); tokens:
	// HS256 buyer tokens, each request sending its buyer's; limits: every
	// rate limit.
	keys, tokens, limits bool
	// rounds is how many rounds it runs in, the first ones; 0 for all.
	rounds int
}

// layerRounds is how many rounds the single layers run in: two, one of
// each order of the ceiling and the plain hold (inOrder), for less than
// half the time of every round. The layers together, the figure of the
// target, and the guard off, which every layer's cost is taken against,
// run in every round.
const layerRounds = 2

// guardLayers are in the order they run in a round: all of them first,
// nearest to the ceiling that its target is a share of, then the guard off.
var guardLayers = []guardLayer{
	{id: "all", label: "a key, a buyer token and all limits", keys: true, tokens: true, limits: true},
	{id: "off", label: "off"},
	{id: "key", label: "a key (seats:write)", keys: true, rounds: layerRounds},
	{id: "token", label: "a buyer token (HS256)", tokens: true, rounds: layerRounds},
	{id: "limits", label: "all limits", limits: true, rounds: layerRounds},
}

func layerOf(id string) guardLayer {
	i := slices.IndexFunc(guardLayers, func(g guardLayer) bool { return g.id == id })
	return guardLayers[i]
}

func (g guardLayer) off() bool { return !g.keys && !g.tokens && !g.limits }

// guardedConns is the concurrency of the guarded holds: that of the hold
// targets.
const guardedConns = 64

// guardedHolds are the scenarios of the layers, each a share of the ceiling
// of the plain hold at guardedConns.
func guardedHolds() []scenario {
	s := make([]scenario, len(guardLayers))
	for i, g := range guardLayers {
		s[i] = scenario{id: "hold" + g.id, label: "POST /seats/hold for buyers, guard: " + g.label, mode: "buyers", path: "/seats/hold",
			conns: guardedConns, expect: http.StatusOK, base: "evalsha", guard: g.id, rounds: g.rounds}
	}
	return s
}

// withGuardedHolds is scenarios with the guarded holds right after the
// plain hold at guardedConns.
func withGuardedHolds(scenarios []scenario) []scenario {
	i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.id == "hold" && s.conns == guardedConns })
	return slices.Insert(slices.Clone(scenarios), i+1, guardedHolds()...)
}

// maxBuyerHolds is the most seats a buyer of a guarded run may hold: the
// service's default hold limit.
const maxBuyerHolds = 6

// The limits of the guarded runs, far above what one machine can ask: an
// IP, key and create limit that every request shares, and a buyer limit
// that a buyer's holdsPerBuyer requests come nowhere near.
const (
	unrefusing      = 10 * maxRate // per second (per minute for creates)
	unrefusingBuyer = 1000         // per second
)

// keyName names the API key in the service's logs.
const keyName = "loadbench"

// credentials are the API key and the buyer tokens' secret of the guarded
// instances, and the files that configure them.
type credentials struct {
	key                  string // the API key's secret
	buyerSecret          []byte
	keysFile, secretFile string
}

// guarded is the loader's state of the guarded runs.
type guarded struct {
	creds   *credentials
	servers map[string]*server // by layer id
	runs    int                // the buyers of run n are buyer-n-0, buyer-n-1, ...
}

// newCredentials makes a key and a secret and writes their files into dir.
func newCredentials(dir string) (*credentials, error) {
	c := &credentials{key: rand.Text(), buyerSecret: []byte(rand.Text() + rand.Text()),
		keysFile: filepath.Join(dir, "keys.yaml"), secretFile: filepath.Join(dir, "buyer-secret")}
	sum := sha256.Sum256([]byte(c.key))
	keys := fmt.Sprintf("keys:\n  - name: %s\n    sha256: %q\n    scopes: [seats:write]\n", keyName, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(c.keysFile, []byte(keys), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(c.secretFile, c.buyerSecret, 0o600); err != nil {
		return nil, err
	}
	return c, nil
}

// settings are the service's settings for layer g.
func (c *credentials) settings(g guardLayer) []string {
	var s []string
	if g.keys {
		s = append(s, "RESERVATION_AUTH_KEYS_FILE="+c.keysFile)
	}
	if g.tokens {
		s = append(s, "RESERVATION_AUTH_BUYER_SECRET_FILE="+c.secretFile)
	}
	if g.limits {
		for _, l := range []struct {
			name string
			n    int
		}{{"BUYER", unrefusingBuyer}, {"IP", unrefusing}, {"KEY", unrefusing}, {"CREATE", unrefusing}} {
			n := strconv.Itoa(l.n)
			s = append(s, "RESERVATION_LIMIT_"+l.name+"_RATE="+n, "RESERVATION_LIMIT_"+l.name+"_BURST="+n)
		}
	}
	return s
}

// guardServer returns the instance of layer id, started on first use; the
// default one for the guard off.
func (l *loader) guardServer(id string) (*server, error) {
	g := &l.guard
	if layerOf(id).off() {
		return l.svc, nil
	}
	if s := g.servers[id]; s != nil {
		return s, nil
	}
	if g.creds == nil {
		c, err := newCredentials(l.dir)
		if err != nil {
			return nil, err
		}
		g.creds = c
	}
	s, err := startService(l.ctx, l.o, l.dir, "guard-"+id, l.redisAddrs, g.creds.settings(layerOf(id))...)
	if err != nil {
		return nil, err
	}
	if g.servers == nil {
		g.servers = map[string]*server{}
	}
	g.servers[id] = s
	return s, nil
}

// buyerFile is the KEY and BUYERS arguments of wrk.lua's buyers mode, as
// run and as shown, and how many buyers the file has.
type buyerFile struct {
	key, shownKey string // the key's secret or "-"
	path          string
	n             int
}

// buyers writes the buyers of a run of s for d (more as for runFor): new
// ones, enough for what the run is expected to ask, with a new token each
// when the layer has tokens, so that every buyer's first request pays the
// signature.
func (l *loader) buyers(s scenario, d time.Duration, more int) (buyerFile, error) {
	g := layerOf(s.guard)
	f := buyerFile{key: "-", shownKey: "-", n: int(math.Ceil(l.expected(s, d, more)/float64(l.o.buyerHolds))) + 2}
	if g.keys {
		f.key, f.shownKey = l.guard.creds.key, "KEY"
	}
	l.guard.runs++
	now := time.Now()
	var b bytes.Buffer
	for i := range f.n {
		buyer := fmt.Sprintf("buyer-%d-%d", l.guard.runs, i)
		b.WriteString(buyer)
		if g.tokens {
			claims := jwt.RegisteredClaims{Subject: buyer, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}
			token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(l.guard.creds.buyerSecret)
			if err != nil {
				return buyerFile{}, err
			}
			b.WriteString(" " + token)
		}
		b.WriteByte('\n')
	}
	f.path = filepath.Join(l.dir, fmt.Sprintf("buyers-%d.txt", l.guard.runs))
	return f, os.WriteFile(f.path, b.Bytes(), 0o644)
}

// stop stops the guarded instances.
func (g *guarded) stop() []error {
	var errs []error
	for _, s := range g.servers {
		errs = append(errs, s.stop())
	}
	return errs
}
