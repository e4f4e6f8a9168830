package seatmodel

import (
	"math"
	"testing"

	"github.com/anishathalye/porcupine"
)

// rules of the hand-written histories of the original API: holds last
// 100 ms, one per user, no cap.
var rules = Rules{TTLMs: 100, MaxSeats: 1, TotalSeats: 10, SeatsPerRow: 10, Users: []string{"a", "b", "c"}}

// cartRules are those of the carts' histories: three seats per user, rows
// of four seats (1-4, 5-8, 9-10), and carts that last 250 ms at most.
var cartRules = Rules{TTLMs: 100, MaxLifetimeMs: 250, IdemTTLMs: 250, MaxSeats: 3, TotalSeats: 10, SeatsPerRow: 4, Users: []string{"a", "b", "c"}}

const event = "e"

// op is an operation between the milliseconds call and ret.
func op(call, ret int64, in Input, out Output) porcupine.Operation {
	in.Event, in.CallMs, in.ReturnMs = event, call, ret
	return porcupine.Operation{Input: in, Output: out, Call: call, Return: ret}
}

func hold(seat int, user string) Input    { return Input{Kind: Hold, Seat: seat, User: user} }
func refresh(seat int, user string) Input { return Input{Kind: Refresh, Seat: seat, User: user} }
func reserve(seat int, user string) Input { return Input{Kind: Reserve, Seat: seat, User: user} }
func get(seat int) Input                  { return Input{Kind: Get, Seat: seat} }

func holdSeats(user string, seats ...int) Input {
	return Input{Kind: HoldSeats, Seats: seats, User: user}
}
func reserveSeats(user string, seats ...int) Input {
	return Input{Kind: ReserveSeats, Seats: seats, User: user}
}
func release(user string, seats ...int) Input { return Input{Kind: Release, Seats: seats, User: user} }
func releaseAll(user string) Input            { return Input{Kind: Release, User: user} }
func refreshCart(user string) Input           { return Input{Kind: RefreshCart, User: user} }
func best(user string, count int, adjacent bool) Input {
	return Input{Kind: HoldBest, Best: Best{Count: count, Adjacent: adjacent}, User: user}
}

// again is in sent again with the Idempotency-Key of a request first
// called at first and answered out.
func again(in Input, first int64, out Output) Input {
	in.Replay, in.FirstCallMs = &out, first
	return in
}

var (
	list    = Input{Kind: List}
	summary = Input{Kind: Summary}
)

// Seats in answers.
func held(n int, user string, until int64) SeatOut {
	return SeatOut{Number: n, Status: OnHold, Holder: user, ExpiresMs: until}
}
func reservedBy(n int, user string) SeatOut {
	return SeatOut{Number: n, Status: Reserved, Holder: user}
}
func free1(n int) SeatOut { return SeatOut{Number: n, Status: Available} }

// Answers.
func seats(s ...SeatOut) Output { return Output{Seats: append([]SeatOut{}, s...)} }
func onHold(n int, user string, until int64) Output {
	return seats(held(n, user, until))
}
func reserved(n int, user string) Output { return seats(reservedBy(n, user)) }
func available(n int) Output             { return seats(free1(n)) }
func refused(code string, named ...int) Output {
	out := Output{Code: code}
	for _, n := range named {
		out.Seats = append(out.Seats, SeatOut{Number: n})
	}
	return out
}
func counts(avail, onHold, reserved int) Output {
	return Output{Counts: Counts{Total: 10, Available: avail, OnHold: onHold, Reserved: reserved}}
}

// free lists the given seats.
func free(seats ...int) Output {
	var f uint64
	for _, n := range seats {
		f |= 1 << (n - 1)
	}
	return Output{Free: f}
}

// freeBut lists every seat but the given ones.
func freeBut(seats ...int) Output {
	f := uint64(1)<<10 - 1
	for _, n := range seats {
		f &^= 1 << (n - 1)
	}
	return Output{Free: f}
}

type history struct {
	name string
	ops  []porcupine.Operation
	want bool
}

func checkHistories(t *testing.T, r Rules, tests []history) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, info := porcupine.CheckOperationsVerbose(r.Model(), tt.ops, 0)
			if got := res == porcupine.Ok; got != tt.want {
				t.Errorf("linearizable = %v, want %v", got, tt.want)
				if !got {
					for _, part := range info.PartialLinearizations() {
						for _, lin := range part {
							t.Logf("longest order found: %d of %d operations", len(lin), len(tt.ops))
							break
						}
					}
				}
			}
		})
	}
}

