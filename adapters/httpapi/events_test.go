package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/seatres/reservation/domain"
)

func TestCreateEvent(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	created := decode[eventJSON](t, a.post("/events/create", `{"name":"Spring concert","totalSeats":100}`), http.StatusCreated)
	if _, err := domain.ParseEventID(created.ID); err != nil {
		t.Errorf("id %q is not a canonical UUID", created.ID)
	}
	if created.Name != "Spring concert" || created.TotalSeats != 100 || created.SeatsPerRow != 100 {
		t.Errorf("created %+v", created)
	}
	if got := decode[eventJSON](t, a.get("/events/"+created.ID), http.StatusOK); got != created {
		t.Errorf("GET /events/%s = %+v, want %+v", created.ID, got, created)
	}
	list := decode[listJSON](t, a.get("/seats/list/"+created.ID), http.StatusOK)
	if list.Total != 100 || len(list.Seats) != 100 || list.Event != created {
		t.Fatalf("list: total %d, %d seats, event %+v", list.Total, len(list.Seats), list.Event)
	}
	for i, s := range list.Seats {
		want := seatJSON{ID: seatOf(created, i+1), EventID: created.ID, Status: "Available"}
		if s != want {
			t.Errorf("seat %d = %+v, want %+v", i+1, s, want)
		}
	}
}

