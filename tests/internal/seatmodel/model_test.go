package seatmodel

import (
	"testing"

	"github.com/anishathalye/porcupine"
)

// rules of the hand-written histories: holds last 100 ms, one per user.
var rules = Rules{TTLMs: 100, MaxSeats: 1, TotalSeats: 10, Hot: 2}

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

var list = Input{Kind: List}

func onHold(user string, until int64) Output {
	return Output{Status: OnHold, Holder: user, ExpiresMs: until}
}
func reserved(user string) Output { return Output{Status: Reserved, Holder: user} }
func refused(code string) Output  { return Output{Code: code} }

var available = Output{Status: Available}

// free lists seats 3..10, which nobody changes, and the given hot seats.
func free(seats ...int) Output {
	f := uint64(0b1111111100)
	for _, n := range seats {
		f |= 1 << (n - 1)
	}
	return Output{Free: f}
}

func TestModel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		history []porcupine.Operation
		want    bool
	}{
		{"hold, refusals, reserve", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold("a", 101)),
			op(2, 3, get(1), onHold("a", 101)),
			op(4, 5, hold(1, "b"), refused(CodeSeatHeld)),
			op(4, 5, refresh(1, "b"), refused(CodeNotHolder)),
			op(4, 5, reserve(1, "b"), refused(CodeNoLiveHold)),
			op(6, 7, refresh(1, "a"), onHold("a", 107)),
			op(8, 9, list, free(2)),
			op(10, 11, reserve(1, "a"), reserved("a")),
			op(12, 13, reserve(1, "a"), reserved("a")),
			op(14, 15, hold(1, "b"), refused(CodeSeatReserved)),
			op(14, 15, refresh(1, "a"), refused(CodeNotOnHold)),
			op(16, 17, get(1), reserved("a")),
		}, true},
		{"a hold is free at its expiry", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold("a", 100)),
			op(99, 99, hold(1, "b"), refused(CodeSeatHeld)),
			op(100, 100, get(1), available),
			op(100, 100, reserve(1, "a"), refused(CodeNoLiveHold)),
			op(100, 100, refresh(1, "a"), refused(CodeNotOnHold)),
			op(100, 100, hold(1, "b"), onHold("b", 200)),
		}, true},
		{"concurrent holds: the one that lost saw the winner", []porcupine.Operation{
			op(0, 10, hold(1, "b"), refused(CodeSeatHeld)),
			op(0, 10, hold(1, "a"), onHold("a", 105)),
		}, true},
		{"expiry during a request", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold("a", 100)),
			op(50, 150, list, free(1, 2)),
			op(50, 150, get(1), available),
		}, true},
		{"limit, and a retry that does not count", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold("a", 101)),
			op(2, 3, hold(1, "a"), onHold("a", 103)),
			op(4, 5, hold(2, "a"), refused(CodeHoldLimit)),
			op(103, 104, hold(2, "a"), onHold("a", 204)),
		}, true},
		{"two holders", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold("a", 101)),
			op(2, 3, hold(1, "b"), onHold("b", 103)),
		}, false},
		{"two reservations", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold("a", 101)),
			op(2, 3, reserve(1, "a"), reserved("a")),
			op(4, 5, reserve(1, "b"), reserved("b")),
		}, false},
		{"reserve without a hold", []porcupine.Operation{
			op(0, 1, reserve(1, "a"), reserved("a")),
		}, false},
		{"reserve an expired hold", []porcupine.Operation{
			op(0, 0, hold(1, "a"), onHold("a", 100)),
			op(100, 101, reserve(1, "a"), reserved("a")),
		}, false},
		{"over the limit", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold("a", 101)),
			op(2, 3, hold(2, "a"), onHold("a", 103)),
		}, false},
		{"a reservation lost", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold("a", 101)),
			op(2, 3, reserve(1, "a"), reserved("a")),
			op(200, 201, get(1), available),
		}, false},
		{"a hold not seen", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold("a", 101)),
			op(5, 6, get(1), available),
		}, false},
		{"a hold that expires before it ends", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold("a", 101)),
			op(5, 6, list, free(1, 2)),
		}, false},
		{"an expiry from another clock", []porcupine.Operation{
			op(0, 1, hold(1, "a"), onHold("a", 500)),
		}, false},
		{"a refusal without a cause", []porcupine.Operation{
			op(0, 1, hold(1, "a"), refused(CodeSeatHeld)),
		}, false},
		{"a limit without holds", []porcupine.Operation{
			op(0, 1, hold(1, "a"), refused(CodeHoldLimit)),
		}, false},
		{"an untouched seat not listed", []porcupine.Operation{
			op(0, 1, list, Output{Free: 0b0111111111}),
		}, false},
		{"an unexpected code", []porcupine.Operation{
			op(0, 1, hold(1, "a"), refused("SEAT_NOT_FOUND")),
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := porcupine.CheckOperations(rules.Model(), tt.history); got != tt.want {
				t.Errorf("linearizable = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPartitionByEvent: events are checked apart, so a hold in one event
// does not hide a seat of another.
func TestPartitionByEvent(t *testing.T) {
	t.Parallel()
	a := op(0, 1, hold(1, "a"), onHold("a", 101))
	b := op(2, 3, hold(1, "b"), onHold("b", 103))
	in := b.Input.(Input)
	in.Event = "other"
	b.Input = in
	if !porcupine.CheckOperations(rules.Model(), []porcupine.Operation{a, b}) {
		t.Error("holds of the same seat number in two events are not linearizable")
	}
}