func TestModel(t *testing.T) {
	t.Parallel()
	checkHistories(t, rules, []history{
		{"hold, refusals, reserve", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
			op(2, 3, get(1), onHold(1, "a", 101)),
			op(4, 5, hold(1, "b"), refused(CodeSeatHeld)),
			op(4, 5, refresh(1, "b"), refused(CodeNotHolder)),
			op(4, 5, reserve(1, "b"), refused(CodeNoLiveHold)),
			op(6, 7, refresh(1, "a"), onHold(1, "a", 107)),
			op(8, 9, list, freeBut(1)),
			op(10, 11, reserve(1, "a"), reserved(1, "a")),
			op(12, 13, reserve(1, "a"), reserved(1, "a")),
			op(14, 15, hold(1, "b"), refused(CodeSeatReserved)),
			op(14, 15, refresh(1, "a"), refused(CodeNotOnHold)),
			op(16, 17, get(1), reserved(1, "a")),
		}, true},
		{"a hold is free at its expiry", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(99, 99, hold(1, "b"), refused(CodeSeatHeld)),
			op(100, 100, get(1), available(1)),
			op(100, 100, reserve(1, "a"), refused(CodeNoLiveHold)),
			op(100, 100, refresh(1, "a"), refused(CodeNotOnHold)),
			op(100, 100, hold(1, "b"), onHold(1, "b", 200)),
		}, true},
		{"concurrent holds: the one that lost saw the winner", []porcupine.Operation{
			op(0, 10, hold(1, "b"), refused(CodeSeatHeld)),
			op(0, 10, hold(1, "a"), onHold(1, "a", 105)),
		}, true},
		{"expiry during a request", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(50, 150, list, freeBut()),
			op(50, 150, get(1), available(1)),
			op(50, 150, summary, counts(10, 0, 0)),
		}, true},
		{"limit, and a retry that does not count", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
			op(2, 3, hold(1, "a"), onHold(1, "a", 103)),
			op(4, 5, hold(2, "a"), refused(CodeHoldLimit)),
			op(103, 104, hold(2, "a"), onHold(2, "a", 204)),
		}, true},
		{"two holders", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
			op(2, 3, hold(1, "b"), onHold(1, "b", 103)),
		}, false},
		{"two reservations", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
			op(2, 3, reserve(1, "a"), reserved(1, "a")),
			op(4, 5, reserve(1, "b"), reserved(1, "b")),
		}, false},
		{"reserve without a hold", []porcupine.Operation{
			op(0, 1, reserve(1, "a"), reserved(1, "a")),
		}, false},
		{"reserve an expired hold", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(100, 101, reserve(1, "a"), reserved(1, "a")),
		}, false},
		{"over the limit", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
			op(2, 3, hold(2, "a"), onHold(2, "a", 103)),
		}, false},
		{"a reservation lost", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
			op(2, 3, reserve(1, "a"), reserved(1, "a")),
			op(200, 201, get(1), available(1)),
		}, false},
		{"a hold not seen", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
			op(5, 6, get(1), available(1)),
		}, false},
		{"a hold that expires before it ends", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
			op(5, 6, list, freeBut()),
		}, false},
		{"an expiry from another clock", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 500)),
		}, false},
		{"a refusal without a cause", []porcupine.Operation{
			op(0, 1, hold(1, "a"), refused(CodeSeatHeld)),
		}, false},
		{"a one-seat refusal that names seats", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
			op(2, 3, hold(1, "b"), refused(CodeSeatHeld, 1)),
		}, false},
		{"a limit without holds", []porcupine.Operation{
			op(0, 1, hold(1, "a"), refused(CodeHoldLimit)),
		}, false},
		{"a seat missing from the list", []porcupine.Operation{
			op(0, 1, list, freeBut(10)),
		}, false},
		{"a seat that does not exist listed", []porcupine.Operation{
			op(0, 1, list, Output{Free: 1<<11 - 1}),
		}, false},
		{"an unexpected code", []porcupine.Operation{
			op(0, 1, hold(1, "a"), refused("SEAT_NOT_FOUND")),
		}, false},
		{"a user nobody knows", []porcupine.Operation{
			op(0, 1, hold(1, "z"), onHold(1, "z", 101)),
		}, false},
	})
}

