package httpapi

import (
	"net/http"

	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// SinceParam is the one name of the start of a time window in a query
// (events replayed from, audit records from, the next runs of a schedule
// after).
const SinceParam = "since"

// QueryValue reads the query parameter name, or, when it is absent, the
// first of its deprecated aliases that is present (listed in the route's
// Param.Aliases).
func QueryValue(r *http.Request, name string, aliases ...string) string {
	q := r.URL.Query()
	if v := q.Get(name); v != "" {
		return v
	}
	for _, a := range aliases {
		if v := q.Get(a); v != "" {
			return v
		}
	}
	return ""
}

// TimeQuery parses the query parameter name (or one of its deprecated
// aliases) as an RFC 3339 time. Absent, it answers the zero time and no
// error; malformed, a field error that names the parameter the caller sent.
func TimeQuery(r *http.Request, name string, aliases ...string) (time.Time, *api.FieldError) {
	q := r.URL.Query()
	for _, n := range append([]string{name}, aliases...) {
		v := q.Get(n)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil || len(v) > 64 {
			fe := Field(n, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
			return time.Time{}, &fe
		}
		return t.UTC(), nil
	}
	return time.Time{}, nil
}
