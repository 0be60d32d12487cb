package server

import (
	"net/url"
	"testing"
)

// TestTimesPastYear9999Are422: a time input, or the runs a schedule
// computes from it, that falls outside the years 0000 to 9999 cannot be
// written in an answer; it is a 422 naming the parameter the caller sent,
// never a 200 without a body. The controls just inside the range answer.
func TestTimesPastYear9999Are422(t *testing.T) {
	ts := startServer(t, "")
	_, tok := ts.user("owner@example.com")
	org := ts.do("POST", "/api/v1/organizations", tok, map[string]string{"name": "Acme"}).id(t, 201)
	ws := ts.do("POST", "/api/v1/organizations/"+org+"/workspaces", tok, map[string]string{"name": "web"}).id(t, 202)
	ts.do("POST", "/api/v1/organizations/"+org+"/workspaces/"+ws+"/projects", tok, map[string]string{"name": "jobs"}).id(t, 201)
	preview := "/api/v1/organizations/" + org + "/workspaces/" + ws + "/projects/jobs/cronjobs/preview?"
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	tests := []struct {
		name, path string
		status     int
		field      string
	}{
		{"preview after 9999-12-31T23:59 (the deprecated name)", preview + q("schedule", "@hourly", "after", "9999-12-31T23:59:00Z"), 422, "after"},
		{"preview since 9999-12-31T23:59", preview + q("schedule", "@hourly", "since", "9999-12-31T23:59:00Z"), 422, "since"},
		{"preview whose fifth run is in year 10000", preview + q("schedule", "@daily", "since", "9999-12-28T00:00:00Z"), 422, "since"},
		{"preview in year 10000 in its time zone only", preview + q("schedule", "@hourly", "since", "9999-12-31T09:30:00Z", "time_zone", "Pacific/Kiritimati", "count", "1"), 422, "since"},
		{"preview before year 0 in its time zone", preview + q("schedule", "@hourly", "since", "0000-01-01T00:00:00Z", "time_zone", "America/New_York", "count", "1"), 422, "since"},
		{"preview since an offset that carries it into year 10000", preview + q("schedule", "@hourly", "since", "9999-12-31T23:59:00-01:00"), 422, "since"},
		{"preview whose runs end in 9999 (control)", preview + q("schedule", "@daily", "since", "9999-12-26T00:00:00Z"), 200, ""},
		{"audit since an offset that carries it into year 10000", "/api/v1/organizations/" + org + "/audit?" + q("since", "9999-12-31T23:59:00-01:00"), 422, "since"},
		{"events since an offset that carries it into year 10000", "/api/v1/organizations/" + org + "/workspaces/" + ws + "/events?" + q("since", "9999-12-31T23:59:00-01:00"), 422, "since"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.t = t
			a := ts.do("GET", tt.path, tok, nil)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if tt.status == 200 {
				var pv struct {
					NextRuns []string `json:"next_runs"`
				}
				if a.json(t, &pv); len(pv.NextRuns) != 5 {
					t.Fatalf("want 5 runs: %s", a.body)
				}
				return
			}
			p := a.problem(t)
			errs, _ := p["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["field"] != tt.field {
				t.Fatalf("want the field %q named: %s", tt.field, a.body)
			}
		})
	}
}