func TestCarts(t *testing.T) {
	t.Parallel()
	checkHistories(t, cartRules, []history{
		{"a cart hold is all or nothing", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1, 2), seats(held(1, "a", 101), held(2, "a", 101))),
			op(2, 3, holdSeats("b", 3, 2), refused(CodeSeatHeld, 2)),
			op(4, 5, get(3), available(3)),
			op(4, 5, list, freeBut(1, 2)),
			op(4, 5, summary, counts(8, 2, 0)),
		}, true},
		{"a cart hold that took the free seats of a refusal", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1, 2), seats(held(1, "a", 101), held(2, "a", 101))),
			op(2, 3, holdSeats("b", 3, 2), refused(CodeSeatHeld, 2)),
			op(4, 5, list, freeBut(1, 2, 3)),
		}, false},
		{"refusals name the seats in the order asked, reserved first", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1, 2, 3), seats(held(1, "a", 101), held(2, "a", 101), held(3, "a", 101))),
			op(2, 3, reserveSeats("a", 3), reserved(3, "a")),
			op(4, 5, holdSeats("b", 4, 2, 1), refused(CodeSeatHeld, 2, 1)),
			op(6, 7, holdSeats("b", 2, 3, 4), refused(CodeSeatReserved, 3)),
		}, true},
		{"held named before reserved", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1, 2), seats(held(1, "a", 101), held(2, "a", 101))),
			op(2, 3, reserveSeats("a", 2), reserved(2, "a")),
			op(4, 5, holdSeats("b", 1, 2), refused(CodeSeatHeld, 1)),
		}, false},
		{"a retry is extended and counted once", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1, 2), seats(held(1, "a", 101), held(2, "a", 101))),
			op(2, 3, holdSeats("a", 2, 1, 3), seats(held(2, "a", 103), held(1, "a", 103), held(3, "a", 103))),
			op(4, 5, holdSeats("a", 3, 4), refused(CodeHoldLimit)),
			op(4, 5, hold(4, "a"), refused(CodeHoldLimit)),
			op(6, 7, hold(3, "a"), onHold(3, "a", 107)),
		}, true},
		{"a cart over the limit", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1, 2), seats(held(1, "a", 101), held(2, "a", 101))),
			op(2, 3, holdSeats("a", 3, 4), seats(held(3, "a", 103), held(4, "a", 103))),
		}, false},
		{"a cart hold with one expiry per seat", []porcupine.Operation{
			op(0, 5, holdSeats("a", 1, 2), seats(held(1, "a", 101), held(2, "a", 102))),
		}, false},
		{"best available: the first run within a row", []porcupine.Operation{
			op(0, 1, hold(2, "b"), onHold(2, "b", 101)),
			op(2, 3, best("a", 3, true), seats(held(5, "a", 103), held(6, "a", 103), held(7, "a", 103))),
			op(4, 5, best("c", 2, false), seats(held(3, "c", 105), held(4, "c", 105))),
			op(6, 7, list, free(1, 8, 9, 10)),
		}, true},
		{"best available that skipped a run", []porcupine.Operation{
			op(0, 1, hold(2, "b"), onHold(2, "b", 101)),
			op(2, 3, best("a", 2, true), seats(held(5, "a", 103), held(6, "a", 103))),
		}, false},
		{"best available across rows", []porcupine.Operation{
			op(0, 1, holdSeats("b", 1, 2, 3), seats(held(1, "b", 101), held(2, "b", 101), held(3, "b", 101))),
			op(0, 1, holdSeats("c", 6, 7, 8), seats(held(6, "c", 101), held(7, "c", 101), held(8, "c", 101))),
			op(2, 3, best("a", 2, true), seats(held(4, "a", 103), held(5, "a", 103))),
		}, false},
		{"best available in the last, shorter row", []porcupine.Operation{
			op(0, 1, holdSeats("b", 1, 2, 3), seats(held(1, "b", 101), held(2, "b", 101), held(3, "b", 101))),
			op(0, 1, holdSeats("c", 6, 7, 8), seats(held(6, "c", 101), held(7, "c", 101), held(8, "c", 101))),
			op(2, 3, best("a", 2, true), seats(held(9, "a", 103), held(10, "a", 103))),
		}, true},
		{"best available, not adjacent: the lowest seats", []porcupine.Operation{
			op(0, 1, holdSeats("b", 2, 4, 6), seats(held(2, "b", 101), held(4, "b", 101), held(6, "b", 101))),
			op(0, 1, holdSeats("c", 8, 10), seats(held(8, "c", 101), held(10, "c", 101))),
			op(2, 3, best("a", 2, true), refused(CodeNotEnoughSeats)),
			op(4, 5, best("a", 3, false), seats(held(1, "a", 105), held(3, "a", 105), held(5, "a", 105))),
			op(6, 7, best("c", 1, true), seats(held(7, "c", 107))),
			op(8, 9, summary, counts(1, 9, 0)),
		}, true},
		{"best available picked seats apart while a row has a run", []porcupine.Operation{
			op(0, 1, holdSeats("b", 2, 4, 6), seats(held(2, "b", 101), held(4, "b", 101), held(6, "b", 101))),
			op(2, 3, best("a", 2, false), seats(held(1, "a", 103), held(5, "a", 103))),
		}, false},
		{"best available counts the cart before the seats", []porcupine.Operation{
			op(0, 1, holdSeats("b", 1, 2, 3), seats(held(1, "b", 101), held(2, "b", 101), held(3, "b", 101))),
			op(0, 1, holdSeats("c", 4, 5, 6), seats(held(4, "c", 101), held(5, "c", 101), held(6, "c", 101))),
			op(2, 3, holdSeats("a", 7, 8), seats(held(7, "a", 103), held(8, "a", 103))),
			op(4, 5, best("a", 2, false), refused(CodeHoldLimit)),
			op(4, 5, best("a", 1, true), seats(held(9, "a", 105))),
			op(6, 7, best("b", 1, false), refused(CodeHoldLimit)),
		}, true},
		{"not enough seats before the limit", []porcupine.Operation{
			op(0, 1, holdSeats("b", 1, 2, 3), seats(held(1, "b", 101), held(2, "b", 101), held(3, "b", 101))),
			op(2, 3, best("b", 3, true), refused(CodeNotEnoughSeats)),
		}, false},
		{"release", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1, 2, 3), seats(held(1, "a", 101), held(2, "a", 101), held(3, "a", 101))),
			op(0, 1, hold(4, "b"), onHold(4, "b", 101)),
			op(2, 3, release("a", 4, 2, 5), seats(free1(2))),
			op(4, 5, list, freeBut(1, 3, 4)),
			op(6, 7, releaseAll("a"), seats(free1(1), free1(3))),
			op(8, 9, releaseAll("a"), seats()),
			op(8, 9, get(4), onHold(4, "b", 101)),
			op(10, 11, holdSeats("a", 1, 2, 3), seats(held(1, "a", 111), held(2, "a", 111), held(3, "a", 111))),
		}, true},
		{"a release of another's hold", []porcupine.Operation{
			op(0, 1, hold(4, "b"), onHold(4, "b", 101)),
			op(2, 3, release("a", 4), seats(free1(4))),
		}, false},
		{"a release of an expired hold", []porcupine.Operation{
			op(0, 0, hold(4, "a"), onHold(4, "a", 100)),
			op(100, 101, releaseAll("a"), seats(free1(4))),
		}, false},
		{"a release that kept the seat", []porcupine.Operation{
			op(0, 1, hold(4, "a"), onHold(4, "a", 101)),
			op(2, 3, releaseAll("a"), seats(free1(4))),
			op(4, 5, hold(4, "b"), refused(CodeSeatHeld)),
		}, false},
		{"a cart reserve is all or nothing", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1, 2), seats(held(1, "a", 101), held(2, "a", 101))),
			op(2, 3, reserveSeats("a", 3, 1, 4), refused(CodeNoLiveHold, 3, 4)),
			op(4, 5, get(1), onHold(1, "a", 101)),
			op(6, 7, reserveSeats("a", 2, 1), seats(reservedBy(2, "a"), reservedBy(1, "a"))),
			op(8, 9, reserveSeats("a", 1, 2), seats(reservedBy(1, "a"), reservedBy(2, "a"))),
			op(10, 11, reserveSeats("b", 1), refused(CodeNoLiveHold, 1)),
			op(12, 13, summary, counts(8, 0, 2)),
		}, true},
		{"a refused cart reserve that reserved a seat", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1, 2), seats(held(1, "a", 101), held(2, "a", 101))),
			op(2, 3, reserveSeats("a", 1, 3), refused(CodeNoLiveHold, 3)),
			op(4, 5, get(1), reserved(1, "a")),
		}, false},
		{"cart refresh", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(50, 50, holdSeats("a", 2), onHold(2, "a", 150)),
			op(0, 0, hold(3, "b"), onHold(3, "b", 100)),
			op(60, 61, refreshCart("a"), seats(held(1, "a", 161), held(2, "a", 161))),
			op(100, 101, refreshCart("b"), refused(CodeNotOnHold)),
			op(100, 101, refreshCart("c"), refused(CodeNotOnHold)),
		}, true},
		{"a cart refresh that missed a hold", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(50, 50, holdSeats("a", 2), onHold(2, "a", 150)),
			op(60, 61, refreshCart("a"), seats(held(2, "a", 161))),
		}, false},
		{"a cart refresh of an expired hold", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(100, 101, refreshCart("a"), onHold(1, "a", 200)),
		}, false},
		{"no hold outlasts the cap; then a cool-down of one TTL", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(90, 90, refresh(1, "a"), onHold(1, "a", 190)),
			op(180, 180, refreshCart("a"), onHold(1, "a", 250)),
			op(200, 201, refresh(1, "a"), refused(CodeHoldLifetime)),
			op(200, 201, refreshCart("a"), refused(CodeHoldLifetime)),
			op(210, 210, holdSeats("a", 2, 1), seats(held(2, "a", 250), held(1, "a", 250))),
			op(220, 220, best("a", 1, false), seats(held(3, "a", 250))),
			op(250, 251, get(1), available(1)),
			op(260, 261, hold(4, "a"), refused(CodeHoldLifetime)),
			op(300, 301, best("a", 1, false), refused(CodeHoldLifetime)),
			op(300, 301, holdSeats("a", 4), refused(CodeHoldLifetime)),
			op(300, 301, hold(4, "b"), onHold(4, "b", 400)),
			op(350, 350, hold(5, "a"), onHold(5, "a", 450)),
		}, true},
		{"a hold past the cap", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(90, 90, refresh(1, "a"), onHold(1, "a", 190)),
			op(180, 180, refresh(1, "a"), onHold(1, "a", 280)),
		}, false},
		{"a hold during the cool-down", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(90, 90, refresh(1, "a"), onHold(1, "a", 190)),
			op(180, 180, refresh(1, "a"), onHold(1, "a", 250)),
			op(300, 300, hold(2, "a"), onHold(2, "a", 400)),
		}, false},
		{"a cool-down without a cap reached", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(90, 90, refresh(1, "a"), onHold(1, "a", 190)),
			op(200, 200, hold(2, "a"), refused(CodeHoldLifetime)),
		}, false},
		{"a capped expiry leaves the moment free", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(90, 90, refresh(1, "a"), onHold(1, "a", 190)),
			op(140, 200, refresh(1, "a"), onHold(1, "a", 250)),
			op(140, 200, hold(2, "a"), onHold(2, "a", 250)),
		}, true},
		{"a capped expiry before its moment", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(90, 90, refresh(1, "a"), onHold(1, "a", 190)),
			op(100, 140, refresh(1, "a"), onHold(1, "a", 250)),
		}, false},
		// A release does not end a cart, or releasing and holding again
		// would escape the cap; a reserve that leaves no live hold does.
		{"a cart released early keeps its start", []porcupine.Operation{
			op(0, 0, holdSeats("a", 1, 2), seats(held(1, "a", 100), held(2, "a", 100))),
			op(10, 10, releaseAll("a"), seats(free1(1), free1(2))),
			op(20, 20, hold(3, "a"), onHold(3, "a", 120)),
			op(100, 100, refresh(3, "a"), onHold(3, "a", 200)),
			op(190, 190, refresh(3, "a"), onHold(3, "a", 250)),
		}, true},
		{"a cart released early that started anew", []porcupine.Operation{
			op(0, 0, holdSeats("a", 1, 2), seats(held(1, "a", 100), held(2, "a", 100))),
			op(10, 10, releaseAll("a"), seats(free1(1), free1(2))),
			op(20, 20, hold(3, "a"), onHold(3, "a", 120)),
			op(100, 100, refresh(3, "a"), onHold(3, "a", 200)),
			op(190, 190, refresh(3, "a"), onHold(3, "a", 270)),
		}, false},
		{"a cart reserved early ends", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(10, 10, reserveSeats("a", 1), reserved(1, "a")),
			op(20, 20, hold(3, "a"), onHold(3, "a", 120)),
			op(110, 110, refresh(3, "a"), onHold(3, "a", 210)),
			op(200, 200, refresh(3, "a"), onHold(3, "a", 270)),
		}, true},
		// The reserve ends the cart only at a moment of its call after seat
		// 1's hold expired, which its answer does not tell: the later
		// answers do.
		{"a reserve that ends the cart at some moment of its call", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(50, 50, hold(2, "a"), onHold(2, "a", 150)),
			op(60, 120, reserveSeats("a", 2), reserved(2, "a")),
			op(130, 130, hold(3, "a"), onHold(3, "a", 230)),
			op(200, 200, refreshCart("a"), seats(held(3, "a", 300))),
		}, true},
		{"a cart released a hold after a new cart started", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(10, 10, releaseAll("a"), seats(free1(1))),
			op(100, 100, hold(3, "a"), onHold(3, "a", 200)),
			op(190, 190, refresh(3, "a"), onHold(3, "a", 290)),
		}, true},
		{"a cart released before its cap: a hold before the cap is clamped at it", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(90, 90, refresh(1, "a"), onHold(1, "a", 190)),
			op(180, 180, refresh(1, "a"), onHold(1, "a", 250)),
			op(200, 200, releaseAll("a"), seats(free1(1))),
			op(230, 230, hold(2, "a"), onHold(2, "a", 250)),
			op(260, 260, hold(3, "a"), refused(CodeHoldLifetime)),
		}, true},
		{"a cart released before its cap: a new one before the cap escapes it", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(90, 90, refresh(1, "a"), onHold(1, "a", 190)),
			op(180, 180, refresh(1, "a"), onHold(1, "a", 250)),
			op(200, 200, releaseAll("a"), seats(free1(1))),
			op(230, 230, hold(2, "a"), onHold(2, "a", 330)),
		}, false},
		{"a cart released before its cap still cools down after it", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(90, 90, refresh(1, "a"), onHold(1, "a", 190)),
			op(180, 180, refresh(1, "a"), onHold(1, "a", 250)),
			op(200, 200, releaseAll("a"), seats(free1(1))),
			op(260, 260, hold(2, "a"), onHold(2, "a", 360)),
		}, false},
		{"a reserve in the cool-down", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
			op(90, 90, refresh(1, "a"), onHold(1, "a", 190)),
			op(180, 180, refresh(1, "a"), onHold(1, "a", 250)),
			op(240, 241, reserveSeats("a", 1), reserved(1, "a")),
			op(260, 261, hold(2, "a"), refused(CodeHoldLifetime)),
			op(260, 261, reserve(1, "a"), reserved(1, "a")),
			op(260, 261, summary, counts(9, 0, 1)),
		}, true},
		{"an idempotent retry answers again and changes nothing", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1), onHold(1, "a", 101)),
			op(10, 11, again(holdSeats("a", 1), 0, onHold(1, "a", 101)), onHold(1, "a", 101)),
			op(20, 21, get(1), onHold(1, "a", 101)),
			op(30, 31, releaseAll("a"), seats(free1(1))),
			op(40, 41, again(holdSeats("a", 1), 0, onHold(1, "a", 101)), onHold(1, "a", 101)),
			op(50, 51, get(1), available(1)),
			op(60, 61, again(releaseAll("a"), 30, seats(free1(1))), seats(free1(1))),
		}, true},
		{"an idempotent retry that held again", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1), onHold(1, "a", 101)),
			op(30, 31, releaseAll("a"), seats(free1(1))),
			op(40, 41, again(holdSeats("a", 1), 0, onHold(1, "a", 101)), onHold(1, "a", 141)),
		}, false},
		{"an idempotent retry after the key is forgotten is a new request", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1), onHold(1, "a", 101)),
			op(300, 301, again(holdSeats("a", 1), 0, onHold(1, "a", 101)), onHold(1, "a", 401)),
		}, true},
		{"an idempotent retry of a refusal", []porcupine.Operation{
			op(0, 1, hold(1, "b"), onHold(1, "b", 101)),
			op(2, 3, holdSeats("a", 1), refused(CodeSeatHeld, 1)),
			op(4, 5, releaseAll("b"), seats(free1(1))),
			op(6, 7, again(holdSeats("a", 1), 2, refused(CodeSeatHeld, 1)), refused(CodeSeatHeld, 1)),
			op(8, 9, get(1), available(1)),
		}, true},
		{"a wrong summary", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1, 2), seats(held(1, "a", 101), held(2, "a", 101))),
			op(2, 3, summary, counts(9, 1, 0)),
		}, false},
		{"a summary of another total", []porcupine.Operation{
			op(0, 1, summary, Output{Counts: Counts{Total: 11, Available: 11}}),
		}, false},
	})
}

