package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// maxBodyBytes caps request bodies: the largest valid one is well under
// 2 KiB, so anything near this is not a client of this API.
const maxBodyBytes = 16 << 10

// field is one member of a request object and where its value goes:
// exactly one of text and integer is set.
type field struct {
	name    string
	text    *string
	integer *int
}

var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// decodeBody reads a JSON object with exactly the given members.
//
// encoding/json would match member names case-insensitively, let a
// duplicate member win silently and take null for "absent", accepting
// bodies the contract refuses; its token API allocates for every value.
// So the body is checked with json.Valid and its members, flat by
// contract, are then read straight from the bytes.
func decodeBody(c *gin.Context, fields ...field) error {
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
	return decodeObject(buf.Bytes(), fields)
}

func decodeObject(body []byte, fields []field) error {
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: the body is not UTF-8", errInvalidJSON)
	}
	if !json.Valid(body) {
		if len(bytes.TrimSpace(body)) == 0 {
			return fmt.Errorf("%w: the body is empty", errInvalidJSON)
		}
		// Unmarshal checks the syntax before anything else: its error
		// says what is wrong where.
		return fmt.Errorf("%w: %v", errInvalidJSON, json.Unmarshal(body, new(struct{})))
	}
	r := validJSON{b: body}
	if r.peek() != '{' {
		return fmt.Errorf("%w: the body must be a JSON object", errInvalidJSON)
	}
	r.i++
	var seen uint64 // bit i: fields[i] was read
	for r.peek() != '}' {
		name, _ := unquote(r.scalar())
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
		if i < 0 {
			return fmt.Errorf("%w: unknown field %q", errInvalidJSON, name)
		}
		if seen&(1<<i) != 0 {
			return fmt.Errorf("%w: duplicate field %q", errInvalidJSON, name)
		}
		seen |= 1 << i
		r.peek()
		r.i++ // ':'
		r.peek()
		if err := fields[i].set(r.scalar()); err != nil {
			return err
		}
		if r.peek() == ',' {
			r.i++
		}
	}
	for i, f := range fields {
		if seen&(1<<i) == 0 {
			return fmt.Errorf("%w: missing field %q", errInvalidJSON, f.name)
		}
	}
	return nil
}

// validJSON walks bytes that json.Valid accepted, so it checks nothing.
type validJSON struct {
	b []byte
	i int
}

// peek skips white space and returns the byte it stops at.
func (r *validJSON) peek() byte {
	for r.b[r.i] == ' ' || r.b[r.i] == '\t' || r.b[r.i] == '\n' || r.b[r.i] == '\r' {
		r.i++
	}
	return r.b[r.i]
}

// scalar returns the string or number that starts at the current byte,
// quotes included, and moves past it. For any other value it returns only
// its first byte: such a value is refused, so the walk ends there.
func (r *validJSON) scalar() []byte {
	start := r.i
	switch c := r.b[r.i]; {
	case c == '"':
		for r.i++; r.b[r.i] != '"'; r.i++ {
			if r.b[r.i] == '\\' {
				r.i++ // the escaped byte cannot end the string
			}
		}
		r.i++
	case c == '-' || '0' <= c && c <= '9':
		for r.i < len(r.b) && strings.IndexByte("+-.0123456789eE", r.b[r.i]) >= 0 {
			r.i++
		}
	default:
		r.i++
	}
	return r.b[start:r.i]
}

// unquote returns the text of a JSON string token, and false for any
// other token.
func unquote(tok []byte) (string, bool) {
	if tok[0] != '"' {
		return "", false
	}
	inner := tok[1 : len(tok)-1]
	if !slices.Contains(inner, '\\') {
		return string(inner), true
	}
	// Escapes are encoding/json's business, so that they read exactly as it
	// reads them.
	var s string
	_ = json.Unmarshal(tok, &s) // cannot fail on a valid string token
	return s, true
}

// set stores a member's value, which must be of the field's type.
func (f field) set(tok []byte) error {
	if f.text != nil {
		s, ok := unquote(tok)
		if !ok {
			return fmt.Errorf("%w: field %q must be a string", errInvalidJSON, f.name)
		}
		*f.text = s
		return nil
	}
	// JSON has no integer type: 10, 10.0 and 1e1 are the same number, as
	// the contract's schema validators see it.
	x, err := strconv.ParseFloat(string(tok), 64)
	if err != nil || x != math.Trunc(x) {
		return fmt.Errorf("%w: field %q must be an integer", errInvalidJSON, f.name)
	}
	// Saturate: a number beyond int32 is beyond every limit, which the
	// use case then reports as the field's own error.
	*f.integer = int(max(min(x, math.MaxInt32), math.MinInt32))
	return nil
}

// isJSON reports whether a Content-Type is application/json, whatever its
// parameters (JSON is always UTF-8).
func isJSON(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "application/json")
}
