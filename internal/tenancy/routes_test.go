package tenancy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// TestSuccessStatuses: the tenancy route table follows the success-status
// convention of package httpapi (doc.go): reads, updates and immediate
// actions 200, creates 201, deletes 204, and 202 where a durable task
// starts.
func TestSuccessStatuses(t *testing.T) {
	// Routes that start a task, and POSTs that act rather than create.
	task := map[string]bool{"POST " + wss: true, "DELETE " + ws: true, "POST " + ws + "/sleep": true, "POST " + ws + "/wake": true}
	action := map[string]bool{"POST /api/v1/invitations/accept": true}
	for _, rt := range (&Service{}).Routes() {
		name := rt.Method + " " + rt.Path
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			status := rt.Status
			if status == 0 {
				status = http.StatusOK
			}
			want := http.StatusOK
			switch {
			case task[name]:
				want = http.StatusAccepted
			case rt.Method == "POST" && !action[name]:
				want = http.StatusCreated
			case rt.Method == "DELETE":
				want = http.StatusNoContent
			}
			if status != want {
				t.Fatalf("%s answers %d, want %d", name, status, want)
			}
		})
	}
}

// TestSleepAndWakeDeclareBothSuccesses: the OpenAPI document lists the
// 200 that sleep and wake answer when there is nothing to do, next to
// their 202, with the workspace as the body of both.
func TestSleepAndWakeDeclareBothSuccesses(t *testing.T) {
	b, err := httpapi.OpenAPI(httpapi.OpenAPIInfo{Title: "t", Version: "1"}, (&Service{}).Routes())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]any `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{ws + "/sleep", ws + "/wake"} {
		rs := doc.Paths[p]["post"].Responses
		for _, code := range []string{"200", "202"} {
			if _, ok := rs[code].Content["application/json"]; !ok {
				t.Errorf("POST %s: no %s with a JSON body in %v", p, code, rs)
			}
		}
	}
}
