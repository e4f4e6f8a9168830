package application_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/mocks"
	"github.com/seatres/reservation/domain"
)

func TestServiceTracksTheExpiryOfHolds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := mocks.NewMockStore(gomock.NewController(t))
	tr := &tracker{}
	svc := application.NewService(store, policy, application.WithExpiryTracker(tr))
	soon, later := time.UnixMilli(2000), time.UnixMilli(3000)
	held := []domain.Seat{
		{ID: idsOf(1)[0], Status: domain.OnHold, Holder: "alice", HoldExpiresAt: later},
		{ID: idsOf(2)[0], Status: domain.OnHold, Holder: "alice", HoldExpiresAt: soon},
	}
	store.EXPECT().Hold(ctx, domain.EventID(eventID), idsOf(1, 2), domain.UserID("alice"), policy, noIdem).Return(held, nil)
	if _, err := svc.HoldSeats(ctx, application.CartRequest{Event: eventID, User: "alice", IDs: seatsOf(1, 2)}); err != nil {
		t.Fatal(err)
	}
	if !tr.told(eventID, soon) || tr.told(eventID, later) {
		t.Errorf("told %v, want the earliest expiry only", tr.calls)
	}
	store.EXPECT().Refresh(ctx, domain.EventID(eventID), []domain.SeatID{seat}, domain.UserID("alice"), policy, noIdem).Return(nil, domain.ErrNotHolder)
	if _, err := svc.Refresh(ctx, seatID, "alice"); !errors.Is(err, domain.ErrNotHolder) {
		t.Fatal(err)
	}
	store.EXPECT().Reserve(ctx, domain.EventID(eventID), []domain.SeatID{seat}, domain.UserID("alice"), noIdem).
		Return([]domain.Seat{{ID: seat, Status: domain.Reserved, Holder: "alice"}}, nil)
	if _, err := svc.Reserve(ctx, seatID, "alice"); err != nil {
		t.Fatal(err)
	}
	if n := len(tr.calls[eventID]); n != 1 {
		t.Errorf("told %d times, want once: a refusal and a reserve hold nothing", n)
	}
}

func TestServiceStreamRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _ := newService(t)
	if _, err := svc.Stream(ctx, "x", ""); !errors.Is(err, domain.ErrEventNotFound) {
		t.Errorf("malformed event: %v", err)
	}
	if _, err := svc.Stream(ctx, eventID, "1"); !errors.Is(err, domain.ErrInvalidPosition) {
		t.Errorf("bad position: %v", err)
	}
	if _, err := svc.Stream(ctx, eventID, ""); !errors.Is(err, application.ErrNoStream) {
		t.Errorf("without a feed: %v", err)
	}
}

func TestServiceListVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, store := newService(t)
	v := domain.Version{Position: domain.Position{Ms: 5, Seq: 2}}
	store.EXPECT().ListVersion(ctx, domain.EventID(eventID)).Return(v, true, nil)
	if got, ok, err := svc.ListVersion(ctx, eventID); got != v || !ok || err != nil {
		t.Errorf("ListVersion = %v, %v, %v", got, ok, err)
	}
	store.EXPECT().ListVersion(ctx, domain.EventID(eventID)).Return(domain.Version{}, false, errStoreDown)
	if _, _, err := svc.ListVersion(ctx, eventID); !errors.Is(err, application.ErrUnavailable) {
		t.Errorf("store down: %v", err)
	}
	if _, _, err := svc.ListVersion(ctx, "*"); !errors.Is(err, domain.ErrEventNotFound) {
		t.Errorf("malformed id: %v", err)
	}
}

// record is a record at ms-0 of the seats numbers, held.
func record(ms uint64, numbers ...int) domain.Record {
	r := domain.Record{Position: domain.Position{Ms: ms}, Op: domain.OpHold}
	for _, n := range numbers {
		r.Seats = append(r.Seats, domain.Seat{ID: idsOf(n)[0], Status: domain.OnHold, Holder: "alice"})
	}
	return r
}

func TestServiceChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := domain.EventID(eventID)

	t.Run("a page never splits a record", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		records := []domain.Record{record(1, 1), record(2, 2, 3), record(3, 4)}
		store.EXPECT().Changes(ctx, e, domain.Position{}, 2).Return(records, nil)
		page, err := svc.Changes(ctx, application.ChangesQuery{Event: eventID, Limit: 2})
		if err != nil || len(page.Records) != 1 || page.Next != records[0].Position {
			t.Fatalf("page %+v, %v; want the first record alone", page, err)
		}
		store.EXPECT().Changes(ctx, e, records[0].Position, 1).Return(records[1:], nil)
		page, err = svc.Changes(ctx, application.ChangesQuery{Event: eventID, After: "1-0", Limit: 1})
		if err != nil || len(page.Records) != 1 || page.Next != records[1].Position {
			t.Fatalf("page %+v, %v; want the record of two, first on its page", page, err)
		}
		store.EXPECT().Changes(ctx, e, records[2].Position, 1).Return(nil, nil)
		page, err = svc.Changes(ctx, application.ChangesQuery{Event: eventID, After: "3-0", Limit: 1})
		if err != nil || len(page.Records) != 0 || page.Next != records[2].Position {
			t.Fatalf("past the end: %+v, %v", page, err)
		}
	})
	t.Run("from the oldest kept", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		trimmed := domain.Position{Ms: 7}
		store.EXPECT().Changes(ctx, e, domain.Position{}, 10).Return(nil, &application.TrimmedError{Last: trimmed})
		store.EXPECT().Changes(ctx, e, trimmed, 10).Return([]domain.Record{record(8, 1)}, nil)
		page, err := svc.Changes(ctx, application.ChangesQuery{Event: eventID, Limit: 10})
		if err != nil || len(page.Records) != 1 {
			t.Fatalf("page %+v, %v", page, err)
		}
		// With an after, trimmed is trimmed.
		store.EXPECT().Changes(ctx, e, domain.Position{}, 10).Return(nil, &application.TrimmedError{Last: trimmed})
		if _, err := svc.Changes(ctx, application.ChangesQuery{Event: eventID, After: "0-0", Limit: 10}); !errors.Is(err, application.ErrTrimmed) {
			t.Fatalf("after 0-0: %v, want ErrTrimmed", err)
		}
		store.EXPECT().Changes(ctx, e, domain.Position{}, 10).Return(nil, application.ErrTrimmed)
		if _, err := svc.Changes(ctx, application.ChangesQuery{Event: eventID, Limit: 10}); !errors.Is(err, application.ErrTrimmed) {
			t.Fatalf("a bare ErrTrimmed: %v", err)
		}
	})
	t.Run("one seat's changes, scanning at most 10,000 records", func(t *testing.T) {
		t.Parallel()
		svc, store := newService(t)
		store.EXPECT().Changes(ctx, e, gomock.Any(), 1000).DoAndReturn(func(_ context.Context, _ domain.EventID, after domain.Position, n int) ([]domain.Record, error) {
			out := make([]domain.Record, n)
			for i := range out {
				out[i] = record(after.Ms+uint64(i)+1, 1, 2)
			}
			return out, nil
		}).Times(10 + 1) // the scan, then the second page's one call
		page, err := svc.Changes(ctx, application.ChangesQuery{Event: eventID, Seat: seatsOf(3)[0], Limit: 5})
		if err != nil || len(page.Records) != 0 || page.Next != (domain.Position{Ms: 10_000}) {
			t.Fatalf("page %+v, %v; want none, next where the scan stopped", page, err)
		}
		page, err = svc.Changes(ctx, application.ChangesQuery{Event: eventID, Seat: seatsOf(2)[0], Limit: 3, After: "0-0"})
		want := []domain.Position{{Ms: 1}, {Ms: 2}, {Ms: 3}}
		var got []domain.Position
		for _, r := range page.Records {
			if len(r.Seats) != 1 || r.Seats[0].ID != idsOf(2)[0] {
				t.Fatalf("record %+v, want seat 2's change alone", r)
			}
			got = append(got, r.Position)
		}
		if err != nil || !slices.Equal(got, want) || page.Next != want[2] {
			t.Fatalf("page %v next %v, %v", got, page.Next, err)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		svc, _ := newService(t)
		for _, tt := range []struct {
			q    application.ChangesQuery
			want error
		}{
			{application.ChangesQuery{Event: "x", Limit: 1}, domain.ErrEventNotFound},
			{application.ChangesQuery{Event: eventID, After: "x", Limit: 1}, domain.ErrInvalidPosition},
			{application.ChangesQuery{Event: eventID, Limit: 0}, application.ErrInvalidLimit},
			{application.ChangesQuery{Event: eventID, Limit: 1001}, application.ErrInvalidLimit},
			{application.ChangesQuery{Event: eventID, Limit: 1, Seat: "x"}, domain.ErrInvalidSeatID},
			{application.ChangesQuery{Event: eventID, Limit: 1, Seat: otherID + ".1"}, domain.ErrSeatNotFound},
		} {
			if _, err := svc.Changes(ctx, tt.q); !errors.Is(err, tt.want) {
				t.Errorf("%+v: %v, want %v", tt.q, err, tt.want)
			}
		}
	})
}
