// Package seatmodel is the sequential specification of the seat rules that
// histories recorded over HTTP are checked against with porcupine: a history
// is correct if its operations can be put in one order, consistent with their
// real-time order, in which each answer is the one this model gives.
//
// It restates the rules of the contract independently of package domain, so
// a bug there is not copied into the check: the one-seat changes of the
// original API, the changes of a buyer's cart (hold of several seats or of
// the best available ones, release, reserve, refresh), the reads, and the
// hold-lifetime cap with its cool-down. The model covers every seat of an
// event (best available and the summary look at all of them), so events of
// a history have at most MaxTotalSeats seats.
//
// Time is part of the rules (holds expire, carts reach their cap), and the
// service reads it from the store's clock (Redis's TIME, or the process
// clock of the in-memory store), which on one machine is the clock the
// recorder reads. So an operation took effect at some millisecond between
// the ones at which it was called and answered: answers that carry a hold's
// expiry mostly pin that moment down (an expiry is a TTL after it, unless
// the cap cut it short), the others need only one moment in the interval at
// which the answer is right. The model finds it by trying the moments at
// which the answer could change: the call, and every expiry, cap and end of
// a cool-down that falls within the interval.
//
// An operation of unknown outcome (a change answered 503, or not at all:
// the store may have made it after the instance gave up, or never) is an
// Output with Unknown set: it may have taken effect at any moment from
// CallMs to UntilMs, the last moment it could (the end of the history at
// worst), or not at all. Its answer fixes no moment, and each moment tried
// is one more state to carry along until later answers rule it out, so the
// model tries it at few: its call (a change in flight when a store or an
// instance dies is made then or never), the Input.Moments, which
// AddMoments fills from the expiries that later answers show, and, for
// each of the Input.Spans the recorder knows (while a frozen store caught
// up), the moments of it that the other answers can tell apart. That is
// stricter than the rules: a change made at another moment, whose expiry
// no answer shows, is taken at one of those, which could make a correct
// history fail, never a wrong one pass.
//
// The model does not ask that those moments grow along the order it finds:
// that would make concurrent holds of different seats stop commuting, and
// the search for an order explode, for a property of the store's clock, not
// of the service. It asks less: that an operation takes effect no earlier
// than the call of any operation before it in the order (in the store's
// order, moments grow, and each is at or after its call), a floor that
// does not depend on the order of the operations before. Above the floor,
// holds that have expired and carts that are over change no answer, and
// the model forgets them: states that differ only by them are one, which
// keeps the states of changes of unknown outcome from multiplying.
package seatmodel

