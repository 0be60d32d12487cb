package server

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/config"
	"github.com/hexabase/hexabase-ai/internal/functions"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
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

// TestFunctionsAsyncBounded: a function with DefaultMaxQueuedInvocations
// asynchronous invocations queued or running refuses another with 429 and
// Retry-After (a synchronous call still runs); once one finishes, async
// is accepted again. Seen failing before the fix: the 101st was queued.
func TestFunctionsAsyncBounded(t *testing.T) {
	w := newFnWorld(t, nil)
	fn := w.deploy("greeter", wasmDeploy(t, nil), 201)
	ctx := context.Background()
	stored, err := w.st.GetFunctionByName(ctx, w.f.project, fn.Name)
	if err != nil {
		t.Fatal(err)
	}
	var first store.Invocation
	for i := range functions.DefaultMaxQueuedInvocations {
		inv := store.Invocation{ID: store.NewID(), FunctionID: stored.ID, OrgID: stored.OrgID, WorkspaceID: stored.WorkspaceID, Version: 1,
			Trigger: functions.TriggerAsync, Status: store.InvocationQueued, StartedAt: time.Now().UTC()}
		if err := w.st.CreateInvocation(ctx, inv); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = inv
		}
	}
	a := w.do("POST", w.base+"/functions/greeter/invoke", w.tok["member"], api.InvokeFunctionRequest{Async: true})
	wantDetail(t, a, 429, "queued or running")
	if a.header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", a.header)
	}
	if a := w.do("POST", w.base+"/functions/greeter/invoke", w.tok["member"], api.InvokeFunctionRequest{}); a.status != 200 {
		t.Fatalf("synchronous invoke: %d %s", a.status, a.body)
	}
	first.Status, first.ExitReason, first.FinishedAt = store.InvocationFailed, "error", time.Now().UTC()
	if err := w.st.FinishInvocation(ctx, first); err != nil {
		t.Fatal(err)
	}
	if a := w.do("POST", w.base+"/functions/greeter/invoke", w.tok["member"], api.InvokeFunctionRequest{Async: true}); a.status != 202 {
		t.Fatalf("async invoke under the bound: %d %s", a.status, a.body)
	}
}

// TestFunctionLogFollowsCountAgainstStreamCaps: a followed function log
// is a long-lived request of its user: with the per-user cap (here 2)
// reached, another is refused with 429 and Retry-After, as an
// application's followed log is; a closed one frees its place. Seen
// failing before the fix: the third follow was served.
func TestFunctionLogFollowsCountAgainstStreamCaps(t *testing.T) {
	w := newFnWorld(t, func(c *config.Config) { c.StreamsPerUser = 2 })
	w.deploy("greeter", wasmDeploy(t, nil), 201)
	path := w.base + "/functions/greeter/logs?follow=true"
	follow := func() (context.CancelFunc, *http.Response) {
		ctx, cancel := context.WithCancel(context.Background())
		resp := w.send(ctx, "GET", path, w.tok["member"], nil, nil)
		if resp.StatusCode != 200 {
			cancel()
			resp.Body.Close()
			t.Fatalf("follow: %d", resp.StatusCode)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != ": following\n" {
			t.Fatalf("follow's first line %q, %v", line, err)
		}
		return cancel, resp
	}
	cancel1, resp1 := follow()
	cancel2, resp2 := follow()
	defer func() { cancel2(); resp2.Body.Close() }()
	a := w.do("GET", path, w.tok["member"], nil)
	wantDetail(t, a, 429, "at most 2")
	if a.header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", a.header)
	}
	// Another user has places of their own.
	if a := w.do("GET", w.base+"/functions/greeter/logs", w.tok["viewer"], nil); a.status != 200 {
		t.Fatalf("viewer's logs: %d %s", a.status, a.body)
	}
	cancel1()
	resp1.Body.Close()
	testutil.WaitFor(t, 10*time.Second, "the closed follow's place", func() bool { return w.userStreams.Open(w.p.member.ID) < 2 })
	cancel3, resp3 := follow()
	cancel3()
	resp3.Body.Close()
}

// TestFunctionTriggerBodyReadDeadline: a request whose body stops coming
// is answered 400 once the trigger's read timeout (here 1s) passes; the
// connection is not held forever. Seen failing before the fix: the
// request hung until the test's safeguard context ended it.
func TestFunctionTriggerBodyReadDeadline(t *testing.T) {
	w := newFnWorldOpts(t, nil, func(o *Options) {
		o.functionsConfig = func(c *functions.Config) { c.TriggerReadTimeout = time.Second }
	})
	w.deploy("greeter", wasmDeploy(t, nil), 201)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("the start of a body that never ends")) }()
	// A safeguard only: the answer is expected long before.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", w.URL()+w.url+"/greeter/echo", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.tok["member"])
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatalf("the trigger did not answer a stalled body: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(b), "could not be read") {
		t.Fatalf("stalled body: %d %s", resp.StatusCode, b)
	}
}
