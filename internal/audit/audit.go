package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/required"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Limits on what a record keeps of a request.
const (
	MaxDetail    = 256
	maxUserAgent = 512
	maxField     = 320
	// sniffBytes of a mutating answer are kept to read the id of a created
	// object or the detail of a problem.
	sniffBytes = 8 << 10
	// DefaultWriteTimeout bounds writing one record.
	DefaultWriteTimeout = 5 * time.Second
)

// Store is what the audit log needs from the platform's store.
type Store interface {
	AppendAudit(ctx context.Context, r store.AuditRecord) error
	ListAudit(ctx context.Context, f store.AuditFilter, p store.Page) ([]store.AuditRecord, string, error)
	GetOrgMember(ctx context.Context, orgID, userID string) (store.OrgMember, error)
}

var _ Store = (store.Store)(nil)

// Config carries the Log's dependencies. Store, Logger, Now and Registry
// are required.
type Config struct {
	Store    Store
	Logger   *slog.Logger
	Now      func() time.Time
	Registry prometheus.Registerer
	// WriteTimeout bounds writing one record (DefaultWriteTimeout).
	WriteTimeout time.Duration
	// Tokens, optional, verifies the access token a successful anonymous
	// call answers (a sign-in by password, second factor, refresh or device
	// grant), so that its record names the user signed in even when the
	// handler did not call SetActor.
	Tokens httpapi.Authenticator
}

// Log records and serves the audit log. A zero Log only serves Routes for
// the OpenAPI document.
type Log struct {
	st       Store
	log      *slog.Logger
	now      func() time.Time
	timeout  time.Duration
	tokens   httpapi.Authenticator
	written  *prometheus.CounterVec
	failures prometheus.Counter
	// lookup routes mutating requests before the API does, so that the
	// record knows its route even when authentication refuses the call.
	// ServeMux is safe for concurrent registration and serving.
	lookup *http.ServeMux
}

// New returns a Log and registers its metrics.
func New(cfg Config) (*Log, error) {
	if err := required.Fields("audit", cfg, "Store", "Logger", "Now", "Registry"); err != nil {
		return nil, err
	}
	if cfg.WriteTimeout < 0 {
		return nil, errors.New("audit: WriteTimeout must not be negative")
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	l := &Log{st: cfg.Store, log: cfg.Logger, now: cfg.Now, timeout: cfg.WriteTimeout, tokens: cfg.Tokens, lookup: http.NewServeMux()}
	l.written = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hks_audit_records_total", Help: "Audit records written, by result.",
	}, []string{"result"})
	l.failures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hks_audit_write_failures_total", Help: "Audit records that could not be written.",
	})
	for _, c := range []prometheus.Collector{l.written, l.failures} {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("audit: register metrics: %w", err)
		}
	}
	return l, nil
}

// routeInfo is what the log knows of a mutating route.
type routeInfo struct {
	method, path string
	action       string
	params       []string // path parameter names, in order
	types        []string // the object type each names
	created      string   // type of the object a POST to a collection creates
	orgScoped    bool
	answersOrg   bool // the success answer is an organization
}

// Middleware is the httpapi.RouteMiddleware half of the log: it learns
// every mutating route when the API mounts it, and inside authentication
// hands the caller to the request's record.
func (l *Log) Middleware() httpapi.RouteMiddleware {
	return func(rt httpapi.Route, next http.Handler) http.Handler {
		if !Mutating(rt.Method) {
			return next
		}
		names, types := paramTypes(rt.Path)
		info := &routeInfo{method: rt.Method, path: rt.Path, action: ActionFor(rt), params: names, types: types,
			created: createdType(rt.Method, rt.Path), answersOrg: answersOrg[rt.Method+" "+rt.Path]}
		for _, n := range names {
			if n == "org" {
				info.orgScoped = true
			}
		}
		l.lookup.Handle(rt.Method+" "+rt.Path, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			e := entryFrom(r.Context())
			if e == nil {
				return
			}
			e.route = info
			e.params = map[string]string{}
			for _, n := range info.params {
				e.params[n] = r.PathValue(n)
			}
		}))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if e := entryFrom(r.Context()); e != nil {
				p, ok := httpapi.PrincipalFrom(r.Context())
				e.set(func(e *entry) {
					if ok && !e.actorSet {
						e.actorID, e.actorEmail = p.UserID, p.Email
					}
					// The route middleware before this one (tenancy's
					// ResolvePath) turned slugs and names in the path into
					// ids: the record names the organization and target by
					// id, as the organization's log is read by id.
					if e.route == info {
						for _, n := range info.params {
							if v := r.PathValue(n); v != "" {
								e.params[n] = v
							}
						}
					}
				})
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Outer is the httpapi.Config.Outer half of the log: around routing (so
// that requests refused by authentication are recorded too) it records
// every mutating request to a route the Middleware learned, after the
// handler ran. Writing the record never fails the request.
func (l *Log) Outer() func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !Mutating(r.Method) {
				next.ServeHTTP(w, r)
				return
			}
			e := &entry{}
			ctx := context.WithValue(r.Context(), ctxKey{}, e)
			r = r.WithContext(ctx)
			// Route on a copy (ServeMux sets the pattern on the request it
			// is given); the matching handler fills e.route and e.params.
			l.lookup.ServeHTTP(discard{}, r.WithContext(ctx))
			if e.route == nil { // no such route: the API answers 404/405
				next.ServeHTTP(w, r)
				return
			}
			cw := &httpapi.CaptureWriter{ResponseWriter: w, Keep: sniffBytes}
			defer func() {
				// Record also when the handler panics (the API's recovery
				// above answers 500).
				status := cw.Status()
				if v := recover(); v != nil {
					if status == 0 {
						status = http.StatusInternalServerError
					}
					l.record(r, e, status, cw.Head())
					panic(v)
				}
				if status == 0 {
					status = http.StatusOK
				}
				l.record(r, e, status, cw.Head())
			}()
			next.ServeHTTP(cw, r)
		})
	}
}

