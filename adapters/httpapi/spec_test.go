package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"

	"github.com/seatres/reservation/api"
)

// The contract, loaded once for every test. Loading validates the document
// and its examples against its own schemas.
var (
	spec       *openapi3.T
	specRouter routers.Router
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	var err error
	if spec, specRouter, err = loadSpec(); err != nil {
		println("api/openapi.yaml:", err.Error())
		os.Exit(1)
	}
	openapi3filter.RegisterBodyDecoder("text/event-stream", decodeEventStream)
	goleak.VerifyTestMain(m)
}

func loadSpec() (*openapi3.T, routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		return nil, nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, nil, err
	}
	// The router matches a request's host against the servers that the
	// document lists for its readers (localhost:8080); the tests' requests
	// go to other hosts, so it matches paths on any host.
	anyHost := *doc
	anyHost.Servers = nil
	router, err := gorillamux.NewRouter(&anyHost)
	return doc, router, err
}

// specOptions make an undocumented status code a failure. Credentials are
// not the validator's to check: the guard's own tests check them, and every
// operation also allows none (security is off by default).
var specOptions = &openapi3filter.Options{
	IncludeResponseStatus: true,
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
}

// checkContract fails t unless the response rec to the request (whose body
// was body) is one that api/openapi.yaml describes; a request that
// succeeded must also be one that it allows.
func checkContract(t *testing.T, req *http.Request, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	in, err := specInput(req, body)
	if err != nil {
		// No operation: only a JSON 404 or 405 answers it.
		code := errorCode(t, rec)
		if !(rec.Code == http.StatusNotFound && code == "NOT_FOUND" ||
			rec.Code == http.StatusMethodNotAllowed && code == "METHOD_NOT_ALLOWED") {
			t.Errorf("%s %q is no operation of the spec (%v) but got %d %s", req.Method, req.URL.Path, err, rec.Code, rec.Body)
		}
		if err := spec.Components.Schemas["Error"].Value.VisitJSON(decodeAny(t, rec.Body.Bytes())); err != nil {
			t.Errorf("%s %q: error body does not match the Error schema: %v", req.Method, req.URL.Path, err)
		}
		return
	}
	ctx := context.Background()
	if rec.Code < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			t.Errorf("%s %q succeeded but the spec refuses the request: %v", req.Method, req.URL.Path, err)
		}
	}
	err = openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(gunzipped(t, rec))), // lists_test.go
		Options:                specOptions,
	})
	if err != nil {
		t.Errorf("%s %q: response %d does not match the spec: %v\n%s", req.Method, req.URL.Path, rec.Code, err, rec.Body)
	}
}

// specInput finds the spec's operation for a request whose body was body.
func specInput(req *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	// A fresh request with the same body: the one served has been read.
	again := req.Clone(context.Background())
	again.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := specRouter.FindRoute(again)
	if errors.Is(err, routers.ErrMethodNotAllowed) && req.Method == http.MethodHead {
		// HEAD of a path without its own is its GET, body and all (the
		// spec's rule; a recorder keeps the body that net/http drops).
		again.Method = http.MethodGet
		route, params, err = specRouter.FindRoute(again)
	}
	if err != nil {
		return nil, err
	}
	return &openapi3filter.RequestValidationInput{Request: again, PathParams: params, Route: route, Options: specOptions}, nil
}

