package application_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/mock/gomock"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/application/mocks"
	"github.com/seatres/reservation/domain"
)

// TestCreateOwnedEvent: a create with an owner hands the store the owner
// and the service's cap; without one, the plain create.
func TestCreateOwnedEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name      string
		giveMax   int
		giveOwner string
		wantQuota *application.Quota // nil: CreateEvent
	}{
		{"owner with a cap", 3, "box-office", &application.Quota{Owner: "box-office", Max: 3}},
		{"owner without a cap", 0, "box-office", &application.Quota{Owner: "box-office"}},
		{"no owner", 3, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := mocks.NewMockStore(gomock.NewController(t))
			svc := application.NewService(store, policy, application.WithMaxEventsPerOwner(tt.giveMax))
			if tt.wantQuota != nil {
				store.EXPECT().CreateOwnedEvent(ctx, gomock.Any(), *tt.wantQuota).Return(nil)
			} else {
				store.EXPECT().CreateEvent(ctx, gomock.Any()).Return(nil)
			}
			if _, err := svc.CreateEvent(ctx, application.NewEvent{Name: "Concert", TotalSeats: 10, Owner: tt.giveOwner}); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("passes the quota's refusal on", func(t *testing.T) {
		t.Parallel()
		store := mocks.NewMockStore(gomock.NewController(t))
		svc := application.NewService(store, policy, application.WithMaxEventsPerOwner(1))
		store.EXPECT().CreateOwnedEvent(ctx, gomock.Any(), gomock.Any()).Return(domain.ErrQuotaExceeded)
		if _, err := svc.CreateEvent(ctx, application.NewEvent{Name: "Concert", TotalSeats: 10, Owner: "k"}); !errors.Is(err, domain.ErrQuotaExceeded) {
			t.Fatalf("CreateEvent past the quota: %v, want %v", err, domain.ErrQuotaExceeded)
		}
	})
}

func TestDeleteEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	full := errors.Join(application.ErrStoreFull, errRedis)
	tests := []struct {
		name      string
		give      string
		storeErr  error
		wantStore bool
		want      error
	}{
		{"deleted", eventID, nil, true, nil},
		{"not there", eventID, domain.ErrEventNotFound, true, domain.ErrEventNotFound},
		{"store down", eventID, errStoreDown, true, application.ErrUnavailable},
		{"store full", eventID, full, true, application.ErrStoreFull},
		{"no event id", "not-an-id", nil, false, domain.ErrEventNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc, store := newService(t)
			if tt.wantStore {
				store.EXPECT().DeleteEvent(ctx, domain.EventID(tt.give)).Return(tt.storeErr)
			}
			if err := svc.DeleteEvent(ctx, tt.give); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("DeleteEvent(%q) = %v, want %v", tt.give, err, tt.want)
			}
		})
	}
}
