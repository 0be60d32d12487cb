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

// QueryName is the name under which the caller sent the query parameter
// name: name itself, or the first of its deprecated aliases that is
// present; name when none is.
func QueryName(r *http.Request, name string, aliases ...string) string {
	q := r.URL.Query()
	for _, n := range append([]string{name}, aliases...) {
		if q.Get(n) != "" {
			return n
		}
	}
	return name
}

// QueryValue reads the query parameter name, or, when it is absent, the
// first of its deprecated aliases that is present (listed in the route's
// Param.Aliases).
func QueryValue(r *http.Request, name string, aliases ...string) string {
	return r.URL.Query().Get(QueryName(r, name, aliases...))
}

// TimeRepresentable reports whether t can be written in an answer: JSON
// and RFC 3339 have four-digit years, so a time before year 0 or after
// year 9999 (in its own location) cannot be encoded.
func TimeRepresentable(t time.Time) bool {
	y := t.Year()
	return y >= 0 && y <= 9999
}

// TimeQuery parses the query parameter name (or one of its deprecated
// aliases) as an RFC 3339 time. Absent, it answers the zero time and no
// error; malformed, or outside the years 0000 to 9999 once in UTC (an
// offset can carry 9999-12-31T23:59:00-01:00 into year 10000), a field
// error that names the parameter the caller sent.
func TimeQuery(r *http.Request, name string, aliases ...string) (time.Time, *api.FieldError) {
	n := QueryName(r, name, aliases...)
	v := r.URL.Query().Get(n)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil || len(v) > 64 || !TimeRepresentable(t.UTC()) {
		fe := Field(n, "must be an RFC 3339 time from year 0000 to 9999, such as 2026-01-02T15:04:05Z")
		return time.Time{}, &fe
	}
	return t.UTC(), nil
}
