package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// MaxBodyBytes is the default limit on request bodies.
const MaxBodyBytes = 1 << 20

// DecodeJSON strictly decodes a JSON request body into dst: the content type
// must be JSON, unknown fields are refused, exactly one value is allowed and
// the body is limited in size. Errors are *Error values that name the field.
func DecodeJSON(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return &Error{Status: http.StatusUnsupportedMediaType, Type: "unsupported-media-type",
				Title: "Unsupported media type", Detail: "the request body must be JSON: application/json (or application/merge-patch+json for a PATCH)"}
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Type: "body-too-large", Title: "Request body too large",
				Detail: fmt.Sprintf("the request body exceeds %d bytes", mbe.Limit)}
		}
		return BadRequest("the request body could not be read")
	}
	return DecodeJSONBytes(body, dst)
}

// DecodeJSONBytes is DecodeJSON's decoder without the HTTP parts; the fuzz
// tests drive it directly.
func DecodeJSONBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("the request body is empty; a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return BadRequest("the request body must hold a single JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadRequest("the request body must hold a single JSON value")
	}
	return nil
}

func jsonError(err error) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return BadRequest(fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("malformed JSON: unexpected end of input")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return BadRequest("the request body must be a JSON object")
		}
		return Invalid(Field(field, "must be a JSON "+jsonKind(typ.Type.Kind().String())))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(Field(name, "unknown field"))
	}
	return BadRequest("malformed JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	}
	return "value of another type"
}
