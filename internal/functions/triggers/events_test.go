package triggers

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// TestEventHandledOnce: an event published once (and again with the same
// event id) is handed to the subscribed function once, as a POST to "/"
// with its topic, id and payload.
func TestEventHandledOnce(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	tr := e.trigger(api.CreateFunctionTriggerRequest{Name: "on-order", Kind: "event", Topic: "orders.created", Alias: "stable"}, time.Now().UTC())
	e.runService()

	for i := range 2 {
		out, err := e.svc.Publish(ctx, e.proj.ID, "orders.created", "ev-1", []byte(`{"order":1}`))
		must(t, err)
		if out.ID != "ev-1" || out.Handlers != 1 || out.Duplicate != (i == 1) {
			t.Fatalf("Publish #%d = %+v; want ev-1, 1 handler, duplicate %v", i+1, out, i == 1)
		}
	}
	// Another topic of the project, and the same topic of another
	// project, reach nobody.
	if out, err := e.svc.Publish(ctx, e.proj.ID, "orders.shipped", "", []byte(`{}`)); err != nil || out.Handlers != 0 {
		t.Fatalf("Publish other topic = %+v, %v", out, err)
	}
	if out, err := e.svc.Publish(ctx, store.NewID(), "orders.created", "", []byte(`{}`)); err != nil || out.Handlers != 0 {
		t.Fatalf("Publish other project = %+v, %v", out, err)
	}
	// A later event: the consumer delivers in order, so once it ran, any
	// copy of ev-1 would have run before it.
	out2, err := e.svc.Publish(ctx, e.proj.ID, "orders.created", "", []byte(`{"order":2}`))
	must(t, err)
	id2 := out2.ID

	runs := e.waitRuns(2)
	if got, want := e.fireIDs(), []string{EventInvocationID("ev-1", tr.ID, 1), EventInvocationID(id2, tr.ID, 1)}; !slices.Equal(got, want) {
		t.Fatalf("runs = %v, want %v", got, want)
	}
	r := runs[0]
	if r.Trigger != TriggerEvent || r.Alias != "stable" || r.Ref != e.ref || r.Req.Method != "POST" || r.Req.Path != "/" ||
		string(r.Req.Body) != `{"order":1}` || r.Req.Headers[HeaderTopic][0] != "orders.created" || r.Req.Headers[HeaderEventID][0] != "ev-1" {
		t.Fatalf("run = %+v", r)
	}
	if n := e.fns.callCount(); n != 2 {
		t.Fatalf("InvokeAs calls = %d, want 2", n)
	}
}

// TestEventDeadLetter: a handler failing every time is tried MaxAttempts
// times (each attempt its own invocation), then the event is one dead
// letter with attempts 3 and is not delivered again.
func TestEventDeadLetter(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	e.fns.outcome = func(c call) string {
		if c.Req.Headers[HeaderEventID][0] == "sentinel" {
			return "succeeded"
		}
		return "failed"
	}
	tr := e.trigger(api.CreateFunctionTriggerRequest{Name: "on-order", Kind: "event", Topic: "orders.created"}, time.Now().UTC())
	e.runService()
	big := strings.Repeat("x", maxDeadLetterPayload+100)
	_, err := e.svc.Publish(ctx, e.proj.ID, "orders.created", "ev-1", []byte(big))
	must(t, err)

	var letters []store.FunctionDeadLetter
	testutil.WaitFor(t, waitFor, "dead letter", func() bool {
		letters, _, err = e.st.ListFunctionDeadLetters(ctx, e.ref.ID, store.Page{})
		return err == nil && len(letters) > 0
	})
	// The event is settled: a later one is delivered after it.
	_, err = e.svc.Publish(ctx, e.proj.ID, "orders.created", "sentinel", []byte(`{}`))
	must(t, err)
	e.waitRuns(4)

	letters, _, err = e.st.ListFunctionDeadLetters(ctx, e.ref.ID, store.Page{})
	must(t, err)
	if len(letters) != 1 {
		t.Fatalf("dead letters = %d, want 1", len(letters))
	}
	d := letters[0]
	if d.Attempts != 3 || d.EventID != "ev-1" || d.TriggerName != "on-order" || d.Topic != "orders.created" ||
		d.LastError != "handler threw: boom" || len(d.Payload) != maxDeadLetterPayload {
		t.Fatalf("dead letter = %+v (payload %d bytes)", d, len(d.Payload))
	}
	want := []string{EventInvocationID("ev-1", tr.ID, 1), EventInvocationID("ev-1", tr.ID, 2), EventInvocationID("ev-1", tr.ID, 3),
		EventInvocationID("sentinel", tr.ID, 1)}
	if got := e.fireIDs(); !slices.Equal(got, want) {
		t.Fatalf("runs = %v, want %v", got, want)
	}
}