// TestPartitionByEvent: events are checked apart, so a hold in one event
// does not hide a seat of another, nor does a cart's cap reach into
// another event.
func TestPartitionByEvent(t *testing.T) {
	t.Parallel()
	in := func(e string, o porcupine.Operation) porcupine.Operation {
		in := o.Input.(Input)
		in.Event = e
		o.Input = in
		return o
	}
	ops := []porcupine.Operation{
		op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
		in("other", op(2, 3, hold(1, "b"), onHold(1, "b", 103))),
	}
	if !porcupine.CheckOperations(rules.Model(), ops) {
		t.Error("holds of the same seat number in two events are not linearizable")
	}
	ops = []porcupine.Operation{
		op(0, 0, hold(1, "a"), onHold(1, "a", 100)),
		op(90, 90, refresh(1, "a"), onHold(1, "a", 190)),
		op(180, 180, refresh(1, "a"), onHold(1, "a", 250)),
		in("other", op(260, 260, hold(1, "a"), onHold(1, "a", 360))),
	}
	if !porcupine.CheckOperations(cartRules.Model(), ops) {
		t.Error("a cool-down in one event refused a hold in another")
	}
}

// TestDescribe: the visualization names each operation and state.
func TestDescribe(t *testing.T) {
	t.Parallel()
	m := cartRules.Model()
	for _, tt := range []struct {
		in   Input
		out  Output
		want string
	}{
		{best("a", 2, true), seats(held(1, "a", 101), held(2, "a", 101)), `hold-best(best 2 adjacent, "a") [0..1] -> 1 On hold "a" until 101; 2 On hold "a" until 101`},
		{holdSeats("b", 3, 1), refused(CodeSeatHeld, 1), `hold-seats([3 1], "b") [0..1] -> SEAT_HELD [1]`},
		{releaseAll("a"), seats(), `release("a") [0..1] -> none`},
		{summary, counts(10, 0, 0), `summary [0..1] -> {Total:10 Available:10 OnHold:0 Reserved:0}`},
	} {
		in := tt.in
		in.CallMs, in.ReturnMs = 0, 1
		if got := m.DescribeOperation(in, tt.out); got != tt.want {
			t.Errorf("DescribeOperation = %s, want %s", got, tt.want)
		}
	}
	_, s := cartRules.apply(state{}, hold(1, "a"), 1, 0)
	if got, want := m.DescribeState([]any{s}), `{1:On hold "a" until 100; 2:Available; `; len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("DescribeState = %s, want it to start with %s", got, want)
	}
}

