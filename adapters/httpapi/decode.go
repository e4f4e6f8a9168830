package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

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

// decodeBody reads a JSON object with exactly the given members. It reads
// token by token rather than into a struct, because encoding/json matches
// member names case-insensitively, lets a duplicate member win silently and
// takes null for "absent"; each of those would accept bodies the contract
// refuses. A member whose value is an object or array is refused at its
// first token, so nesting costs nothing.
func decodeBody(c *gin.Context, fields ...field) error {
	if !isJSON(c.GetHeader("Content-Type")) {
		return errMediaType
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	dec.UseNumber()
	switch tok, err := dec.Token(); {
	case err == io.EOF:
		return fmt.Errorf("%w: the body is empty", errInvalidJSON)
	case err != nil:
		return jsonError(err)
	case tok != json.Delim('{'):
		return fmt.Errorf("%w: the body must be a JSON object", errInvalidJSON)
	}
	var seen uint64 // bit i: fields[i] was read
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		name, _ := key.(string) // inside an object, the decoder yields only string keys
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == name })
		if i < 0 {
			return fmt.Errorf("%w: unknown field %q", errInvalidJSON, name)
		}
		if seen&(1<<i) != 0 {
			return fmt.Errorf("%w: duplicate field %q", errInvalidJSON, name)
		}
		seen |= 1 << i
		value, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		if err := fields[i].set(value); err != nil {
			return err
		}
	}
	// More said the object ends: this is its '}' or an error.
	if _, err := dec.Token(); err != nil {
		return jsonError(err)
	}
	switch _, err := dec.Token(); {
	case err == nil:
		return fmt.Errorf("%w: data after the JSON object", errInvalidJSON)
	case err != io.EOF:
		return jsonError(err)
	}
	for i, f := range fields {
		if seen&(1<<i) == 0 {
			return fmt.Errorf("%w: missing field %q", errInvalidJSON, f.name)
		}
	}
	return nil
}

// set stores a member's value, which must be of the field's type.
func (f field) set(value json.Token) error {
	if f.text != nil {
		s, ok := value.(string)
		if !ok {
			return fmt.Errorf("%w: field %q must be a string", errInvalidJSON, f.name)
		}
		*f.text = s
		return nil
	}
	n, ok := value.(json.Number)
	if !ok {
		return fmt.Errorf("%w: field %q must be an integer", errInvalidJSON, f.name)
	}
	// JSON has no integer type: 10, 10.0 and 1e1 are the same number, as
	// the contract's schema validators see it.
	x, err := strconv.ParseFloat(string(n), 64)
	if err != nil || x != math.Trunc(x) {
		return fmt.Errorf("%w: field %q must be an integer", errInvalidJSON, f.name)
	}
	// Saturate: a number beyond int32 is beyond every limit, which the
	// use case then reports as the field's own error.
	*f.integer = int(max(min(x, math.MaxInt32), math.MinInt32))
	return nil
}

// jsonError names a failure to read the body.
func jsonError(err error) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errBodyTooLarge
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("%w: the body ends inside the JSON object", errInvalidJSON)
	}
	return fmt.Errorf("%w: %v", errInvalidJSON, err)
}

// isJSON reports whether a Content-Type is application/json, whatever its
// parameters (JSON is always UTF-8).
func isJSON(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "application/json")
}
