package ratelimit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// PerIP limits every request by client IP (an Outer middleware: it runs
// before routing, for every route).
func PerIP(l *Limiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d := l.Allow(r.Context(), "ip:"+IPKey(httpapi.ClientIP(r.Context())))
			if !d.Allowed {
				httpapi.WriteError(w, r, httpapi.TooManyRequests(d.RetryAfter, "too many requests from this address; retry later"))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// PerUser limits authenticated routes by user (a RouteMiddleware: it runs
// after authentication). Public routes are left to PerIP.
func PerUser(l *Limiter) httpapi.RouteMiddleware {
	return func(rt httpapi.Route, next http.Handler) http.Handler {
		if rt.Public {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := httpapi.PrincipalFrom(r.Context())
			if ok {
				if d := l.Allow(r.Context(), "user:"+p.UserID); !d.Allowed {
					httpapi.WriteError(w, r, httpapi.TooManyRequests(d.RetryAfter, "too many requests for this user; retry later"))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// LoginGuard wraps the password sign-in route (method and path given):
// a locked email or IP is refused with 429 before the password is looked
// at. Every other attempt is reserved (counted as a failure) before the
// handler runs, atomically with the lock check, so concurrent guesses
// cannot all pass a threshold; a 401 answer keeps the failure, an answer
// with tokens resets the email, and any other answer (including the 200
// mfa_required challenge, whose password was right but which signs no
// one in yet) takes the attempt back without a reset. Other routes pass
// through untouched.
func (l *Lockout) LoginGuard(method, path string) httpapi.RouteMiddleware {
	return func(rt httpapi.Route, next http.Handler) http.Handler {
		if rt.Method != method || rt.Path != path {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
				next.ServeHTTP(w, r)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				Email string `json:"email"`
			}
			if json.Unmarshal(body, &req) != nil || req.Email == "" {
				next.ServeHTTP(w, r) // the handler names what is wrong
				return
			}
			ctx := r.Context()
			a, wait, err := l.Begin(ctx, req.Email, httpapi.ClientIP(ctx))
			if err != nil {
				httpapi.WriteError(w, r, err)
				return
			}
			if wait > 0 {
				httpapi.WriteError(w, r, httpapi.TooManyRequests(wait, "too many failed sign-ins; sign-in is locked for a while"))
				return
			}
			// The answer is held back until the outcome is recorded, so a
			// client never sees its 401 before the failure counts.
			rec := &bufferedWriter{header: w.Header()}
			defer func() {
				if p := recover(); p != nil {
					a.Refund(ctx)
					panic(p)
				}
			}()
			next.ServeHTTP(rec, r)
			switch {
			case rec.status == http.StatusUnauthorized:
				a.Failed()
			case rec.status >= 200 && rec.status < 300 && !mfaRequired(rec.body.Bytes()):
				a.Succeeded(ctx)
			default:
				a.Refund(ctx)
			}
			rec.flushTo(w)
		})
	}
}

// mfaRequired reports whether a sign-in answer is a second-factor
// challenge rather than tokens.
func mfaRequired(body []byte) bool {
	var res struct {
		MFARequired bool `json:"mfa_required"`
	}
	return json.Unmarshal(body, &res) == nil && res.MFARequired
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// bufferedWriter holds an answer (small: sign-in answers) until flushTo.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferedWriter) Header() http.Header { return w.header }

func (w *bufferedWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *bufferedWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

func (w *bufferedWriter) flushTo(out http.ResponseWriter) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	out.WriteHeader(w.status)
	_, _ = out.Write(w.body.Bytes())
}
