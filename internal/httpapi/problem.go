package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// ProblemTypeBase prefixes every problem "type". The URIs are stable
// identifiers, documented in docs/api-errors.md.
const ProblemTypeBase = "https://hexabase.ai/problems/"

// Error is an error that knows how it is shown to a client. Handlers return
// it (or a store sentinel, which is mapped); any other error becomes a 500
// whose text is logged, never sent.
type Error struct {
	Status int
	Type   string // short slug appended to ProblemTypeBase
	Title  string
	Detail string
	Fields []api.FieldError
	Header http.Header // extra response headers (WWW-Authenticate, Retry-After)
	Cause  error       // logged, never sent
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Detail)
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Cause }

// Invalid reports a validation failure of one or more fields.
func Invalid(fields ...api.FieldError) *Error {
	detail := "the request is invalid"
	if len(fields) == 1 {
		detail = fields[0].Field + ": " + fields[0].Message
	} else if len(fields) > 1 {
		detail = fmt.Sprintf("%d fields are invalid", len(fields))
	}
	return &Error{Status: http.StatusUnprocessableEntity, Type: "validation", Title: "Validation failed", Detail: detail, Fields: fields}
}

// Field is shorthand for a single FieldError.
func Field(field, message string) api.FieldError {
	return api.FieldError{Field: field, Message: message}
}

func BadRequest(detail string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "bad-request", Title: "Bad request", Detail: detail}
}

func NotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Type: "not-found", Title: "Not found", Detail: what + " not found"}
}

func Forbidden(detail string) *Error {
	return &Error{Status: http.StatusForbidden, Type: "forbidden", Title: "Forbidden", Detail: detail}
}

func Unauthorized(detail string) *Error {
	return &Error{Status: http.StatusUnauthorized, Type: "unauthorized", Title: "Unauthorized", Detail: detail,
		Header: http.Header{"WWW-Authenticate": {`Bearer realm="hks"`}}}
}

// Conflict reports a clash with existing state; field may be "".
func Conflict(field, detail string) *Error {
	e := &Error{Status: http.StatusConflict, Type: "conflict", Title: "Conflict", Detail: detail}
	if field != "" {
		e.Fields = []api.FieldError{{Field: field, Message: detail}}
	}
	return e
}

// toError maps any handler error onto an *Error.
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Type: "not-found", Title: "Not found", Detail: "the resource was not found", Cause: err}
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Type: "conflict", Title: "Conflict", Detail: "the request conflicts with the current state", Cause: err}
	case errors.Is(err, store.ErrInvalidCursor):
		return &Error{Status: http.StatusBadRequest, Type: "validation", Title: "Validation failed", Detail: "cursor: not a cursor returned by this list",
			Fields: []api.FieldError{{Field: "cursor", Message: "not a cursor returned by this list"}}, Cause: err}
	}
	return &Error{Status: http.StatusInternalServerError, Type: "internal", Title: "Internal server error",
		Detail: "an internal error occurred; quote the request id when reporting it", Cause: err}
}
