package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// versionedApp serves the application web whose PATCHes are refused with
// 412 unless they carry its version; refuse more PATCHes are refused
// whatever they carry. It counts the PATCHes and records when each
// request came.
type versionedApp struct {
	mu      sync.Mutex
	app     api.Application
	refuse  int
	patches int
	times   []time.Time
}

func (v *versionedApp) serve(t *testing.T) {
	t.Helper()
	v.app = api.Application{Name: "web", Project: "frontend", ResourceVersion: "1"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v.mu.Lock()
		defer v.mu.Unlock()
		v.times = append(v.times, time.Now())
		if !strings.HasSuffix(r.URL.Path, "/projects/frontend/applications/web") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if r.Method == http.MethodPatch {
			v.patches++
			var pt api.PatchApplicationRequest
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &pt); err != nil || pt.Env == nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			if v.refuse > 0 || pt.ResourceVersion != v.app.ResourceVersion {
				v.refuse--
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusPreconditionFailed)
				_ = json.NewEncoder(w).Encode(api.Problem{Type: "about:blank", Title: "Precondition failed", Status: http.StatusPreconditionFailed, Detail: "changed since"})
				return
			}
			n, _ := strconv.Atoi(v.app.ResourceVersion)
			v.app.Spec.Env, v.app.ResourceVersion = *pt.Env, strconv.Itoa(n+1)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v.app)
	}))
	t.Cleanup(srv.Close)
	signedInTo(t, srv.URL)
}

var projectScope = []string{"--org", testOrgID, "--workspace", testWsID, "--project", "frontend"}

// TestSetEnvInParallel: six clients setting a variable each at the same
// time all get theirs in; each refusal is someone else's success, so none
// runs out of retries.
func TestSetEnvInParallel(t *testing.T) {
	v := &versionedApp{}
	v.serve(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			out, err := runIn(t, "", append(slices.Clone(projectScope), "app", "set", "env", "web", fmt.Sprintf("V%d=%d", i, i))...)
			if err != nil {
				errs[i] = fmt.Errorf("%w: %s", err, out)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}
	if len(v.app.Spec.Env) != 6 {
		t.Errorf("env %+v, want the six variables", v.app.Spec.Env)
	}
}

// TestPatchRetries: a read-modify-write that keeps meeting changes is
// tried ten times, with a growing pause before each retry.
func TestPatchRetries(t *testing.T) {
	defer func(d time.Duration) { firstPatchPause = d }(firstPatchPause)
	firstPatchPause = 4 * time.Millisecond
	for _, tc := range []struct {
		name    string
		refuse  int
		wantErr string
	}{
		{name: "nine refusals, then the patch goes through", refuse: 9},
		{name: "ten refusals", refuse: 10, wantErr: "changed since (HTTP 412)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &versionedApp{refuse: tc.refuse}
			v.serve(t)
			out, err := runIn(t, "", append(slices.Clone(projectScope), "app", "set", "env", "web", "MODE=dev")...)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if v.patches != 10 {
				t.Errorf("%d PATCHes, want 10", v.patches)
			}
			// Requests go GET, PATCH, GET, …: the pause is between a
			// refused PATCH and the next GET, at least half of 4ms, 8ms,
			// 16ms, … up to 1s.
			for i := 1; i+1 < len(v.times); i += 2 {
				least := min(firstPatchPause<<(i/2), time.Second) / 2
				if gap := v.times[i+1].Sub(v.times[i]); gap < least {
					t.Errorf("retry %d came %v after the refusal, want at least %v", i/2+1, gap, least)
				}
			}
		})
	}
}

func TestPatchBackoff(t *testing.T) {
	for attempt := 1; attempt <= 12; attempt++ {
		t.Run(strconv.Itoa(attempt), func(t *testing.T) {
			most := min(firstPatchPause<<(attempt-1), time.Second)
			for range 50 {
				if d := patchBackoff(attempt); d < most/2 || d > most {
					t.Fatalf("pause %v, want between %v and %v", d, most/2, most)
				}
			}
		})
	}
}