// TestEventRetrySucceeds: a handler that fails once succeeds on its second
// attempt; no dead letter.
func TestEventRetrySucceeds(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	e.fns.outcome = func(c call) string {
		if strings.HasSuffix(c.InvocationID, "-2") {
			return "succeeded"
		}
		return "failed"
	}
	tr := e.trigger(api.CreateFunctionTriggerRequest{Name: "on-order", Kind: "event", Topic: "orders.created"}, time.Now().UTC())
	e.runService()
	_, err := e.svc.Publish(ctx, e.proj.ID, "orders.created", "ev-1", []byte(`{}`))
	must(t, err)
	e.waitRuns(2)
	_, err = e.svc.Publish(ctx, e.proj.ID, "orders.created", "ev-2", []byte(`{}`))
	must(t, err)
	e.waitRuns(4)
	want := []string{EventInvocationID("ev-1", tr.ID, 1), EventInvocationID("ev-1", tr.ID, 2), EventInvocationID("ev-2", tr.ID, 1), EventInvocationID("ev-2", tr.ID, 2)}
	if got := e.fireIDs(); !slices.Equal(got, want) {
		t.Fatalf("runs = %v, want %v", got, want)
	}
	letters, _, err := e.st.ListFunctionDeadLetters(ctx, e.ref.ID, store.Page{})
	must(t, err)
	if len(letters) != 0 {
		t.Fatalf("dead letters = %+v", letters)
	}
}

// TestEventConsumersFollowTriggers: deleting a function (its triggers go
// by cascade) removes its trigger's consumer at the next reconcile; a
// trigger made while the process was down gets its consumer then.
func TestEventConsumersFollowTriggers(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	js := e.nc.JetStream()
	tr := e.trigger(api.CreateFunctionTriggerRequest{Name: "on-order", Kind: "event", Topic: "orders.created"}, time.Now().UTC())
	if _, err := js.Consumer(ctx, StreamName, ConsumerName(tr.ID)); err != nil {
		t.Fatalf("consumer of a new trigger: %v", err)
	}
	// Made by another process (or before a crash): only the row.
	other := e.addFunction(e.proj, "other")
	t2 := store.FunctionTrigger{ID: store.NewID(), FunctionID: other.ID, FunctionName: other.Name, OrgID: other.OrgID, WorkspaceID: other.WorkspaceID,
		ProjectID: other.ProjectID, Name: "on-order", Kind: store.FunctionTriggerEvent, Topic: "orders.created", CreatedAt: time.Now().UTC()}
	must(t, e.st.CreateFunctionTrigger(ctx, t2))

	must(t, e.st.DeleteFunction(ctx, e.ref.ID))
	must(t, e.svc.reconcile(ctx))
	if _, err := js.Consumer(ctx, StreamName, ConsumerName(tr.ID)); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("consumer of the deleted function's trigger: %v, want not found", err)
	}
	if _, err := js.Consumer(ctx, StreamName, ConsumerName(t2.ID)); err != nil {
		t.Fatalf("consumer of the trigger made elsewhere: %v", err)
	}
	must(t, e.svc.deleteConsumer(ctx, t2.ID))
	if _, err := js.Consumer(ctx, StreamName, ConsumerName(t2.ID)); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("consumer after delete: %v, want not found", err)
	}
}

