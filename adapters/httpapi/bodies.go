package httpapi

import (
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/seatres/reservation/application"
	"github.com/seatres/reservation/domain"
)

// The request bodies, member for member as api/openapi.yaml has them, and
// what each asks of the use cases. Package json refuses any member a type
// does not name.
type (
	createBody struct {
		Name        member[string] `json:"name"`
		TotalSeats  member[int]    `json:"totalSeats"`
		SeatsPerRow member[int]    `json:"seatsPerRow"`
	}

	// seatBody is the body of the original one-seat hold, refresh and
	// reserve.
	seatBody struct {
		ID   member[string] `json:"id"`
		UUID member[string] `json:"UUID"`
	}

	// cartBody is the body of a cart's release and reserve; hold adds
	// bestAvailable to it.
	cartBody struct {
		UUID member[string]   `json:"UUID"`
		IDs  member[[]string] `json:"ids"`
	}

	holdBody struct {
		cartBody                  // inlined: its members are the hold's own
		Best     member[bestBody] `json:"bestAvailable"`
	}

	bestBody struct {
		Count    member[int]  `json:"count"`
		Adjacent member[bool] `json:"adjacent"` // false when left out
	}

	refreshBody struct {
		UUID member[string] `json:"UUID"`
	}
)

func readCreate(c *gin.Context) (application.NewEvent, error) {
	var b createBody
	if err := decodeBody(c, &b); err != nil {
		return application.NewEvent{}, err
	}
	name, err := b.Name.required("/name")
	if err != nil {
		return application.NewEvent{}, err
	}
	seats, err := b.TotalSeats.required("/totalSeats")
	if err != nil {
		return application.NewEvent{}, err
	}
	// The use case reads 0 as one row, which a client asks for by leaving
	// the member out: a 0 it sends is out of the member's range.
	if b.SeatsPerRow.set && b.SeatsPerRow.value < 1 {
		return application.NewEvent{}, domain.ErrInvalidSeatsPerRow
	}
	return application.NewEvent{Name: name, TotalSeats: seats, SeatsPerRow: b.SeatsPerRow.value}, nil
}

// readSeat reads the body of a one-seat change: the seat's id and the UUID.
func readSeat(c *gin.Context) (id, user string, err error) {
	var b seatBody
	if err := decodeBody(c, &b); err != nil {
		return "", "", err
	}
	if id, err = b.ID.required("/id"); err != nil {
		return "", "", err
	}
	user, err = b.UUID.required("/UUID")
	return id, user, err
}

// request is the cart request of the body's members; IDs stays nil when
// the body has no ids.
func (b cartBody) request() (application.CartRequest, error) {
	user, err := b.UUID.required("/UUID")
	return application.CartRequest{User: user, IDs: b.IDs.value}, err
}

// readHold reads a hold of the seats ids, or of the best available ones:
// exactly one of the two.
func readHold(c *gin.Context) (application.CartRequest, error) {
	var b holdBody
	if err := decodeBody(c, &b); err != nil {
		return application.CartRequest{}, err
	}
	if b.IDs.set == b.Best.set {
		return application.CartRequest{}, fmt.Errorf(`%w: exactly one of "/ids" and "/bestAvailable" is required`, errInvalidJSON)
	}
	r, err := b.request()
	if err != nil || !b.Best.set {
		return r, err
	}
	count, err := b.Best.value.Count.required("/bestAvailable/count")
	r.Best = &domain.BestAvailable{Count: count, Adjacent: b.Best.value.Adjacent.value}
	return r, err
}

// readRelease reads a release of the seats ids, or without ids of every
// live hold of the UUID.
func readRelease(c *gin.Context) (application.CartRequest, error) {
	var b cartBody
	if err := decodeBody(c, &b); err != nil {
		return application.CartRequest{}, err
	}
	return b.request()
}

func readReserve(c *gin.Context) (application.CartRequest, error) {
	var b cartBody
	if err := decodeBody(c, &b); err != nil {
		return application.CartRequest{}, err
	}
	if _, err := b.IDs.required("/ids"); err != nil {
		return application.CartRequest{}, err
	}
	return b.request()
}

// readRefresh reads a refresh, which extends every live hold of the UUID.
func readRefresh(c *gin.Context) (application.CartRequest, error) {
	var b refreshBody
	if err := decodeBody(c, &b); err != nil {
		return application.CartRequest{}, err
	}
	user, err := b.UUID.required("/UUID")
	return application.CartRequest{User: user}, err
}
