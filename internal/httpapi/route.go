package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// HandlerFunc handles one API call. It returns the response body (encoded as
// JSON with the route's success status) or an error (written as
// problem+json). A *Response return value controls status and headers.
type HandlerFunc func(r *http.Request) (any, error)

// Response lets a handler choose the status and headers of a success.
type Response struct {
	Status int
	Header http.Header
	Body   any // nil writes no body
}

// Param documents a query parameter in the OpenAPI document.
type Param struct {
	Name        string
	Description string
	Type        string // "string" or "integer"
	// Aliases are deprecated names still accepted for one release; the
	// OpenAPI document lists each as a deprecated parameter.
	Aliases []string
}

// Route is one entry of the route table. Every route served under /api/v1
// and /auth is described by a Route, and the OpenAPI document is generated
// from the same table.
type Route struct {
	Method  string
	Path    string // ServeMux pattern path, e.g. /api/v1/organizations/{org}
	Summary string
	Tag     string
	Public  bool // no authentication required
	// Request and Response are zero values of the body types; they drive the
	// OpenAPI schemas. nil means no body.
	Request  any
	Response any
	Status   int // success status; default 200
	// AlsoStatus is a second success status with the same body, such as
	// 200 where a request that starts a task (202) finds nothing to do.
	AlsoStatus int
	Query      []Param
	// Errors lists the problem statuses the route documents besides the
	// common ones (400, 401, 404, 422, 500).
	Errors []int
	// Action names the route's mutations in the audit log (such as
	// "workspace.create"); "" lets the audit package derive one from the
	// method and path.
	Action string
	Handle HandlerFunc
	// Raw, instead of Handle, serves a route that is not a JSON call
	// (metrics, health, documents). It still gets the middleware.
	Raw http.Handler
	// ContentType documents Raw's response type (default application/json).
	ContentType string
	// Stream marks a long-lived response (Server-Sent Events): the
	// per-request timeout does not apply and the connection's read and
	// write deadlines are lifted, so it lasts until the client goes away
	// or the server shuts down.
	Stream bool
	// MaxBodyBytes raises the request body limit of this route above the
	// API's (uploads); 0: the API's.
	MaxBodyBytes int64
}

func (rt Route) successStatus() int {
	if rt.Status == 0 {
		return http.StatusOK
	}
	return rt.Status
}

// NewList builds a List, never with a nil Items slice.
func NewList[T any](items []T, next string) api.List[T] {
	if items == nil {
		items = []T{}
	}
	return api.List[T]{Items: items, NextCursor: next}
}

// PageQuery documents the pagination query parameters.
var PageQuery = []Param{
	{Name: "limit", Type: "integer", Description: "page size, 1 to 500 (default 50)"},
	{Name: "cursor", Type: "string", Description: "next_cursor of the previous page"},
}

// PageFromQuery reads ?limit= and ?cursor=.
func PageFromQuery(r *http.Request) (store.Page, error) {
	q := r.URL.Query()
	p := store.Page{After: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxLimit {
			return p, Invalid(Field("limit", "must be an integer from 1 to 500"))
		}
		p.Limit = n
	}
	if len(p.After) > 512 {
		return p, Invalid(Field("cursor", "not a cursor returned by this list"))
	}
	return p, nil
}

// encodeJSON encodes v as the body of an answer. It runs before anything
// is written, so that a value that cannot be encoded is a 500 problem
// rather than a success status with a missing or truncated body.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return b.Bytes(), nil
}

// writeJSON writes body (v encoded by encodeJSON) with status; a body with
// a resource_version also sets the ETag that If-Match takes back.
func writeJSON(w http.ResponseWriter, status int, v any, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	if rv := resourceVersion(v); rv != "" {
		w.Header().Set("ETag", ETag(rv))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// WriteError writes err as problem+json and logs internal causes.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	p := ProblemFor(r, err)
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// ProblemFor is the problem+json body WriteError sends for err in answer
// to r (internal causes logged, never shown), for answers that are not an
// HTTP response of their own, such as a message on a WebSocket.
func ProblemFor(r *http.Request, err error) api.Problem {
	e := toError(err)
	log := Logger(r.Context())
	if e.Status >= 500 {
		log.Error("request failed", slog.Int("status", e.Status), slog.Any("error", err))
	} else if e.Cause != nil {
		log.Debug("request refused", slog.Int("status", e.Status), slog.Any("error", err))
	}
	return api.Problem{
		Type: ProblemTypeBase + e.Type, Title: e.Title, Status: e.Status, Detail: e.Detail,
		Instance: r.URL.Path, RequestID: RequestID(r.Context()), Errors: e.Fields,
	}
}

// serve adapts a HandlerFunc to http.Handler.
func (rt Route) serve(w http.ResponseWriter, r *http.Request) {
	v, err := rt.Handle(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	status, header := rt.successStatus(), http.Header(nil)
	if resp, ok := v.(*Response); ok {
		if resp.Status != 0 {
			status = resp.Status
		}
		header, v = resp.Header, resp.Body
	}
	var body []byte
	if v != nil && status != http.StatusNoContent {
		if body, err = encodeJSON(v); err != nil {
			WriteError(w, r, err)
			return
		}
	}
	for k, vs := range header {
		for _, hv := range vs {
			w.Header().Add(k, hv)
		}
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v, body)
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyLogger
	keyPrincipal
	keyClientIP
)

// RequestID returns the request id of ctx.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

// WithLogger is ctx whose Logger is l (a handler adding attributes to the
// request's log lines).
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, keyLogger, l)
}

// Logger returns the request-scoped logger.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(keyLogger).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// ClientIP returns the client address the real-IP middleware settled on.
func ClientIP(ctx context.Context) string {
	s, _ := ctx.Value(keyClientIP).(string)
	return s
}

// Principal is the authenticated caller.
type Principal struct {
	UserID    string
	Email     string
	SessionID string
	// ByCookie: the access token came from the session cookie rather than
	// an Authorization header (state-changing calls then need the CSRF
	// double-submit token).
	ByCookie bool
}

// WithPrincipal is ctx with p as the authenticated caller, for handlers
// that authenticate by themselves (the workspace API gateway) before
// middleware that needs the caller (per-user rate limits).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, keyPrincipal, p)
}

// PrincipalFrom returns the caller of an authenticated route.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(keyPrincipal).(Principal)
	return p, ok
}

// MustPrincipal returns the caller or an Unauthorized error.
func MustPrincipal(r *http.Request) (Principal, error) {
	p, ok := PrincipalFrom(r.Context())
	if !ok {
		return Principal{}, Unauthorized("authentication required")
	}
	return p, nil
}
