package domain_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/seatres/reservation/domain"
)

func TestParsePosition(t *testing.T) {
	for s, want := range map[string]domain.Position{
		"0-0":              {},
		"1796205253487-0":  {Ms: 1796205253487},
		"1796205253487-12": {Ms: 1796205253487, Seq: 12},
		"18446744073709551615-18446744073709551615": {Ms: math.MaxUint64, Seq: math.MaxUint64},
	} {
		got, err := domain.ParsePosition(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("ParsePosition(%q) = %+v, %v; want %+v, printed back as %q", s, got, err, want, s)
		}
	}
	for _, s := range []string{"", "-", "1", "1-", "-1", "01-0", "1-01", "+1-0", "1-0-0", " 1-0", "1-0\n", "1.5-0", "18446744073709551616-0", "a-b", "１-0"} {
		if got, err := domain.ParsePosition(s); !errors.Is(err, domain.ErrInvalidPosition) {
			t.Errorf("ParsePosition(%q) = %+v, %v; want %v", s, got, err, domain.ErrInvalidPosition)
		}
	}
}

func TestPositionOrder(t *testing.T) {
	ordered := []domain.Position{{}, {Seq: 1}, {Ms: 1}, {Ms: 1, Seq: 1}, {Ms: 2}}
	for i, p := range ordered {
		for j, q := range ordered {
			if got := p.Before(q); got != (i < j) {
				t.Errorf("%v.Before(%v) = %v", p, q, got)
			}
		}
	}
}

// TestPositionPrev: Prev is right before, with nothing between.
func TestPositionPrev(t *testing.T) {
	for _, p := range []domain.Position{{Seq: 1}, {Ms: 1}, {Ms: 1, Seq: 1}, {Ms: 2}, {Ms: math.MaxUint64, Seq: math.MaxUint64}} {
		q, ok := p.Prev()
		if !ok || !q.Before(p) {
			t.Errorf("%v.Prev() = %v, %v; want a position before it", p, q, ok)
		}
		if q.Seq < math.MaxUint64 {
			if between := (domain.Position{Ms: q.Ms, Seq: q.Seq + 1}); between != p {
				t.Errorf("%v.Prev() = %v leaves %v between", p, q, between)
			}
		} else if p != (domain.Position{Ms: q.Ms + 1}) {
			t.Errorf("%v.Prev() = %v leaves positions between", p, q)
		}
	}
	if q, ok := (domain.Position{}).Prev(); ok {
		t.Errorf("the zero position's Prev is %v", q)
	}
}

// TestPositionNext: Next is right after, Prev's inverse; the last position
// there can be has none.
func TestPositionNext(t *testing.T) {
	for _, p := range []domain.Position{{}, {Seq: 1}, {Ms: 1, Seq: math.MaxUint64}, {Ms: math.MaxUint64, Seq: 7}} {
		q, ok := p.Next()
		if back, _ := q.Prev(); !ok || back != p {
			t.Errorf("%v.Next() = %v, %v; want the position whose Prev it is", p, q, ok)
		}
	}
	if q, ok := (domain.Position{Ms: math.MaxUint64, Seq: math.MaxUint64}).Next(); ok {
		t.Errorf("the last position's Next is %v", q)
	}
}

// TestBorn: an event's birth comes after every position of a same-id
// event that ended by then, before its own first record, and a reader of
// the earlier event is told; a reader at the start, at the birth or after
// it is not.
func TestBorn(t *testing.T) {
	now := time.Date(2026, 3, 1, 18, 0, 0, 500_000, time.UTC) // half a millisecond in
	born := domain.Born(now)
	ms := uint64(now.UnixMilli())
	earlier := []domain.Position{{Ms: ms - 1, Seq: math.MaxUint64}, {Ms: ms}, {Ms: ms, Seq: math.MaxUint64}}
	for _, p := range earlier {
		if !p.Before(born) || !p.Predates(born) {
			t.Errorf("a record at %v, made by the time of the birth %v: before it %v, predates it %v; want both", p, born, p.Before(born), p.Predates(born))
		}
	}
	first := domain.Position{Ms: ms + 1, Seq: 1} // a record in the birth's millisecond
	for _, p := range []domain.Position{{}, born, first, {Ms: ms + 2}} {
		if p.Predates(born) {
			t.Errorf("%v predates the birth %v", p, born)
		}
	}
	if domain.Born(time.UnixMilli(-5)) != (domain.Position{Ms: 1}) {
		t.Errorf("a birth before 1970 is %v", domain.Born(time.UnixMilli(-5)))
	}
	for _, p := range []domain.Position{{Ms: 1}, {Ms: 9, Seq: 3}} {
		if p.Predates(domain.Position{}) {
			t.Errorf("%v predates an event born before births were kept", p)
		}
	}
}

func TestVersionText(t *testing.T) {
	v := domain.Version{Position: domain.Position{Ms: 17, Seq: 2}, Expired: 3}
	if got := v.String(); got != "17-2.3" {
		t.Errorf("%+v prints as %q, want 17-2.3", v, got)
	}
}

func TestOpNames(t *testing.T) {
	for op, want := range map[domain.Op]string{domain.OpHold: "hold", domain.OpRefresh: "refresh", domain.OpReserve: "reserve",
		domain.OpRelease: "release", domain.OpExpire: "expired", 0: "op(0)", 9: "op(9)"} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d) = %q, want %q", op, got, want)
		}
	}
}

// Any text is either a position in its one form or no position.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"0-0", "1796205253487-3", "01-0", "18446744073709551616-0", "-", "1-0\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := domain.ParsePosition(s)
		if err != nil {
			if !errors.Is(err, domain.ErrInvalidPosition) {
				t.Fatalf("ParsePosition(%q): unexpected error %v", s, err)
			}
			return
		}
		if p.String() != s {
			t.Fatalf("ParsePosition(%q) = %+v, which prints as %q", s, p, p)
		}
	})
}
