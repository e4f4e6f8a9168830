package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/seatres/reservation/adapters/httpapi"
	"github.com/seatres/reservation/adapters/memstore"
	"github.com/seatres/reservation/adapters/metrics"
	"github.com/seatres/reservation/api/client"
	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// Example is the README's: create an event, hold the 2 best adjacent seats
// for a buyer and reserve them. Here the service runs in the process, on
// the in-memory store.
func Example() {
	svc := application.NewService(memstore.New(time.Now), domain.HoldPolicy{TTL: time.Minute, MaxSeats: 6})
	srv := httptest.NewServer(httpapi.NewRouter(svc, zap.NewNop(), metrics.New()))
	defer srv.Close()
	base := srv.URL

	ctx := context.Background()
	api, err := client.NewClientWithResponses(base)
	check(err)
	created, err := api.CreateEventWithResponse(ctx, nil, client.CreateEventRequest{Name: "Concert", TotalSeats: 40, SeatsPerRow: new(10)})
	check(err)
	event := created.JSON201.ID
	held, err := api.HoldSeatsWithResponse(ctx, event, nil, client.HoldSeatsRequest{UUID: "alice", BestAvailable: &client.BestAvailable{Count: 2, Adjacent: new(true)}})
	check(err)
	ids := client.SeatIDs{held.JSON200.Seats[0].ID, held.JSON200.Seats[1].ID}
	reserved, err := api.ReserveSeatsWithResponse(ctx, event, nil, client.ReserveSeatsRequest{UUID: "alice", IDs: ids})
	check(err)
	fmt.Println(reserved.StatusCode(), reserved.JSON200.Message, reserved.JSON200.Seats[1].ID == event+".2", reserved.JSON200.Seats[1].Status)
	// Output: 200 Seats reserved true Reserved
}

func init() { gin.SetMode(gin.ReleaseMode) } // no route listing on stdout

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