// TestCreateEventAccepts: values at the limits, and bodies clients may
// send, are accepted and kept exactly.
func TestCreateEventAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		body        string
		want        eventJSON
	}{
		{"fewest seats", "application/json", `{"name":"a","totalSeats":10}`, eventJSON{Name: "a", TotalSeats: 10}},
		{"most seats", "application/json", `{"totalSeats":10000,"name":"a"}`, eventJSON{Name: "a", TotalSeats: 10000}},
		{"integral float", "application/json", `{"name":"a","totalSeats":1.2e1}`, eventJSON{Name: "a", TotalSeats: 12}},
		{"longest name", "application/json", `{"name":"` + strings.Repeat("x", 200) + `","totalSeats":10}`,
			eventJSON{Name: strings.Repeat("x", 200), TotalSeats: 10}},
		{"200 two-byte characters", "application/json", `{"name":"` + strings.Repeat("é", 200) + `","totalSeats":10}`,
			eventJSON{Name: strings.Repeat("é", 200), TotalSeats: 10}},
		{"escapes", "application/json", `{"name":"\"q\" \\ \u00e9 \u65e5 <&> \ud83c\udfab","totalSeats":10}`,
			eventJSON{Name: `"q" \ é 日 <&> 🎫`, TotalSeats: 10}},
		{"blanks around", "application/json", `{"name":"  Spring  ","totalSeats":10}`, eventJSON{Name: "  Spring  ", TotalSeats: 10}},
		{"charset parameter", "Application/JSON; charset=utf-8", `{"name":"a","totalSeats":10}`, eventJSON{Name: "a", TotalSeats: 10}},
		{"white space everywhere", "application/json", " {\t\"name\" :\r\n\"a\" , \"totalSeats\"\n:\n10 }\n", eventJSON{Name: "a", TotalSeats: 10}},
		{"escaped member name", "application/json", `{"\u006eame":"a","totalSeats":10}`, eventJSON{Name: "a", TotalSeats: 10}},
		{"name ending in a backslash", "application/json", `{"name":"a\\","totalSeats":10}`, eventJSON{Name: `a\`, TotalSeats: 10}},
		{"body of exactly the cap", "application/json", padTo(`{"name":"a","totalSeats":10}`, maxBodyBytes),
			eventJSON{Name: "a", TotalSeats: 10}},
		{"rows", "application/json", `{"name":"a","totalSeats":100,"seatsPerRow":12}`, eventJSON{Name: "a", TotalSeats: 100, SeatsPerRow: 12}},
		{"rows of one seat", "application/json", `{"seatsPerRow":1,"name":"a","totalSeats":10}`, eventJSON{Name: "a", TotalSeats: 10, SeatsPerRow: 1}},
		{"one row asked for", "application/json", `{"name":"a","totalSeats":10,"seatsPerRow":10}`, eventJSON{Name: "a", TotalSeats: 10, SeatsPerRow: 10}},
		{"integral float rows", "application/json", `{"name":"a","totalSeats":10,"seatsPerRow":5.0}`, eventJSON{Name: "a", TotalSeats: 10, SeatsPerRow: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, defaultPolicy)
			got := decode[eventJSON](t, a.do(http.MethodPost, "/events/create", tt.contentType, tt.body), http.StatusCreated)
			tt.want.ID = got.ID
			if tt.want.SeatsPerRow == 0 {
				tt.want.SeatsPerRow = tt.want.TotalSeats // one row unless asked
			}
			if got != tt.want {
				t.Errorf("created %+v, want %+v", got, tt.want)
			}
			if again := decode[eventJSON](t, a.get("/events/"+got.ID), http.StatusOK); again != got {
				t.Errorf("read back %+v, want %+v", again, got)
			}
		})
	}
}

// padTo pads a JSON body with trailing blanks to n bytes.
func padTo(body string, n int) string { return body + strings.Repeat(" ", n-len(body)) }

func TestCreateEventRefusals(t *testing.T) {
	t.Parallel()
	const (
		badJSON  = "INVALID_JSON"
		badName  = "INVALID_NAME"
		badSeats = "INVALID_TOTAL_SEATS"
		badRows  = "INVALID_SEATS_PER_ROW"
	)
	valid := `{"name":"a","totalSeats":10}`
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"empty body", "application/json", "", 400, badJSON},
		{"blank body", "application/json", "  \n", 400, badJSON},
		{"unclosed object", "application/json", `{"name":"a","totalSeats":10`, 400, badJSON},
		{"unquoted key", "application/json", `{name:"a","totalSeats":10}`, 400, badJSON},
		{"missing comma", "application/json", `{"name":"a" "totalSeats":10}`, 400, badJSON},
		{"trailing comma", "application/json", `{"name":"a","totalSeats":10,}`, 400, badJSON},
		{"null body", "application/json", `null`, 400, badJSON},
		{"array body", "application/json", `[` + valid + `]`, 400, badJSON},
		{"string body", "application/json", `"a"`, 400, badJSON},
		{"unknown field", "application/json", `{"name":"a","totalSeats":10,"seats":[]}`, 400, badJSON},
		{"field in other case", "application/json", `{"Name":"a","totalSeats":10}`, 400, badJSON},
		{"duplicate field", "application/json", `{"name":"a","name":"b","totalSeats":10}`, 400, badJSON},
		{"missing name", "application/json", `{"totalSeats":10}`, 400, badJSON},
		{"missing totalSeats", "application/json", `{"name":"a"}`, 400, badJSON},
		{"empty object", "application/json", `{}`, 400, badJSON},
		{"null name", "application/json", `{"name":null,"totalSeats":10}`, 400, badJSON},
		{"number name", "application/json", `{"name":5,"totalSeats":10}`, 400, badJSON},
		{"object name", "application/json", `{"name":{"a":1},"totalSeats":10}`, 400, badJSON},
		{"deeply nested name", "application/json", `{"name":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `,"totalSeats":10}`, 400, badJSON},
		{"nested beyond any depth", "application/json", `{"name":` + strings.Repeat("[", 15000), 400, badJSON},
		{"byte order mark", "application/json", "\ufeff" + valid, 400, badJSON},
		{"not UTF-8", "application/json", "{\"name\":\"\xff\",\"totalSeats\":10}", 400, badJSON},
		{"lone surrogate", "application/json", `{"name":"a\ud800","totalSeats":10}`, 400, badJSON},
		{"escaped quote in a member name", "application/json", `{"name\"":"a","totalSeats":10}`, 400, badJSON},
		{"data after the object", "application/json", valid + `{}`, 400, badJSON},
		{"garbage after the object", "application/json", valid + ` x`, 400, badJSON},
		{"closing brace after the object", "application/json", valid + `}`, 400, badJSON},
		{"empty name", "application/json", `{"name":"","totalSeats":10}`, 400, badName},
		{"blank name", "application/json", `{"name":"  \u00a0\u3000","totalSeats":10}`, 400, badName},
		{"name with tab", "application/json", `{"name":"a\tb","totalSeats":10}`, 400, badName},
		{"name too long", "application/json", `{"name":"` + strings.Repeat("x", 201) + `","totalSeats":10}`, 400, badName},
		{"name with newline", "application/json", `{"name":"a\nb","totalSeats":10}`, 400, badName},
		{"name with NUL", "application/json", `{"name":"a\u0000","totalSeats":10}`, 400, badName},
		{"name with C1 control", "application/json", `{"name":"a\u0085","totalSeats":10}`, 400, badName},
		{"9 seats", "application/json", `{"name":"a","totalSeats":9}`, 400, badSeats},
		{"10001 seats", "application/json", `{"name":"a","totalSeats":10001}`, 400, badSeats},
		{"negative seats", "application/json", `{"name":"a","totalSeats":-10}`, 400, badSeats},
		{"10^10 seats", "application/json", `{"name":"a","totalSeats":1e10}`, 400, badSeats},
		{"fractional seats", "application/json", `{"name":"a","totalSeats":10.5}`, 400, badJSON},
		{"seats as a string", "application/json", `{"name":"a","totalSeats":"10"}`, 400, badJSON},
		{"seats as a boolean", "application/json", `{"name":"a","totalSeats":true}`, 400, badJSON},
		{"null seats", "application/json", `{"name":"a","totalSeats":null}`, 400, badJSON},
		{"seats beyond float64", "application/json", `{"name":"a","totalSeats":1e400}`, 400, badJSON},
		{"0 seats per row", "application/json", `{"name":"a","totalSeats":10,"seatsPerRow":0}`, 400, badRows},
		{"negative seats per row", "application/json", `{"name":"a","totalSeats":10,"seatsPerRow":-1}`, 400, badRows},
		{"rows longer than the event", "application/json", `{"name":"a","totalSeats":10,"seatsPerRow":11}`, 400, badRows},
		{"10^10 seats per row", "application/json", `{"name":"a","totalSeats":10,"seatsPerRow":1e10}`, 400, badRows},
		{"fractional seats per row", "application/json", `{"name":"a","totalSeats":10,"seatsPerRow":2.5}`, 400, badJSON},
		{"seats per row as a string", "application/json", `{"name":"a","totalSeats":10,"seatsPerRow":"2"}`, 400, badJSON},
		{"null seats per row", "application/json", `{"name":"a","totalSeats":10,"seatsPerRow":null}`, 400, badJSON},
		{"duplicate seats per row", "application/json", `{"name":"a","totalSeats":10,"seatsPerRow":2,"seatsPerRow":5}`, 400, badJSON},
		{"seats per row in other case", "application/json", `{"name":"a","totalSeats":10,"seatsperrow":2}`, 400, badJSON},
		{"no content type", "", valid, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"text/plain", "text/plain", valid, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"form", "application/x-www-form-urlencoded", "name=a&totalSeats=10", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"json-like media type", "application/jsonl", valid, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"one byte over the cap", "application/json", padTo(valid, maxBodyBytes+1), 413, "BODY_TOO_LARGE"},
		{"huge name", "application/json", `{"name":"` + strings.Repeat("x", 1<<20) + `","totalSeats":10}`, 413, "BODY_TOO_LARGE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, defaultPolicy)
			wantError(t, a.do(http.MethodPost, "/events/create", tt.contentType, tt.body), tt.status, tt.code)
		})
	}
}

func TestGetEvent(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(10)
	for _, id := range []string{
		"0b6c3c1e-8a52-4c5e-9a57-0f6a3d2b9e10", // well formed, unknown
		strings.ToUpper(e.ID),                  // ids are exact
		e.ID + ".1",                            // a seat, not an event
		"x",
		"%7B" + e.ID + "%7D", // {id}: a Redis hash tag
		"*",
		e.ID + ":1",
		e.ID + "%0A",
		"%20" + e.ID,
		strings.Repeat("a", 10000),
	} {
		wantError(t, a.get("/events/"+id), http.StatusNotFound, "EVENT_NOT_FOUND")
	}
}
