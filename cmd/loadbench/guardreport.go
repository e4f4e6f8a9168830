package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// layersByParts are the guard's layers with the most parts on last, for
// the table: each alone, then all together.
func layersByParts() []guardLayer {
	parts := func(g guardLayer) int {
		n := 0
		for _, on := range []bool{g.keys, g.tokens, g.limits} {
			if on {
				n++
			}
		}
		return n
	}
	return slices.SortedStableFunc(slices.Values(guardLayers), func(a, b guardLayer) int { return cmp.Compare(parts(a), parts(b)) })
}

// layerTable is the cost of each layer of the guard, "" when no layer ran.
func (r report) layerTable() string {
	const topo = "standalone"
	var b strings.Builder
	// row is a row of the table; its cost, the machine's time per request
	// (1/rate) over that of base, is taken round by round like a share.
	row := func(name, id, base string) {
		runs := r.runs(topo, id, guardedConns)
		cell := func(f func(wrkResult) float64, verb string) string {
			s, _ := r.figure(topo, id, guardedConns, f)
			return s.format(verb)
		}
		share, _ := r.ratio(topo, id, "evalsha", guardedConns)
		cost := ""
		if base != "" {
			c, ok := r.byRound(topo, id, base, guardedConns, func(w, b wrkResult) float64 { return 1e6/w.rate() - 1e6/b.rate() })
			cost = "not in the same rounds"
			if ok {
				cost = c.format("%.1f")
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", name, len(runs),
			cell(rate, "%.0f"), cell(p50, "%.2f"), cell(p99, "%.2f"), share.format("%.0f%%"), cost)
	}
	for _, g := range layersByParts() {
		id := "hold" + g.id
		if len(r.runs(topo, id, guardedConns)) == 0 {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("| guard | rounds | req/s | p50 ms | p99 ms | share of the ceiling | time per request over the guard off, µs |\n|---|--:|--:|--:|--:|--:|--:|\n")
			row("off, a UUID per request (the plain hold)", "hold", "")
		}
		base := "holdoff"
		if g.off() {
			base = "hold"
		}
		row(g.label, id, base)
	}
	return b.String()
}

// guardSection is the report's section on the guard's layers, "" when none
// ran.
func (r report) guardSection() string {
	table := r.layerTable()
	if table == "" {
		return ""
	}
	off := fmt.Sprintf(`Its time over the plain hold is the store's, not the
  guard's: each hold of a buyer reads and writes again the buyer's cart,
  of up to %d seats.`, r.opts.buyerHolds)
	tokens := fmt.Sprintf(`Each buyer holds %d seats, so its token's
  signature is checked on its first request and found in the cache on the
  other %d, as for a buyer filling a cart.`, r.opts.buyerHolds, r.opts.buyerHolds-1)
	if r.opts.buyerHolds == 1 {
		off = "The same holds as the plain hold's, for buyers' UUIDs."
		tokens = "Each buyer holds one seat, so every\n  request pays the signature."
	}
	return fmt.Sprintf(`
## The guard's layers

POST /seats/hold, 64 connections, standalone Redis, for buyers holding %d
seats each (`+"`-buyer-holds`"+`; every run has new buyers and tokens), on
instances of the service with parts of the guard of issue #10 on, one
instance per row on the same Redis; each request sends what its layer
reads, and nothing else.

%s
- **off, a UUID per request**: the plain hold of the targets.
- **off**: the holds of buyers on the service of the default configuration.
  %s
- **a key**: `+"`RESERVATION_AUTH_KEYS_FILE`"+` with one key (seats:write), which
  every request sends (`+"`Authorization: Bearer`"+`).
- **a buyer token**: `+"`RESERVATION_AUTH_BUYER_SECRET_FILE`"+` (HS256); every
  request sends its buyer's token (`+"`X-Buyer-Token`"+`), whose sub is the
  body's UUID. %s
- **all limits**: `+"`RESERVATION_LIMIT_{BUYER,IP,KEY,CREATE}_{RATE,BURST}`"+` all
  set, %s per second per buyer and %s per second (per minute for
  creates) for the others: far above the load, since the point is their
  cost, and a 429 fails the run like any answer but 200. Without a key a
  hold counts against the IP's and the buyer's limits, with one against the
  key's too: an EVALSHA each, sent together in one round trip before the
  hold's.
- **a key, a buyer token and all limits**: the three together, the row of
  the targets.

The single layers ran in the first %d rounds only; the others in every
round. Shares are taken round by round against the ceiling of the targets
(gin + JSON + one EVALSHA, 64 connections); the time per request over the
guard off is 10⁶/rate of the row less 10⁶/rate of the guard off in the same
round (of the plain hold, for the guard off): the time of the whole machine
(its CPUs shared by wrk, the service and Redis) that the layer adds to a
request.
`, r.opts.buyerHolds, table, off, tokens, thousands(unrefusingBuyer), thousands(unrefusing), layerRounds)
}