// unknownOp is in, called at call and answered 503 at call+5, whose
// outcome is unknown: it may take effect at any moment after call, or
// never.
func unknownOp(call int64, in Input) porcupine.Operation {
	o := op(call, math.MaxInt64, in, Output{Unknown: true})
	in = o.Input.(Input)
	in.ReturnMs, in.UntilMs = call+5, math.MaxInt64
	o.Input = in
	return o
}

// heldOp is unknownOp, held back by a frozen store that caught up
// between from and to.
func heldOp(call, from, to int64, in Input) porcupine.Operation {
	o := unknownOp(call, in)
	in = o.Input.(Input)
	in.Spans = []Span{{FromMs: from, ToMs: to}}
	o.Input = in
	return o
}

// TestUnknownOutcomes: a change answered 503 or not at all may have taken
// effect at any moment after its call, even after its answer (a frozen
// Redis runs it when thawed), or never; but not before its call, and not
// both.
func TestUnknownOutcomes(t *testing.T) {
	t.Parallel()
	checkUnknown(t, rules, []history{
		{"a hold that took effect after its 503", []porcupine.Operation{
			unknownOp(10, hold(1, "a")),
			op(20, 21, get(1), available(1)),
			op(50, 51, get(1), onHold(1, "a", 140)),
			op(60, 61, hold(1, "b"), refused(CodeSeatHeld)),
			op(140, 141, hold(1, "b"), onHold(1, "b", 240)),
		}, true},
		{"a hold that did not", []porcupine.Operation{
			unknownOp(10, hold(1, "a")),
			op(50, 51, get(1), available(1)),
			op(60, 61, hold(1, "b"), onHold(1, "b", 160)),
			op(300, 301, get(1), available(1)),
		}, true},
		{"a hold seen, then gone before its expiry", []porcupine.Operation{
			unknownOp(10, hold(1, "a")),
			op(50, 51, get(1), onHold(1, "a", 140)),
			op(60, 61, get(1), available(1)),
		}, false},
		{"a hold that took effect before its call", []porcupine.Operation{
			unknownOp(10, hold(1, "a")),
			op(50, 51, get(1), onHold(1, "a", 105)),
		}, false},
		{"a hold made twice", []porcupine.Operation{
			unknownOp(10, hold(1, "a")),
			op(50, 51, get(1), onHold(1, "a", 140)),
			op(200, 201, get(1), onHold(1, "a", 280)),
		}, false},
		{"a reserve that took effect, and one that did not", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
			op(0, 1, hold(2, "b"), onHold(2, "b", 101)),
			unknownOp(10, reserve(1, "a")),
			unknownOp(10, reserve(2, "b")),
			op(200, 201, get(1), reserved(1, "a")),
			op(200, 201, get(2), available(2)),
		}, true},
		// Only a hold made at 136-139 is still there for the list and
		// gone for b: neither end of the catch-up fits.
		{"a hold made while a frozen store caught up", []porcupine.Operation{
			heldOp(10, 100, 140, hold(1, "a")),
			op(235, 236, list, freeBut(1)),
			op(238, 239, hold(1, "b"), onHold(1, "b", 338)),
		}, true},
		{"a hold that fits only after the store caught up", []porcupine.Operation{
			heldOp(10, 100, 130, hold(1, "a")),
			op(235, 236, list, freeBut(1)),
			op(238, 239, hold(1, "b"), onHold(1, "b", 338)),
		}, false},
		{"a reserve of a hold that had expired", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold(1, "a", 101)),
			op(120, 121, get(1), available(1)),
			unknownOp(130, reserve(1, "a")),
			op(200, 201, get(1), reserved(1, "a")),
		}, false},
	})
	checkUnknown(t, cartRules, []history{
		{"a cart hold that took effect, extended by a refresh", []porcupine.Operation{
			unknownOp(10, holdSeats("a", 1, 2)),
			op(30, 31, refreshCart("a"), seats(held(1, "a", 130), held(2, "a", 130))),
			op(40, 41, releaseAll("a"), seats(free1(1), free1(2))),
		}, true},
		{"best available taken twice", []porcupine.Operation{
			unknownOp(10, best("a", 1, false)),
			unknownOp(10, best("a", 1, false)),
			op(50, 51, list, freeBut(1, 2)),
			op(52, 53, releaseAll("a"), seats(free1(1), free1(2))),
		}, true},
		{"best available taken twice, sent once", []porcupine.Operation{
			unknownOp(10, best("a", 1, false)),
			op(50, 51, list, freeBut(1, 2)),
		}, false},
		{"a release that took effect", []porcupine.Operation{
			op(0, 1, holdSeats("a", 1), seats(held(1, "a", 101))),
			unknownOp(10, releaseAll("a")),
			op(50, 51, get(1), available(1)),
		}, true},
	})
}

// checkUnknown checks histories with operations of unknown outcome as the
// history tests do: their moments added first.
func checkUnknown(t *testing.T, r Rules, tests []history) {
	t.Helper()
	for _, tt := range tests {
		r.AddMoments(tt.ops)
	}
	checkHistories(t, r, tests)
}