// TestEventNeverRunDeadLetters: an event the function never takes (busy
// every time) is dead-lettered after MaxAttempts deliveries too, with the
// reason; it does not come back forever.
func TestEventNeverRunDeadLetters(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	e.fns.outcome = func(c call) string {
		if c.Req.Headers[HeaderEventID][0] == "sentinel" {
			return "succeeded"
		}
		return "busy"
	}
	e.trigger(api.CreateFunctionTriggerRequest{Name: "on-order", Kind: "event", Topic: "orders.created"}, time.Now().UTC())
	e.runService()
	_, err := e.svc.Publish(ctx, e.proj.ID, "orders.created", "ev-1", []byte(`{}`))
	must(t, err)
	var letters []store.FunctionDeadLetter
	testutil.WaitFor(t, waitFor, "dead letter", func() bool {
		letters, _, err = e.st.ListFunctionDeadLetters(ctx, e.ref.ID, store.Page{})
		return err == nil && len(letters) > 0
	})
	_, err = e.svc.Publish(ctx, e.proj.ID, "orders.created", "sentinel", []byte(`{}`))
	must(t, err)
	e.waitRuns(1)
	if n := e.fns.callCount(); n != 4 {
		t.Fatalf("InvokeAs calls = %d, want 3 for ev-1 and 1 for the sentinel", n)
	}
	if d := letters[0]; len(letters) != 1 || d.Attempts != 3 || !strings.Contains(d.LastError, "busy") {
		t.Fatalf("dead letters = %+v", letters)
	}
}

// TestEventDeadLetterHidesInternalErrors: the dead letter of an event the
// function never took because of an internal error says so in general
// words, never the error's text (a host path, a secret's name). Seen
// failing before the fix: LastError was the error's text.
func TestEventDeadLetterHidesInternalErrors(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	e.fns.outcome = func(call) string { return "internal" }
	e.trigger(api.CreateFunctionTriggerRequest{Name: "on-order", Kind: "event", Topic: "orders.created"}, time.Now().UTC())
	e.runService()
	_, err := e.svc.Publish(ctx, e.proj.ID, "orders.created", "ev-1", []byte(`{}`))
	must(t, err)
	var letters []store.FunctionDeadLetter
	testutil.WaitFor(t, waitFor, "dead letter", func() bool {
		letters, _, err = e.st.ListFunctionDeadLetters(ctx, e.ref.ID, store.Page{})
		return err == nil && len(letters) > 0
	})
	if d := letters[0]; !strings.Contains(d.LastError, "internal error") || strings.Contains(d.LastError, "/var/lib") || strings.Contains(d.LastError, "TOKEN") {
		t.Fatalf("dead letter's last error = %q", d.LastError)
	}
}

// TestEventIDsPerProject: two projects publishing the same event id are
// two events: each project's trigger handles its own (the duplicate window
// is per project, not per stream). Seen failing with the bare event id as
// the message id: project A's publish was a silent duplicate.
func TestEventIDsPerProject(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	trA := e.trigger(api.CreateFunctionTriggerRequest{Name: "on-order", Kind: "event", Topic: "orders.created"}, time.Now().UTC())
	projB, refB := e.function("other")
	now := time.Now().UTC()
	trB, errs := checkTrigger(api.CreateFunctionTriggerRequest{Name: "on-order", Kind: "event", Topic: "orders.created"}, now)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	trB.ID, trB.FunctionID, trB.FunctionName = store.NewID(), refB.ID, refB.Name
	trB.OrgID, trB.WorkspaceID, trB.ProjectID, trB.CreatedAt = refB.OrgID, refB.WorkspaceID, refB.ProjectID, now
	must(t, e.st.CreateFunctionTrigger(ctx, trB))
	e.runService()
	must(t, e.svc.reconcile(ctx))

	for _, p := range []string{projB.ID, e.proj.ID} {
		out, err := e.svc.Publish(ctx, p, "orders.created", "order-42", []byte(`{}`))
		must(t, err)
		if out.Duplicate || out.Handlers != 1 {
			t.Fatalf("Publish in project %s = %+v, want 1 handler and no duplicate", p, out)
		}
	}
	e.waitRuns(2)
	got := e.fireIDs()
	slices.Sort(got)
	want := []string{EventInvocationID("order-42", trA.ID, 1), EventInvocationID("order-42", trB.ID, 1)}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("runs = %v, want %v", got, want)
	}
}
