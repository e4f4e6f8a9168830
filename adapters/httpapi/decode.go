package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// maxBodyBytes caps request bodies. The largest valid one is a cart of
// domain.MaxHoldSeats seat ids, some 45 bytes each, under it even indented
// (TestLargestCart): anything larger is not a client of this API.
const maxBodyBytes = 16 << 10

var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Errors of the members' values, which package json reports with the JSON
// pointer of the member.
var (
	errNull       = errors.New("must not be null")
	errNotInteger = errors.New("must be an integer")
)

// decodeOptions make package json (the json/v2 prototype) read bodies as
// strictly as the contract says. It matches member names exactly and
// refuses duplicate names, invalid UTF-8 and data after the value by
// default; unknown members are refused too, null is no string (in an
// array, where no member type stands guard), and integers read as the
// schema validators read them.
var decodeOptions = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.WithUnmarshalers(json.JoinUnmarshalers(
		json.UnmarshalFromFunc(refuseNullString),
		json.UnmarshalFromFunc(readInteger),
	)),
)

// decodeBody reads the request's body, a JSON object, into v, a pointer to
// a struct of members.
func decodeBody(c *gin.Context, v any) error {
	if !isJSON(c.GetHeader("Content-Type")) {
		return errMediaType
	}
	buf := bodies.Get().(*bytes.Buffer)
	defer bodies.Put(buf)
	buf.Reset()
	// One byte more than the cap tells a body at the cap from a larger one.
	if _, err := buf.ReadFrom(io.LimitReader(c.Request.Body, maxBodyBytes+1)); err != nil {
		return fmt.Errorf("%w: reading the body: %v", errInvalidJSON, err)
	}
	if buf.Len() > maxBodyBytes {
		return errBodyTooLarge
	}
	if err := json.Unmarshal(buf.Bytes(), v, decodeOptions); err != nil {
		return jsonError(err)
	}
	// null is the one value other than an object that a struct takes.
	if bytes.TrimLeft(buf.Bytes(), " \t\r\n")[0] != '{' {
		return fmt.Errorf("%w: the body must be an object", errInvalidJSON)
	}
	return nil
}

// member is an object member that a body may leave out; set tells whether
// it was there. Package json would read null as the zero value, which a
// client may mean as a value or as no member: it is refused instead.
type member[T any] struct {
	value T
	set   bool
}

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (m *member[T]) UnmarshalJSONFrom(d *jsontext.Decoder) error {
	if d.PeekKind() == 'n' {
		return errNull
	}
	m.set = true
	return json.UnmarshalDecode(d, &m.value)
}

// required returns the value of a member the body must have; pointer is
// the member's JSON pointer, for the error.
func (m member[T]) required(pointer string) (T, error) {
	if !m.set {
		return m.value, fmt.Errorf("%w: missing member %q", errInvalidJSON, pointer)
	}
	return m.value, nil
}

func refuseNullString(d *jsontext.Decoder, _ *string) error {
	if d.PeekKind() == 'n' {
		return errNull
	}
	return errors.ErrUnsupported // package json reads the string
}

// readInteger reads a JSON number of integral value. JSON has no integer
// type: 10, 10.0 and 1e1 are the same number, as the contract's schema
// validators see it. A number beyond int32 saturates: it is beyond every
// limit, which the use case then reports as the member's own error.
func readInteger(d *jsontext.Decoder, n *int) error {
	tok, err := d.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != '0' {
		return errNotInteger
	}
	x, err := tok.Float()
	if err != nil || x != math.Trunc(x) {
		return errNotInteger
	}
	*n = int(max(min(x, math.MaxInt32), math.MinInt32))
	return nil
}

// jsonError is what a client reads of an error of package json: where, as
// a JSON pointer, and what is wrong in JSON's terms, not in the Go types
// of this package.
func jsonError(err error) error {
	var se *json.SemanticError
	if !errors.As(err, &se) {
		return fmt.Errorf("%w: %v", errInvalidJSON, err) // syntax: jsontext says what and where
	}
	if se.Err == json.ErrUnknownName {
		return fmt.Errorf("%w: unknown member %q", errInvalidJSON, se.JSONPointer)
	}
	where := "the body"
	if se.JSONPointer != "" {
		where = fmt.Sprintf("member %q", se.JSONPointer)
	}
	if se.Err != nil {
		return fmt.Errorf("%w: %s %v", errInvalidJSON, where, se.Err)
	}
	return fmt.Errorf("%w: %s must be %s", errInvalidJSON, where, jsonType(se.GoType))
}

// jsonType names the JSON type that a Go type of the bodies reads.
func jsonType(t reflect.Type) string {
	if t == nil {
		return "of another type" // package json may not know the type
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "an array"
	default:
		return "an object"
	}
}

// isJSON reports whether a Content-Type is application/json, whatever its
// parameters (JSON is always UTF-8).
func isJSON(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "application/json")
}
