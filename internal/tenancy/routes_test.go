package tenancy

import (
	"net/http"
	"strings"
	"testing"
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
