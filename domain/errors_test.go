package domain_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seatres/reservation/domain"
)

// refusalCodes is every refusal of the rules with its code, the API's
// name for it.
var refusalCodes = []struct {
	name string
	err  *domain.Refusal
	code string
}{
	{"ErrEventNotFound", domain.ErrEventNotFound, "EVENT_NOT_FOUND"},
	{"ErrSeatNotFound", domain.ErrSeatNotFound, "SEAT_NOT_FOUND"},
	{"ErrEventExists", domain.ErrEventExists, "EVENT_EXISTS"},
	{"ErrSeatHeld", domain.ErrSeatHeld, "SEAT_HELD"},
	{"ErrSeatReserved", domain.ErrSeatReserved, "SEAT_RESERVED"},
	{"ErrHoldLimit", domain.ErrHoldLimit, "HOLD_LIMIT_REACHED"},
	{"ErrCoolDown", domain.ErrCoolDown, "HOLD_LIFETIME_REACHED"},
	{"ErrNotEnoughSeats", domain.ErrNotEnoughSeats, "NOT_ENOUGH_SEATS"},
	{"ErrNotHolder", domain.ErrNotHolder, "NOT_HOLDER"},
	{"ErrNotOnHold", domain.ErrNotOnHold, "NOT_ON_HOLD"},
	{"ErrHoldLifetime", domain.ErrHoldLifetime, "HOLD_LIFETIME_REACHED"},
	{"ErrNoLiveHold", domain.ErrNoLiveHold, "NO_LIVE_HOLD"},
	{"ErrIdempotencyKeyReused", domain.ErrIdempotencyKeyReused, "IDEMPOTENCY_KEY_REUSED"},
	{"ErrQuotaExceeded", domain.ErrQuotaExceeded, "QUOTA_EXCEEDED"},
	{"ErrInvalidName", domain.ErrInvalidName, "INVALID_NAME"},
	{"ErrInvalidTotalSeats", domain.ErrInvalidTotalSeats, "INVALID_TOTAL_SEATS"},
	{"ErrInvalidSeatsPerRow", domain.ErrInvalidSeatsPerRow, "INVALID_SEATS_PER_ROW"},
	{"ErrInvalidUser", domain.ErrInvalidUser, "INVALID_UUID"},
	{"ErrInvalidSeatID", domain.ErrInvalidSeatID, "INVALID_SEAT_ID"},
	{"ErrInvalidPosition", domain.ErrInvalidPosition, "INVALID_POSITION"},
	{"ErrInvalidSeatIDs", domain.ErrInvalidSeatIDs, "INVALID_SEAT_IDS"},
	{"ErrInvalidCount", domain.ErrInvalidCount, "INVALID_SEAT_COUNT"},
	{"ErrInvalidIdemKey", domain.ErrInvalidIdemKey, "INVALID_IDEMPOTENCY_KEY"},
}

// TestRefusals: Refusals lists every exported refusal once, each with its
// code; the codes are unique but for HOLD_LIFETIME_REACHED, which the
// cool-down and the refresh at the cap share.
func TestRefusals(t *testing.T) {
	t.Parallel()
	got := domain.Refusals()
	if len(got) != len(refusalCodes) {
		t.Errorf("Refusals() lists %d refusals, the table %d", len(got), len(refusalCodes))
	}
	byCode := make(map[string][]string)
	for _, r := range refusalCodes {
		if n := slices.Index(got, r.err); n < 0 || slices.Index(got[n+1:], r.err) >= 0 {
			t.Errorf("%s is not listed exactly once by Refusals()", r.name)
		}
		if r.err.Code() != r.code {
			t.Errorf("%s.Code() = %q, want %q", r.name, r.err.Code(), r.code)
		}
		if r.err.Error() == "" || r.err.Error() == r.code {
			t.Errorf("%s has no message of its own: %q", r.name, r.err.Error())
		}
		byCode[r.code] = append(byCode[r.code], r.name)
	}
	for code, names := range byCode {
		want := 1
		if code == "HOLD_LIFETIME_REACHED" {
			want = 2
		}
		if len(names) != want {
			t.Errorf("code %s is shared by %v", code, names)
		}
	}
	if !slices.Equal(byCode["HOLD_LIFETIME_REACHED"], []string{"ErrCoolDown", "ErrHoldLifetime"}) {
		t.Errorf("HOLD_LIFETIME_REACHED is the code of %v", byCode["HOLD_LIFETIME_REACHED"])
	}
	// A refusal is told from another by identity, never by its code.
	if errors.Is(domain.ErrCoolDown, domain.ErrHoldLifetime) || errors.Is(domain.ErrHoldLifetime, domain.ErrCoolDown) {
		t.Error("ErrCoolDown and ErrHoldLifetime are one refusal")
	}
	// The list is a copy: changing it changes nothing.
	got[0] = nil
	if domain.Refusals()[0] == nil {
		t.Error("Refusals() returns the package's own slice")
	}
}

// TestRefusalsTableIsComplete reads the package's source: every exported
// Err variable is in refusalCodes (a bad hold policy, a configuration
// error that is no refusal, is a HoldPolicyError). So a new refusal cannot
// be forgotten by the table above, and so by Refusals().
func TestRefusalsTableIsComplete(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					if strings.HasPrefix(id.Name, "Err") && id.IsExported() {
						declared = append(declared, id.Name)
					}
				}
			}
		}
	}
	var want []string
	for _, r := range refusalCodes {
		want = append(want, r.name)
	}
	slices.Sort(declared)
	slices.Sort(want)
	if !slices.Equal(declared, want) {
		t.Fatalf("exported Err variables %v,\nthe table %v", declared, want)
	}
}

func TestSeatsError(t *testing.T) {
	t.Parallel()
	e := domain.Event{ID: eventID, TotalSeats: 20, SeatsPerRow: 5}
	err := error(&domain.SeatsError{Err: domain.ErrSeatHeld, Seats: []domain.SeatID{e.Seat(7), e.Seat(2)}})
	if !errors.Is(err, domain.ErrSeatHeld) || errors.Is(err, domain.ErrSeatReserved) {
		t.Fatalf("%v is not ErrSeatHeld alone", err)
	}
	var r *domain.Refusal
	if !errors.As(err, &r) || r != domain.ErrSeatHeld || r.Code() != "SEAT_HELD" {
		t.Fatalf("errors.As(%v) = %v", err, r)
	}
	want := domain.ErrSeatHeld.Error() + ": " + eventID + ".7, " + eventID + ".2"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestCoolDownError(t *testing.T) {
	t.Parallel()
	err := error(&domain.CoolDownError{RetryAfter: 1500 * time.Millisecond})
	if !errors.Is(err, domain.ErrCoolDown) || errors.Is(err, domain.ErrHoldLifetime) {
		t.Fatalf("%v is not ErrCoolDown alone", err)
	}
	var r *domain.Refusal
	if !errors.As(err, &r) || r.Code() != "HOLD_LIFETIME_REACHED" {
		t.Fatalf("errors.As(%v) = %v", err, r)
	}
	if !strings.Contains(err.Error(), domain.ErrCoolDown.Error()) || !strings.Contains(err.Error(), "1.5s") {
		t.Fatalf("Error() = %q names neither the refusal nor the wait", err.Error())
	}
}
