// Package seatmodel is the sequential specification of the seat rules that
// histories recorded over HTTP are checked against with porcupine: a history
// is correct if its operations can be put in one order, consistent with their
// real-time order, in which each answer is the one this model gives.
//
// It restates the rules of the contract independently of package domain, so
// a bug there is not copied into the check. Time is part of the rules (holds
// expire), and the service reads it from the store's clock (Redis's TIME, or
// the process clock of the in-memory store), which on one machine is the
// clock the recorder reads. So an operation took effect at some millisecond
// between the ones at which it was called and answered: answers that carry a
// hold's expiry pin that moment down, the others need only one moment in the
// interval at which the answer is right.
//
// The model does not ask that those moments grow along the order it finds:
// that would make concurrent holds of different seats stop commuting, and
// the search for an order explode, for a property of the store's clock, not
// of the service.
package seatmodel

import (
	"fmt"
	"hash/maphash"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Kind is what an operation does.
type Kind uint8

// The operations of a history: the three changes and the two reads.
const (
	Hold Kind = iota
	Refresh
	Reserve
	Get
	List
)

var kindNames = [...]string{"hold", "refresh", "reserve", "get", "list"}

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

// MaxHot is the most seats of one event a history may change: the model
// keeps them in an array, so that states compare with ==.
const MaxHot = 8

// Input is one request. CallMs and ReturnMs are the milliseconds of Unix
// time at which it was sent and its answer received.
type Input struct {
	Event    string
	Kind     Kind
	Seat     int    // 1..Hot; none for List
	User     string // for the changes
	CallMs   int64
	ReturnMs int64
}

// Output is an answer. Code is empty for a 200, else the error code. A seat
// answer (every 200 but List's) fills Status, Holder and ExpiresMs (the
// hold's expiry in Unix milliseconds, for a seat on hold); List's fills
// Free, whose bit n-1 says seat n was listed.
type Output struct {
	Code      string
	Status    Status
	Holder    string
	ExpiresMs int64
	Free      uint64
}

// The refusals a history may contain; any other is wrong.
const (
	CodeSeatHeld     = "SEAT_HELD"
	CodeSeatReserved = "SEAT_RESERVED"
	CodeHoldLimit    = "HOLD_LIMIT_REACHED"
	CodeNotHolder    = "NOT_HOLDER"
	CodeNotOnHold    = "NOT_ON_HOLD"
	CodeNoLiveHold   = "NO_LIVE_HOLD"
)

// Rules are the parameters of the service and of the events under test.
// Every event has TotalSeats seats, of which only 1..Hot are ever changed.
type Rules struct {
	TTLMs      int64
	MaxSeats   int
	TotalSeats int
	Hot        int
}

type seat struct {
	status Status
	holder string
	exp    int64 // while on hold: the expiry in Unix ms, maybe passed
}

// state is one event: its hot seats.
type state [MaxHot]seat

// Model returns the porcupine model, partitioned by event.
func (r Rules) Model() porcupine.Model {
	if r.Hot < 1 || r.Hot > MaxHot || r.Hot > r.TotalSeats || r.TotalSeats > 64 {
		panic(fmt.Sprintf("seatmodel: unsupported rules %+v", r))
	}
	seed := maphash.MakeSeed()
	return porcupine.Model{
		Partition: partition,
		Init:      func() any { return state{} },
		Step: func(s, in, out any) (bool, any) {
			return r.step(s.(state), in.(Input), out.(Output))
		},
		Hash: func(s any) uint64 { return maphash.Comparable(seed, s.(state)) },
		DescribeOperation: func(in, out any) string {
			return describe(in.(Input), out.(Output))
		},
		DescribeState: func(s any) string { return r.describeState(s.(state)) },
	}
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

// step applies one operation to s if out is an answer the rules allow.
func (r Rules) step(s state, in Input, out Output) (bool, state) {
	// The moments at which the operation may have taken effect.
	lo, hi := in.CallMs, in.ReturnMs
	if lo > hi {
		return false, s
	}
	if in.Kind == List {
		return out.Code == "" && r.listed(s, out.Free, lo, hi), s
	}
	if in.Seat < 1 || in.Seat > r.Hot {
		return false, s
	}
	cur := s[in.Seat-1]
	switch in.Kind {
	case Hold:
		return r.hold(s, in, out, lo, hi)
	case Refresh:
		return r.refresh(s, in, out, lo, hi)
	case Reserve:
		return r.reserve(s, in, out, lo, hi)
	case Get:
		return out.Code == "" && r.read(cur, out, lo, hi), s
	}
	return false, s
}

func (r Rules) hold(s state, in Input, out Output, lo, hi int64) (bool, state) {
	cur := s[in.Seat-1]
	switch out.Code {
	case "":
		now, ok := r.holdMoment(in, out, lo, hi)
		if !ok || cur.status == Reserved {
			return false, s
		}
		if cur.live(now) {
			if cur.holder != in.User {
				return false, s
			}
			// A retry extends the hold and is not counted again.
		} else if r.holds(s, in.User, now) >= r.MaxSeats {
			return false, s
		}
		s[in.Seat-1] = seat{status: OnHold, holder: in.User, exp: out.ExpiresMs}
		return true, s
	case CodeSeatReserved:
		return cur.status == Reserved, s
	case CodeSeatHeld:
		return cur.status == OnHold && cur.holder != in.User && lo < cur.exp, s
	case CodeHoldLimit:
		// The seat must be free (never held, or its hold expired) at a
		// moment when the user holds the limit elsewhere. Expiry only frees
		// seats and lowers counts, so the earliest free moment decides.
		if cur.status == Reserved {
			return false, s
		}
		now := lo
		if cur.status == OnHold {
			now = max(lo, cur.exp)
		}
		return now <= hi && r.holds(s, in.User, now) >= r.MaxSeats, s
	}
	return false, s
}

func (r Rules) refresh(s state, in Input, out Output, lo, hi int64) (bool, state) {
	cur := s[in.Seat-1]
	switch out.Code {
	case "":
		now, ok := r.holdMoment(in, out, lo, hi)
		if !ok || !cur.live(now) || cur.holder != in.User {
			return false, s
		}
		s[in.Seat-1].exp = out.ExpiresMs
		return true, s
	case CodeNotOnHold:
		return cur.status != OnHold || max(lo, cur.exp) <= hi, s
	case CodeNotHolder:
		return cur.status == OnHold && cur.holder != in.User && lo < cur.exp, s
	}
	return false, s
}

func (r Rules) reserve(s state, in Input, out Output, lo, hi int64) (bool, state) {
	cur := s[in.Seat-1]
	switch out.Code {
	case "":
		if out.Status != Reserved || out.Holder != in.User {
			return false, s
		}
		if cur.status == Reserved {
			return cur.holder == in.User, s // a retry
		}
		if cur.status != OnHold || cur.holder != in.User || lo >= cur.exp {
			return false, s
		}
		s[in.Seat-1] = seat{status: Reserved, holder: in.User}
		return true, s
	case CodeNoLiveHold:
		switch {
		case cur.status == Reserved:
			return cur.holder != in.User, s
		case cur.status == OnHold && cur.holder == in.User:
			return max(lo, cur.exp) <= hi, s // it expired in time
		}
		return true, s
	}
	return false, s
}

// holdMoment checks that out puts the seat on hold for in's user and returns
// the moment the hold was taken, which its expiry reveals.
func (r Rules) holdMoment(in Input, out Output, lo, hi int64) (int64, bool) {
	now := out.ExpiresMs - r.TTLMs
	ok := out.Status == OnHold && out.Holder == in.User && lo <= now && now <= hi
	return now, ok
}

// read reports whether a seat answer shows cur at some moment in [lo, hi].
func (r Rules) read(cur seat, out Output, lo, hi int64) bool {
	switch out.Status {
	case Available:
		return out.Holder == "" && (cur.status == Available || cur.status == OnHold && max(lo, cur.exp) <= hi)
	case OnHold:
		return cur.status == OnHold && out.Holder == cur.holder && out.ExpiresMs == cur.exp && lo < cur.exp
	case Reserved:
		return cur.status == Reserved && out.Holder == cur.holder
	}
	return false
}

// listed reports whether free is the set of available seats at one moment
// in [lo, hi]: a listed hold must have expired by then, an unlisted one not.
func (r Rules) listed(s state, free uint64, lo, hi int64) bool {
	all := uint64(1)<<r.TotalSeats - 1
	hot := uint64(1)<<r.Hot - 1
	if free&^all != 0 || free&(all&^hot) != all&^hot {
		return false // an untouched seat missing, or a seat that does not exist
	}
	for i, cur := range s[:r.Hot] {
		listed := free&(1<<i) != 0
		switch {
		case cur.status == Available && !listed, cur.status == Reserved && listed:
			return false
		case cur.status == OnHold && listed:
			lo = max(lo, cur.exp)
		case cur.status == OnHold:
			hi = min(hi, cur.exp-1)
		}
	}
	return lo <= hi
}

func (c seat) live(now int64) bool { return c.status == OnHold && now < c.exp }

// holds counts user's live holds at now.
func (r Rules) holds(s state, user string, now int64) int {
	n := 0
	for _, c := range s[:r.Hot] {
		if c.live(now) && c.holder == user {
			n++
		}
	}
	return n
}

func describe(in Input, out Output) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", in.Kind)
	if in.Kind != List {
		fmt.Fprintf(&b, "(%d", in.Seat)
		if in.User != "" {
			fmt.Fprintf(&b, ", %q", in.User)
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, " [%d..%d] -> ", in.CallMs, in.ReturnMs)
	switch {
	case out.Code != "":
		b.WriteString(out.Code)
	case in.Kind == List:
		fmt.Fprintf(&b, "free %b", out.Free)
	default:
		fmt.Fprintf(&b, "%s %q", out.Status, out.Holder)
		if out.Status == OnHold {
			fmt.Fprintf(&b, " until %d", out.ExpiresMs)
		}
	}
	return b.String()
}

func (r Rules) describeState(s state) string {
	var b strings.Builder
	for i, c := range s[:r.Hot] {
		fmt.Fprintf(&b, "%d:%s", i+1, c.status)
		if c.status != Available {
			fmt.Fprintf(&b, " %q", c.holder)
		}
		if c.status == OnHold {
			fmt.Fprintf(&b, " until %d", c.exp)
		}
		b.WriteString("; ")
	}
	return b.String()
}
