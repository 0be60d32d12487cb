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
			d := l.Allow(r.Context(), "ip:"+httpapi.ClientIP(r.Context()))
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
// at; a 401 answer counts as a failure, a 2xx answer resets the email.
// Other routes pass through untouched.
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
			ip := httpapi.ClientIP(ctx)
			wait, err := l.Check(ctx, req.Email, ip)
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
			next.ServeHTTP(rec, r)
			switch {
			case rec.status == http.StatusUnauthorized:
				l.Failed(ctx, req.Email, ip)
			case rec.status >= 200 && rec.status < 300:
				l.Succeeded(ctx, req.Email)
			}
			rec.flushTo(w)
		})
	}
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