// TestSpecAgreesOnLimits: a member's value that the service accepts is one
// the spec allows, and a value it refuses is one the spec refuses.
func TestSpecAgreesOnLimits(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	e := a.createEvent(100)
	texts := []string{
		"", " ", "a", " a ", "\u00a0", "\u3000", "\u2028", "\u180e", "\ufeff", "a\u2028b", "a\nb", "\t", "a\u0000",
		"a\u007f", "a\u0085", "a\u009f", "a\u00a0b", "日本", "🎫",
		strings.Repeat("x", 128), strings.Repeat("x", 129), strings.Repeat("é", 128), strings.Repeat("🎫", 129),
		strings.Repeat("x", 200), strings.Repeat("x", 201), strings.Repeat("é", 200), strings.Repeat("🎫", 201),
	}
	type probe struct{ path, body string }
	var probes []probe
	for i, s := range texts {
		name, _ := json.Marshal(map[string]any{"name": s, "totalSeats": 10})
		probes = append(probes, probe{"/events/create", string(name)},
			probe{holdPath, seatRequest(seatOf(e, i+1), s)})
	}
	for _, n := range []string{"9", "10", "10.0", "1e1", "10.5", "-10", "10000", "10001", "1e10"} {
		probes = append(probes, probe{"/events/create", `{"name":"a","totalSeats":` + n + `}`})
	}
	probes = append(probes, probe{holdPath, seatRequest("", "alice")})
	for _, n := range []string{"0", "1", "1.0", "1.5", "-1", "10000", "10001", "1e10", "null", `"5"`} {
		probes = append(probes, probe{"/events/create", `{"name":"a","totalSeats":10000,"seatsPerRow":` + n + `}`})
	}
	hold := cartPath(e.ID, opHold)
	for i, n := range []string{"0", "1", "1.0", "6", "1.5", "-1", "null", "true"} {
		probes = append(probes, probe{hold, `{"UUID":"count-` + strconv.Itoa(i) + `","bestAvailable":{"count":` + n + `}}`})
	}
	for i, ids := range [][]string{nil, {}, {""}, {seatOf(e, 60)}, {seatOf(e, 61), seatOf(e, 62)}, {seatOf(e, 63), seatOf(e, 63)}} {
		probes = append(probes, probe{hold, idsBody("ids-"+strconv.Itoa(i), ids...)},
			probe{cartPath(e.ID, opRelease), idsBody("ids-"+strconv.Itoa(i), ids...)})
	}
	probes = append(probes,
		probe{hold, `{"UUID":"both","ids":["` + seatOf(e, 70) + `"],"bestAvailable":{"count":1}}`},
		probe{hold, `{"UUID":"adjacent","bestAvailable":{"count":1,"adjacent":true}}`},
		probe{cartPath(e.ID, opRelease), `{"UUID":"alice","ids":null}`},
		probe{cartPath(e.ID, opRefresh), `{"UUID":"alice","ids":["` + seatOf(e, 1) + `"]}`},
	)
	for _, p := range probes {
		req := httptest.NewRequest(http.MethodPost, p.path, strings.NewReader(p.body))
		req.Header.Set("Content-Type", "application/json")
		in, err := specInput(req, []byte(p.body))
		if err != nil {
			t.Fatal(err)
		}
		specErr := openapi3filter.ValidateRequest(context.Background(), in)
		r := a.post(p.path, p.body)
		if accepted := r.Code < 300; accepted != (specErr == nil) {
			t.Errorf("POST %s %s: service answered %d %s, spec says %v", p.path, p.body, r.Code, r.Body, specErr)
		}
	}
}

func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct{ Code string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	return e.Code
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return v
}

// TestRoutesMatchSpec: every operation of the spec is a route, and every
// route is an operation, except those that answer 405 where a concrete path
// of the spec shadows a templated one (the unknown-method test checks them)
// and the HEADs that the spec names only by its rule: the twin of each GET
// (TestHeadAnswersAsGet checks them).
func TestRoutesMatchSpec(t *testing.T) {
	t.Parallel()
	var ops []string
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	param := regexp.MustCompile(`:(\w+)`)
	var routes []string
	for _, r := range newAPI(t, defaultPolicy).router.Routes() {
		path := param.ReplaceAllString(r.Path, "{$1}")
		route := r.Method + " " + path
		if !slices.Contains(ops, route) && spec.Paths.Value(path) != nil {
			continue // a shadowing 405, or the HEAD of a GET
		}
		routes = append(routes, route)
	}
	slices.Sort(routes)
	slices.Sort(ops)
	if !slices.Equal(routes, ops) {
		t.Errorf("router and spec differ\nrouter: %q\nspec:   %q", routes, ops)
	}
}

