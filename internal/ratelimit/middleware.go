package ratelimit

import (
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