// record builds and writes the record of one request.
func (l *Log) record(r *http.Request, e *entry, status int, body []byte) {
	ctx := r.Context()
	e.mu.Lock()
	rt := e.route
	rec := store.AuditRecord{
		ID: store.NewID(), Time: l.now().UTC().Truncate(time.Microsecond),
		ActorID: e.actorID, ActorEmail: e.actorEmail, Action: e.action,
		TargetType: e.targetType, TargetID: e.targetID,
		Status: status, IP: httpapi.ClientIP(ctx), UserAgent: r.UserAgent(), RequestID: httpapi.RequestID(ctx),
	}
	params := e.params
	e.mu.Unlock()
	if rt.orgScoped {
		rec.OrgID = params["org"]
	}
	if rec.Action == "" {
		rec.Action = rt.action
	}
	var answer struct {
		ID          string `json:"id"`
		Detail      string `json:"detail"`
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(body, &answer) // best effort: a partial or non-JSON answer leaves it empty
	if rec.ActorID == "" && answer.AccessToken != "" && status < 300 && l.tokens != nil {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
		if p, err := l.tokens.Authenticate(wctx, answer.AccessToken); err == nil {
			rec.ActorID, rec.ActorEmail = p.UserID, p.Email
		}
		cancel()
	}
	if rt.answersOrg && status < 300 && answer.ID != "" {
		if rec.OrgID == "" {
			rec.OrgID = answer.ID
		}
		if rec.TargetID == "" && rec.TargetType == "" {
			rec.TargetType, rec.TargetID = "organization", answer.ID
		}
	}
	if rec.TargetID == "" && rec.TargetType == "" {
		switch {
		case rt.created != "" && status < 300 && answer.ID != "":
			rec.TargetType, rec.TargetID = rt.created, answer.ID
		case len(rt.params) > 0:
			i := len(rt.params) - 1
			rec.TargetType, rec.TargetID = rt.types[i], params[rt.params[i]]
		}
	}
	rec.Result = l.result(ctx, rt, status, rec.ActorID, rec.OrgID)
	rec.Action = ActionForResult(rec.Action, rec.Result)
	if status >= 400 && answer.Detail != "" {
		rec.Detail = truncate(answer.Detail, MaxDetail)
	} else {
		rec.Detail = truncate(r.Method+" "+r.URL.Path, MaxDetail)
	}
	rec.UserAgent = truncate(rec.UserAgent, maxUserAgent)
	rec.ActorEmail = truncate(rec.ActorEmail, maxField)
	rec.TargetID = truncate(rec.TargetID, maxField)
	l.write(ctx, rec)
}

// result classifies a status: 2xx success; 401, 403, and 404 for a caller
// outside the route's organization, denied; anything else failure.
func (l *Log) result(ctx context.Context, rt *routeInfo, status int, actorID, orgID string) string {
	switch {
	case status >= 200 && status < 300:
		return store.AuditSuccess
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return store.AuditDenied
	case status == http.StatusNotFound && rt.orgScoped && orgID != "":
		// The API hides organizations from non-members with a 404.
		if actorID == "" {
			return store.AuditDenied
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
		defer cancel()
		_, err := l.st.GetOrgMember(wctx, orgID, actorID)
		if errors.Is(err, store.ErrNotFound) {
			return store.AuditDenied
		}
	}
	return store.AuditFailure
}

// write stores rec with a context detached from the request's end.
func (l *Log) write(ctx context.Context, rec store.AuditRecord) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	if err := l.st.AppendAudit(wctx, rec); err != nil {
		l.failures.Inc()
		httpapi.Logger(ctx).Error("audit: write record", slog.String("action", rec.Action), slog.String("result", rec.Result),
			slog.String("audit_id", rec.ID), slog.Any("error", err))
		return
	}
	l.written.WithLabelValues(rec.Result).Inc()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// discard is the ResponseWriter of the route lookup, which writes nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// MaxEventDetail bounds the detail of a record written with Append.
const MaxEventDetail = 1024

// Append writes a record of something that is not one HTTP request of its
// own, such as each tool call of an assistant's turn: rec's ID, Time, IP,
// UserAgent and RequestID are filled in from ctx (the request that caused
// it) when empty; Detail is cut at MaxEventDetail.
func (l *Log) Append(ctx context.Context, rec store.AuditRecord) {
	if rec.ID == "" {
		rec.ID = store.NewID()
	}
	if rec.Time.IsZero() {
		rec.Time = l.now().UTC().Truncate(time.Microsecond)
	}
	if rec.IP == "" {
		rec.IP = httpapi.ClientIP(ctx)
	}
	if rec.RequestID == "" {
		rec.RequestID = httpapi.RequestID(ctx)
	}
	rec.Detail = truncate(rec.Detail, MaxEventDetail)
	rec.ActorEmail = truncate(rec.ActorEmail, maxField)
	rec.TargetID = truncate(rec.TargetID, maxField)
	l.write(ctx, rec)
}