// TestErrorCodesMatchSpec: the error table and the spec's ErrorCode enum
// name the same codes.
func TestErrorCodesMatchSpec(t *testing.T) {
	t.Parallel()
	var table []string
	for _, e := range errorTable {
		table = append(table, e.code)
	}
	var enum []string
	for _, v := range spec.Components.Schemas["ErrorCode"].Value.Enum {
		enum = append(enum, v.(string))
	}
	slices.Sort(table)
	table = slices.Compact(table) // refusals may share a code (HOLD_LIFETIME_REACHED)
	slices.Sort(enum)
	if !slices.Equal(table, enum) {
		t.Errorf("error table and spec differ\ntable: %q\nspec:  %q", table, enum)
	}
}

// TestSpecServed: GET /openapi.yaml answers the embedded document.
func TestSpecServed(t *testing.T) {
	t.Parallel()
	a := newAPI(t, defaultPolicy)
	r := a.do(http.MethodGet, "/openapi.yaml", "", "")
	if r.Code != http.StatusOK || !bytes.Equal(r.Body.Bytes(), api.OpenAPI) {
		t.Fatalf("got %d, %d bytes; want 200 and the %d bytes of api/openapi.yaml", r.Code, r.Body.Len(), len(api.OpenAPI))
	}
	if ct := r.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
		t.Errorf("Content-Type = %q", ct)
	}
}

// streamEventSchemas are the schemas of the data of the stream's events,
// by event name, as the spec names them (x-events of the stream's 200).
var streamEventSchemas = sync.OnceValues(func() (map[string]*openapi3.Schema, error) {
	op := spec.Paths.Value("/events/{id}/stream").Get
	media := op.Responses.Status(http.StatusOK).Value.Content["text/event-stream"]
	events, ok := media.Extensions["x-events"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the stream's 200 has no x-events: %v", media.Extensions)
	}
	out := map[string]*openapi3.Schema{}
	for name, v := range events {
		ref, _ := v.(map[string]any)["$ref"].(string)
		schema := spec.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		if schema == nil {
			return nil, fmt.Errorf("x-events %s: no schema %q", name, ref)
		}
		out[name] = schema.Value
	}
	return out, nil
})

// checkStreamEvent fails t unless m is an event of the spec's stream whose
// data matches that event's schema.
func checkStreamEvent(t *testing.T, m sseMessage) {
	t.Helper()
	schemas, err := streamEventSchemas()
	if err != nil {
		t.Fatal(err)
	}
	schema := schemas[m.event]
	if schema == nil {
		t.Errorf("event %q is no event of the spec's stream", m.event)
		return
	}
	if err := schema.VisitJSON(decodeAny(t, []byte(m.data))); err != nil {
		t.Errorf("event %s: data does not match the spec: %v\n%s", m.event, err, m.data)
	}
}

// decodeEventStream is the validator's decoder of a stream's body: it
// checks each event's data against its schema (streamEventSchemas), and
// answers the body as the string the spec's schema says it is.
func decodeEventStream(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	schemas, err := streamEventSchemas()
	if err != nil {
		return nil, err
	}
	for block := range strings.SplitSeq(string(b), "\n\n") {
		var event, data string
		for line := range strings.Lines(block) {
			name, value, _ := strings.Cut(strings.TrimSuffix(line, "\n"), ": ")
			switch name {
			case "event":
				event = value
			case "data":
				data = value
			}
		}
		if event == "" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return nil, fmt.Errorf("event %s: data %q: %w", event, data, err)
		}
		if schemas[event] == nil {
			return nil, fmt.Errorf("event %q is no event of the stream", event)
		}
		if err := schemas[event].VisitJSON(v); err != nil {
			return nil, fmt.Errorf("event %s: %w", event, err)
		}
	}
	return string(b), nil
}
