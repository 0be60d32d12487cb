package server

import (
	"testing"
)

// TestFunctionTriggerPrivateLooksMissing: a signed-in user of another
// tenant gets the very same answer for a private function as for one that
// does not exist (status, type, title, detail). Seen failing before the
// fix: the private one answered "organization not found".
func TestFunctionTriggerPrivateLooksMissing(t *testing.T) {
	w := newFnWorld(t, nil)
	w.deploy("greeter", wasmDeploy(t, nil), 201)
	out := w.tok["outsider"]
	private := w.do("GET", w.url+"/greeter", out, nil)
	missing := w.do("GET", w.url+"/nope", out, nil)
	pp, mp := private.problem(t), missing.problem(t)
	if private.status != 404 || missing.status != 404 {
		t.Fatalf("statuses %d and %d, want 404: %s / %s", private.status, missing.status, private.body, missing.body)
	}
	for _, k := range []string{"type", "title", "status", "detail"} {
		if pp[k] != mp[k] {
			t.Fatalf("%s: private %v, missing %v", k, pp[k], mp[k])
		}
	}
}