import (
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Kind is what an operation does.
type Kind uint8

// The operations of a history.
const (
	// The original API's changes of one seat (Input.Seat): their refusals
	// name no seats.
	Hold Kind = iota
	Refresh
	Reserve
	// Reads of one seat, of the available seats, and of the counts.
	Get
	List
	Summary
	// Changes of a buyer's cart. HoldSeats, ReserveSeats and Release take
	// the seats Input.Seats (Release every live hold of the buyer when it
	// is nil), HoldBest takes Input.Best, RefreshCart takes no seats.
	HoldSeats
	HoldBest
	Release
	ReserveSeats
	RefreshCart
)

var kindNames = [...]string{"hold", "refresh", "reserve", "get", "list", "summary",
	"hold-seats", "hold-best", "release", "reserve-seats", "refresh-cart"}

func (k Kind) String() string { return kindNames[k] }

// Status is a seat's status as the API reports it.
type Status uint8

// Seat statuses.
const (
	Available Status = iota
	OnHold
	Reserved
)

var statusNames = [...]string{"Available", "On hold", "Reserved"}

func (s Status) String() string { return statusNames[s] }

// ParseStatus reads a status as the API writes it.
func ParseStatus(s string) (Status, bool) {
	for i, name := range statusNames {
		if s == name {
			return Status(i), true
		}
	}
	return 0, false
}

// MaxTotalSeats is the most seats an event of a history may have, and
// MaxUsers the most buyers: the model keeps seats and carts in arrays, so
// that states compare with ==.
const (
	MaxTotalSeats = 10
	MaxUsers      = 8
)

// Best is a request for the best available seats.
type Best struct {
	Count    int
	Adjacent bool
}

// Input is one request. CallMs and ReturnMs are the milliseconds of Unix
// time at which it was sent and its answer received.
type Input struct {
	Event string
	Kind  Kind
	Seat  int   // Hold, Refresh, Reserve, Get: 1..TotalSeats
	Seats []int // HoldSeats, ReserveSeats, Release: distinct, in the order asked
	Best  Best  // HoldBest
	User  string
	// Replay, when not nil, is the answer to an earlier request with the
	// same Idempotency-Key and the same body, called at FirstCallMs: until
	// the key is forgotten (Rules.IdemTTLMs after that request took effect,
	// or later) the store answers Replay again and changes nothing; after
	// that the request is a new one.
	Replay      *Output
	FirstCallMs int64
	CallMs      int64
	ReturnMs    int64
	// UntilMs and Moments are, for an operation of unknown outcome, the
	// last moment its change may have been made, and moments after
	// CallMs at which to try it (see AddMoments). Spans are stretches of
	// time in which it may have been made, which AddMoments turns into
	// the moments that tell their instants apart: a frozen store runs
	// what it received as it catches up after its thaw, which on a busy
	// machine takes tens of milliseconds.
	UntilMs int64
	Moments []int64
	Spans   []Span
}

// Span is a stretch of time, in Unix ms, both ends included.
type Span struct{ FromMs, ToMs int64 }

// SeatOut is a seat in an answer. A refusal names seats by Number alone.
type SeatOut struct {
	Number    int
	Status    Status
	Holder    string
	ExpiresMs int64 // the hold's expiry in Unix ms, for a seat on hold
}

// Counts is a summary's answer.
type Counts struct {
	Total, Available, OnHold, Reserved int
}

// Output is an answer. Code is empty for a 200, else the error code. Seats
// is, for a 200 of a change, the seats answered, in order (one for the
// one-seat changes), for Get's the seat, and for a refusal the seats it
// names. List's fills Free, whose bit n-1 says seat n was listed;
// Summary's fills Counts. Unknown, with nothing else set, is the outcome
// of a change that got a 503 or no answer: made at some moment, or never.
type Output struct {
	Unknown bool
	Code    string
	Seats   []SeatOut
	Free    uint64
	Counts  Counts
}

// The refusals a history may contain; any other is wrong.
const (
	CodeSeatHeld       = "SEAT_HELD"
	CodeSeatReserved   = "SEAT_RESERVED"
	CodeHoldLimit      = "HOLD_LIMIT_REACHED"
	CodeHoldLifetime   = "HOLD_LIFETIME_REACHED" // a hold in a cool-down, or a refresh at the cap
	CodeNotEnoughSeats = "NOT_ENOUGH_SEATS"
	CodeNotHolder      = "NOT_HOLDER"
	CodeNotOnHold      = "NOT_ON_HOLD"
	CodeNoLiveHold     = "NO_LIVE_HOLD"
)

// Rules are the parameters of the service and of the events under test.
type Rules struct {
	TTLMs int64
	// MaxLifetimeMs caps every hold of a cart at the cart's start plus
	// MaxLifetimeMs; 0 is no cap. At least TTLMs.
	MaxLifetimeMs int64
	MaxSeats      int // live holds of one buyer in one event
	// IdemTTLMs is the least time the store keeps an Idempotency-Key's
	// answer, from the moment the change took effect.
	IdemTTLMs   int64
	TotalSeats  int // of every event, at most MaxTotalSeats
	SeatsPerRow int // of every event, 1..TotalSeats
	// Users are every buyer of the history, at most MaxUsers.
	Users []string
}

// seat is one seat of the state.
type seat struct {
	status Status
	holder uint8 // 1 + index in Rules.Users; 0 for none
	exp    int64 // while on hold: the expiry in Unix ms, maybe passed
}

// cart is what the cap knows of one buyer's holds in the event: when the
// cart started, and the latest expiry given to one of its holds.
type cart struct {
	start, until int64
	set          bool // the buyer ever held a seat of the event
}

// state is one event: its seats and the carts of its buyers, and the
// floor of the moments of the operations to come.
type state struct {
	seats [MaxTotalSeats]seat
	carts [MaxUsers]cart
	floor int64
}

// Model returns the porcupine model, partitioned by event.
func (r Rules) Model() porcupine.Model {
	if r.TotalSeats < 1 || r.TotalSeats > MaxTotalSeats || r.SeatsPerRow < 1 || r.SeatsPerRow > r.TotalSeats ||
		len(r.Users) > MaxUsers || r.TTLMs < 1 || r.MaxSeats < 1 || r.MaxLifetimeMs != 0 && r.MaxLifetimeMs < r.TTLMs {
		panic(fmt.Sprintf("seatmodel: unsupported rules %+v", r))
	}
	seed := maphash.MakeSeed()
	// Nondeterministic: an answer that does not pin its moment down may
	// leave different states at different moments of its interval (a
	// reserve ends its buyer's cart only if no other hold of theirs is live
	// then), and each of them may be the store's.
	m := porcupine.NondeterministicModel{
		Partition: partition,
		Init:      func() []any { return []any{state{}} },
		Step: func(s, in, out any) []any {
			return r.step(s.(state), in.(Input), out.(Output))
		},
		Hash: func(s any) uint64 { return maphash.Comparable(seed, s.(state)) },
		DescribeOperation: func(in, out any) string {
			return describe(in.(Input), out.(Output))
		},
		DescribeState: func(s any) string { return r.describeState(s.(state)) },
	}
	return m.ToModel()
}

func partition(history []porcupine.Operation) [][]porcupine.Operation {
	var order []string
	byEvent := make(map[string][]porcupine.Operation)
	for _, op := range history {
		e := op.Input.(Input).Event
		if _, ok := byEvent[e]; !ok {
			order = append(order, e)
		}
		byEvent[e] = append(byEvent[e], op)
	}
	parts := make([][]porcupine.Operation, len(order))
	for i, e := range order {
		parts[i] = byEvent[e]
	}
	return parts
}

// step returns the states after one operation on s, one for each moment
// in [CallMs, ReturnMs] at which out is the answer the rules give, without
// repeats; none if there is no such moment.
func (r Rules) step(s state, in Input, out Output) []any {
	lo, hi := max(in.CallMs, s.floor), in.ReturnMs
	if out.Unknown {
		return r.unknown(s, in)
	}
	if in.Replay != nil {
		if equal(*in.Replay, out) {
			if lo <= hi {
				return []any{r.after(s, in)} // answered from the key
			}
			return nil
		}
		lo = max(lo, in.FirstCallMs+r.IdemTTLMs) // the key was forgotten
	}
	if lo > hi || !r.valid(in) {
		return nil
	}
	user := r.user(in.User)
	if user == 0 && in.Kind != Get && in.Kind != List && in.Kind != Summary {
		return nil
	}
	var buf [2*MaxTotalSeats + 3*MaxUsers + 1]int64
	var nexts []any
	for _, t := range r.moments(buf[:0], s, out, lo, hi) {
		if got, next := r.apply(s, in, user, t); equal(got, out) {
			if next := r.after(next, in); !slices.Contains(nexts, any(next)) {
				nexts = append(nexts, next)
			}
		}
	}
	return nexts
}

// after raises the floor of s to the call of in, which took effect, and
// forgets what cannot matter above it: holds expired, and carts whose
// holds have all expired and whose cool-down, if any, is over.
func (r Rules) after(s state, in Input) state {
	s.floor = max(s.floor, in.CallMs)
	for i, c := range s.seats[:r.TotalSeats] {
		if c.status == OnHold && c.exp <= s.floor {
			s.seats[i] = seat{}
		}
	}
	for i, c := range s.carts[:len(r.Users)] {
		if c.set && c.until <= s.floor && (c.until != r.end(c) || c.until+r.TTLMs <= s.floor) {
			s.carts[i] = cart{}
		}
	}
	return s
}

// unknown returns the states after a change of unknown outcome: s, as if
// it never took effect, and those after it at each moment to try, whatever
// the rules answered then. A repeat of an Idempotency-Key's request either
// got the kept answer, which changes nothing, or was made anew once the
// key was forgotten.
func (r Rules) unknown(s state, in Input) []any {
	nexts := []any{s}
	lo := max(in.CallMs, s.floor)
	if in.Replay != nil {
		lo = max(lo, in.FirstCallMs+r.IdemTTLMs)
	}
	user := r.user(in.User)
	if lo > in.UntilMs || !r.valid(in) || user == 0 {
		return nexts
	}
	ms := []int64{lo}
	for _, t := range in.Moments {
		if lo < t && t <= in.UntilMs {
			ms = append(ms, t)
		}
	}
	for _, sp := range in.Spans {
		if from, to := max(lo, sp.FromMs), min(in.UntilMs, sp.ToMs); from <= to {
			ms = r.moments(ms, s, Output{}, from, to)
		}
	}
	for _, t := range ms {
		_, next := r.apply(s, in, user, t)
		if next = r.after(next, in); !slices.Contains(nexts, any(next)) {
			nexts = append(nexts, next)
		}
	}
	return nexts
}

// AddMoments fills the Moments of the operations of unknown outcome in
// history: those that the expiries in the answers of their event pin
// down. An expiry of a seat held by a buyer is a TTL after the hold or
// refresh that gave it, if the cap did not cut it short, and a cart's
// lifetime after the buyer's cart started, if it did: so each is a moment
// for the buyer's changes of unknown outcome that may hold or refresh
// that seat, and the second one for all of the buyer's. Only the seats
// that an operation may touch count, or the choices would multiply for
// nothing. Between them, and the moments the model tries anyway, a change
// of unknown outcome that no answer shows the expiry of is taken at the
// nearest.
func (r Rules) AddMoments(history []porcupine.Operation) {
	type buyer struct {
		event string
		user  string
	}
	type held struct {
		buyer
		seat int
	}
	byHold, byCart := map[held][]int64{}, map[buyer][]int64{}
	answered := map[string][]Input{}
	for _, op := range history {
		in := op.Input.(Input)
		if !op.Output.(Output).Unknown {
			answered[in.Event] = append(answered[in.Event], in)
		}
		for _, o := range op.Output.(Output).Seats {
			if o.Status == OnHold {
				b := buyer{in.Event, o.Holder}
				byHold[held{b, o.Number}] = append(byHold[held{b, o.Number}], o.ExpiresMs-r.TTLMs)
				if r.MaxLifetimeMs > 0 {
					byCart[b] = append(byCart[b], o.ExpiresMs-r.MaxLifetimeMs)
				}
			}
		}
	}
	for i, op := range history {
		in := op.Input.(Input)
		if !op.Output.(Output).Unknown {
			continue
		}
		b := buyer{in.Event, in.User}
		seats := r.reach(in)
		ms := slices.Clone(byCart[b])
		for _, n := range seats {
			ms = append(ms, byHold[held{b, n}]...)
		}
		ms = append(ms, in.Moments...)
		if len(in.Spans) > 0 {
			// The operations that can tell when it was made: the
			// buyer's (its limit counts the holds), and those that
			// look at its seats.
			var seen []Input
			for _, o := range answered[in.Event] {
				if o.User == in.User || slices.ContainsFunc(r.reach(o), func(n int) bool { return slices.Contains(seats, n) }) {
					seen = append(seen, o)
				}
			}
			for _, sp := range in.Spans {
				ms = append(ms, r.spanMoments(sp, seen)...)
			}
		}
		ms = slices.DeleteFunc(ms, func(t int64) bool { return t <= in.CallMs || t > in.UntilMs })
		slices.Sort(ms)
		in.Moments = slices.Compact(ms)
		history[i].Input = in
	}
}

// spanMoments returns the moments of span sp at which to try a change of
// unknown outcome, as far as the answered operations ops can tell them
// apart: a hold made at t ends a TTL later, and an operation o sees it
// live all along when t+TTL > o.ReturnMs, ended all along when t+TTL <=
// o.CallMs, and either between. Those cases change at t = o.CallMs-TTL+1
// and o.ReturnMs-TTL+1, so the start of sp and each such moment within it
// stand for all of sp. (unknown adds the moments at which the state's own
// holds end.) A cart begun in sp ends at its cap a lifetime later, which
// would add as many moments again; they are left out, as the search then
// took up to 53 s in 11 runs of the frozen Redis's history (up to 40 s
// in 26 without them), and a change tried at a moment near its own can
// only make a correct history fail, not a wrong one pass.
func (r Rules) spanMoments(sp Span, ops []Input) []int64 {
	ms := []int64{sp.FromMs}
	d := r.TTLMs
	for _, o := range ops {
		for _, t := range []int64{o.CallMs - d + 1, o.ReturnMs - d + 1} {
			if sp.FromMs < t && t <= sp.ToMs {
				ms = append(ms, t)
			}
		}
	}
	return ms
}

// reach returns the seats that in may change or look at.
func (r Rules) reach(in Input) []int {
	switch in.Kind {
	case Hold, Refresh, Reserve, Get:
		return []int{in.Seat}
	case HoldSeats, ReserveSeats:
		return in.Seats
	case Release:
		if in.Seats != nil {
			return in.Seats
		}
	}
	return r.all()
}

// all returns every seat number of an event.
func (r Rules) all() []int {
	seats := make([]int, r.TotalSeats)
	for i := range seats {
		seats[i] = i + 1
	}
	return seats
}

// moments returns the moments in [lo, hi] at which to try an answer: lo,
// and each moment in (lo, hi] at which something the rules look at
// changes: a hold expires, a cart's holds reach its cap, a cool-down
// starts or ends, or out's expiries are a TTL away. Between two of them
// the rules give the same answer, but for the expiry of a hold taken or
// extended then, which pins its moment.
func (r Rules) moments(ms []int64, s state, out Output, lo, hi int64) []int64 {
	ms = append(ms, lo)
	add := func(t int64) {
		if lo < t && t <= hi {
			ms = append(ms, t)
		}
	}
	for _, c := range s.seats[:r.TotalSeats] {
		if c.status == OnHold {
			add(c.exp)
		}
	}
	for _, c := range s.carts[:len(r.Users)] {
		if c.set && r.MaxLifetimeMs > 0 {
			add(c.until)
			add(c.until + r.TTLMs)
			add(c.start + r.MaxLifetimeMs - r.TTLMs)
		}
	}
	for _, o := range out.Seats {
		if o.Status == OnHold {
			add(o.ExpiresMs - r.TTLMs)
		}
	}
	return ms
}

// valid reports whether in is a request the service accepts, so that it
// gets an answer of the rules.
func (r Rules) valid(in Input) bool {
	switch in.Kind {
	case Hold, Refresh, Reserve, Get:
		return 1 <= in.Seat && in.Seat <= r.TotalSeats
	case HoldSeats, ReserveSeats:
		return len(in.Seats) > 0 && r.distinct(in.Seats)
	case Release:
		return in.Seats == nil || len(in.Seats) > 0 && r.distinct(in.Seats)
	case HoldBest:
		return 1 <= in.Best.Count && in.Best.Count <= r.MaxSeats
	}
	return true
}

func (r Rules) distinct(seats []int) bool {
	if len(seats) > r.MaxSeats {
		return false
	}
	var seen uint64
	for _, n := range seats {
		if n < 1 || n > r.TotalSeats || seen&(1<<n) != 0 {
			return false
		}
		seen |= 1 << n
	}
	return true
}

func (r Rules) user(name string) uint8 {
	if i := slices.Index(r.Users, name); i >= 0 {
		return uint8(i + 1)
	}
	return 0
}

// apply gives the answer to in at moment t, and the state after it.
func (r Rules) apply(s state, in Input, u uint8, t int64) (Output, state) {
	switch in.Kind {
	case Hold:
		return bare(r.hold(s, []int{in.Seat}, u, t))
	case Refresh:
		return bare(r.refresh(s, []int{in.Seat}, u, t))
	case Reserve:
		return bare(r.reserve(s, []int{in.Seat}, u, t))
	case Get:
		return Output{Seats: []SeatOut{r.show(in.Seat, s.seats[in.Seat-1].at(t))}}, s
	case List:
		var free uint64
		for i, c := range s.seats[:r.TotalSeats] {
			if c.at(t).status == Available {
				free |= 1 << i
			}
		}
		return Output{Free: free}, s
	case Summary:
		n := Counts{Total: r.TotalSeats}
		for _, c := range s.seats[:r.TotalSeats] {
			switch c.at(t).status {
			case Available:
				n.Available++
			case OnHold:
				n.OnHold++
			case Reserved:
				n.Reserved++
			}
		}
		return Output{Counts: n}, s
	case HoldSeats:
		return r.hold(s, in.Seats, u, t)
	case HoldBest:
		return r.holdBest(s, in.Best, u, t)
	case Release:
		return r.release(s, in.Seats, u, t)
	case ReserveSeats:
		return r.reserve(s, in.Seats, u, t)
	case RefreshCart:
		return r.refresh(s, r.heldBy(s, u, t), u, t)
	}
	return Output{Code: "?"}, s
}

// bare drops the seats a refusal names: the original API's answers name
// none.
func bare(out Output, s state) (Output, state) {
	if out.Code != "" {
		out.Seats = nil
	}
	return out, s
}

func refusal(code string, seats []int) Output {
	out := Output{Code: code}
	for _, n := range seats {
		out.Seats = append(out.Seats, SeatOut{Number: n})
	}
	return out
}

// hold puts seats on hold for u, all or none: a seat u holds already is
// extended, and counted once against the limit.
func (r Rules) hold(s state, seats []int, u uint8, t int64) (Output, state) {
	var reserved, held []int
	own := 0
	for _, n := range seats {
		switch c := s.seats[n-1].at(t); {
		case c.status == Reserved:
			reserved = append(reserved, n)
		case c.status == OnHold && c.holder != u:
			held = append(held, n)
		case c.status == OnHold:
			own++
		}
	}
	if reserved != nil {
		return refusal(CodeSeatReserved, reserved), s
	}
	if held != nil {
		return refusal(CodeSeatHeld, held), s
	}
	others := r.live(s, u, t) - own
	c := s.carts[u-1]
	if others+own == 0 && !(c.set && t < c.until) {
		// Nothing held, and nothing released that would still be live: a
		// new cart, unless the last one reached its cap less than a TTL
		// ago.
		if r.coolingDown(c, t) {
			return Output{Code: CodeHoldLifetime}, s
		}
		c = cart{start: t, until: t, set: true}
	}
	if others+len(seats) > r.MaxSeats {
		return Output{Code: CodeHoldLimit}, s
	}
	exp := r.expiry(c, t)
	out := Output{Seats: make([]SeatOut, len(seats))}
	for i, n := range seats {
		s.seats[n-1] = seat{status: OnHold, holder: u, exp: exp}
		out.Seats[i] = r.show(n, s.seats[n-1])
	}
	c.until = max(c.until, exp)
	s.carts[u-1] = c
	return out, s
}

// holdBest holds the seats the server picks: the first run of b.Count
// available seats within a row, else (when b.Adjacent is false) the
// b.Count lowest-numbered available seats. The cart is checked first.
func (r Rules) holdBest(s state, b Best, u uint8, t int64) (Output, state) {
	live := r.live(s, u, t)
	if live == 0 && r.coolingDown(s.carts[u-1], t) {
		return Output{Code: CodeHoldLifetime}, s
	}
	if live+b.Count > r.MaxSeats {
		return Output{Code: CodeHoldLimit}, s
	}
	free := func(n int) bool { return s.seats[n-1].at(t).status == Available }
	var picked []int
	for row := 0; row*r.SeatsPerRow < r.TotalSeats && picked == nil; row++ {
		first, last := row*r.SeatsPerRow+1, min((row+1)*r.SeatsPerRow, r.TotalSeats)
		run := 0
		for n := first; n <= last; n++ {
			if run++; !free(n) {
				run = 0
			}
			if run == b.Count {
				for k := n - b.Count + 1; k <= n; k++ {
					picked = append(picked, k)
				}
				break
			}
		}
	}
	if picked == nil && !b.Adjacent {
		for n := 1; n <= r.TotalSeats && len(picked) < b.Count; n++ {
			if free(n) {
				picked = append(picked, n)
			}
		}
	}
	if len(picked) < b.Count {
		return Output{Code: CodeNotEnoughSeats}, s
	}
	return r.hold(s, picked, u, t)
}

// refresh extends u's live holds on seats to a TTL from t, within the
// cart's cap, never shortening one. Refusals: no seats, or one not on hold
// (NOT_ON_HOLD), then one held by another (NOT_HOLDER), then nothing to
// extend because every hold lasts until the cap.
func (r Rules) refresh(s state, seats []int, u uint8, t int64) (Output, state) {
	if len(seats) == 0 {
		return Output{Code: CodeNotOnHold}, s
	}
	var notHeld, others []int
	for _, n := range seats {
		switch c := s.seats[n-1].at(t); {
		case c.status != OnHold:
			notHeld = append(notHeld, n)
		case c.holder != u:
			others = append(others, n)
		}
	}
	if notHeld != nil {
		return refusal(CodeNotOnHold, notHeld), s
	}
	if others != nil {
		return refusal(CodeNotHolder, others), s
	}
	c := s.carts[u-1]
	exp := r.expiry(c, t)
	extended := false
	out := Output{Seats: make([]SeatOut, len(seats))}
	for i, n := range seats {
		if s.seats[n-1].exp < exp {
			s.seats[n-1].exp = exp
			extended = true
		}
		out.Seats[i] = r.show(n, s.seats[n-1])
	}
	if !extended && exp == r.end(c) {
		return Output{Code: CodeHoldLifetime}, s
	}
	c.until = max(c.until, exp)
	s.carts[u-1] = c
	return out, s
}

// reserve turns u's live holds on seats into reservations, all or none; a
// seat u reserved already counts as done.
func (r Rules) reserve(s state, seats []int, u uint8, t int64) (Output, state) {
	var refused []int
	for _, n := range seats {
		c := s.seats[n-1].at(t)
		if c.status == Available || c.holder != u {
			refused = append(refused, n)
		}
	}
	if refused != nil {
		return refusal(CodeNoLiveHold, refused), s
	}
	out := Output{Seats: make([]SeatOut, len(seats))}
	took := false
	for i, n := range seats {
		took = took || s.seats[n-1].at(t).status == OnHold
		s.seats[n-1] = seat{status: Reserved, holder: u}
		out.Seats[i] = r.show(n, s.seats[n-1])
	}
	// A reserve that leaves no live hold ends the cart, unless it reached
	// its cap; a release keeps it.
	if c := s.carts[u-1]; took && r.live(s, u, t) == 0 && c.until != r.end(c) {
		s.carts[u-1] = cart{}
	}
	return out, s
}

// release gives back the seats that u holds live at t, and answers them;
// with no seats, every one of them, in ascending order.
func (r Rules) release(s state, seats []int, u uint8, t int64) (Output, state) {
	if seats == nil {
		seats = r.heldBy(s, u, t)
	}
	out := Output{Seats: []SeatOut{}}
	for _, n := range seats {
		if c := s.seats[n-1].at(t); c.status == OnHold && c.holder == u {
			s.seats[n-1] = seat{}
			out.Seats = append(out.Seats, SeatOut{Number: n, Status: Available})
		}
	}
	return out, s
}

// at is the seat at moment t: an expired hold leaves it available.
func (c seat) at(t int64) seat {
	if c.status == OnHold && t >= c.exp {
		return seat{}
	}
	return c
}

func (r Rules) show(n int, c seat) SeatOut {
	o := SeatOut{Number: n, Status: c.status}
	if c.holder > 0 {
		o.Holder = r.Users[c.holder-1]
	}
	if c.status == OnHold {
		o.ExpiresMs = c.exp
	}
	return o
}

// live counts u's live holds at t.
func (r Rules) live(s state, u uint8, t int64) int {
	n := 0
	for _, c := range s.seats[:r.TotalSeats] {
		if c = c.at(t); c.status == OnHold && c.holder == u {
			n++
		}
	}
	return n
}

// heldBy returns the seats u holds live at t, in ascending order.
func (r Rules) heldBy(s state, u uint8, t int64) []int {
	var seats []int
	for i, c := range s.seats[:r.TotalSeats] {
		if c = c.at(t); c.status == OnHold && c.holder == u {
			seats = append(seats, i+1)
		}
	}
	return seats
}

// end is the moment no hold of the cart may outlast.
func (r Rules) end(c cart) int64 {
	if r.MaxLifetimeMs == 0 {
		return math.MaxInt64
	}
	return c.start + r.MaxLifetimeMs
}

// expiry is the expiry of a hold of cart c taken or extended at t.
func (r Rules) expiry(c cart, t int64) int64 { return min(t+r.TTLMs, r.end(c)) }

// coolingDown reports whether at t the buyer of c may not start a cart:
// c reached its cap (a hold was given its last moment) less than a TTL
// before t.
func (r Rules) coolingDown(c cart, t int64) bool {
	return c.set && r.MaxLifetimeMs > 0 && c.until == r.end(c) && c.until <= t && t < c.until+r.TTLMs
}

func equal(a, b Output) bool {
	return a.Unknown == b.Unknown && a.Code == b.Code && a.Free == b.Free && a.Counts == b.Counts && slices.Equal(a.Seats, b.Seats)
}

func describe(in Input, out Output) string {
	var b strings.Builder
	b.WriteString(in.Kind.String())
	var args []string
	switch in.Kind {
	case Hold, Refresh, Reserve, Get:
		args = append(args, fmt.Sprint(in.Seat))
	case HoldSeats, ReserveSeats, Release:
		if in.Seats != nil {
			args = append(args, fmt.Sprint(in.Seats))
		}
	case HoldBest:
		best := fmt.Sprintf("best %d", in.Best.Count)
		if in.Best.Adjacent {
			best += " adjacent"
		}
		args = append(args, best)
	}
	if in.User != "" {
		args = append(args, fmt.Sprintf("%q", in.User))
	}
	if in.Kind != List && in.Kind != Summary {
		fmt.Fprintf(&b, "(%s)", strings.Join(args, ", "))
	}
	if in.Replay != nil {
		fmt.Fprintf(&b, " again (first called at %d, answered %s)", in.FirstCallMs, describeOutput(in.Kind, *in.Replay))
	}
	fmt.Fprintf(&b, " [%d..%d] -> %s", in.CallMs, in.ReturnMs, describeOutput(in.Kind, out))
	if out.Unknown && in.UntilMs != math.MaxInt64 {
		fmt.Fprintf(&b, ", made until %d or never", in.UntilMs)
	}
	return b.String()
}

func describeOutput(k Kind, out Output) string {
	var b strings.Builder
	switch {
	case out.Unknown:
		b.WriteString("unknown")
	case out.Code != "":
		b.WriteString(out.Code)
		if len(out.Seats) > 0 {
			b.WriteString(" ")
			b.WriteString(numbers(out.Seats))
		}
	case k == List:
		fmt.Fprintf(&b, "free %b", out.Free)
	case k == Summary:
		fmt.Fprintf(&b, "%+v", out.Counts)
	default:
		for i, o := range out.Seats {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%d %s", o.Number, o.Status)
			if o.Holder != "" {
				fmt.Fprintf(&b, " %q", o.Holder)
			}
			if o.Status == OnHold {
				fmt.Fprintf(&b, " until %d", o.ExpiresMs)
			}
		}
		if len(out.Seats) == 0 {
			b.WriteString("none")
		}
	}
	return b.String()
}

func numbers(seats []SeatOut) string {
	ns := make([]string, len(seats))
	for i, o := range seats {
		ns[i] = fmt.Sprint(o.Number)
	}
	return "[" + strings.Join(ns, " ") + "]"
}

func (r Rules) describeState(s state) string {
	var b strings.Builder
	for i, c := range s.seats[:r.TotalSeats] {
		fmt.Fprintf(&b, "%d:%s", i+1, c.status)
		if c.holder > 0 {
			fmt.Fprintf(&b, " %q", r.Users[c.holder-1])
		}
		if c.status == OnHold {
			fmt.Fprintf(&b, " until %d", c.exp)
		}
		b.WriteString("; ")
	}
	for i, c := range s.carts[:len(r.Users)] {
		if c.set {
			fmt.Fprintf(&b, "cart of %q: %d..%d; ", r.Users[i], c.start, c.until)
		}
	}
	return b.String()
}
