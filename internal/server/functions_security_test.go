package server

import (
	"net/http"
	"strings"
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

// TestFunctionTriggerStripsPlatformHeaders: X-Hks-* headers of an inbound
// request (which the event trigger sets: X-Hks-Topic, X-Hks-Event-Id)
// never reach the function, so a caller cannot forge them. Seen failing
// before the fix.
func TestFunctionTriggerStripsPlatformHeaders(t *testing.T) {
	w := newFnWorld(t, nil)
	w.deploy("greeter", wasmDeploy(t, nil), 201)
	a := w.doWith("POST", w.url+"/greeter/headers", w.tok["member"], "{}", http.Header{
		"X-Hks-Topic": {"orders.created"}, "X-Hks-Event-Id": {"forged"}, "x-hks-anything": {"1"}, "X-Custom": {"v"}})
	if a.status != 200 || !contains(a.body, "X-Custom") || contains(a.body, "X-Hks") || contains(a.body, "forged") {
		t.Fatalf("headers the function saw: %d %s", a.status, a.body)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
