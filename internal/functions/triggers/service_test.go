package triggers

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/functions"
	"github.com/hexabase/hexabase-ai/internal/functions/local"
	"github.com/hexabase/hexabase-ai/internal/functions/wasm"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/identity"
	"github.com/hexabase/hexabase-ai/internal/seal"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// lazyTenancy is the tenancy service get returns, built after the
// functions service.
type lazyTenancy func() *tenancy.Service

func (f lazyTenancy) ResolveProject(r *http.Request) (tenancy.ProjectScope, error) {
	return f().ResolveProject(r)
}

func (f lazyTenancy) ResolveProjectRefs(ctx context.Context, p httpapi.Principal, org, ws, project string) (tenancy.ProjectScope, error) {
	return f().ResolveProjectRefs(ctx, p, org, ws, project)
}

type discardAudit struct{}

func (discardAudit) Append(context.Context, store.AuditRecord) {}

// eventModule compiles testdata/eventfn for wasip1 with the machine's Go
// toolchain.
func eventModule(t *testing.T) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "fn.wasm")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath", "-o", out, "./testdata/eventfn")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	must(t, err)
	return b
}

// TestRealService: the triggers driving the real functions service (a
// wasm function on the local engine, through Adapt): an event is handled
// once and recorded as an "event" invocation, a failing one leaves a dead
// letter after three recorded attempts, and a cron fire is recorded as a
// "cron" invocation.
func TestRealService(t *testing.T) {
	module := eventModule(t)
	a := newAPIEnvWith(t, func(e *env, cfg *Config, tn func() *tenancy.Service, id *identity.Service, sealer *seal.Sealer) []httpapi.Route {
		ctx := t.Context()
		runner, err := wasm.New(ctx, wasm.Config{CacheDir: filepath.Join(e.dir, "wasm-cache"), Logger: e.log})
		must(t, err)
		eng, err := local.New(ctx, local.Config{DataDir: filepath.Join(e.dir, "functions"), Wasm: runner, SandboxReason: "not in this test", Logger: e.log, Now: time.Now})
		must(t, err)
		t.Cleanup(func() { _ = eng.Close() })
		fs, err := functions.New(functions.Config{Store: e.st, Tenancy: lazyTenancy(tn), Auth: id, Engine: eng, Sealer: sealer, Tasks: cfg.Tasks,
			NATS: e.nc.NATS(), Audit: discardAudit{}, ExternalURL: "https://hks.example.test", Logger: e.log, Now: time.Now})
		must(t, err)
		cfg.Functions = Adapt(fs.FunctionByName, fs.InvokeAs)
		return fs.Routes()
	})
	a.runQueue()
	a.runService()
	ctx := t.Context()
	fnPath := a.base + "/functions/echo"
	deploy := api.DeployFunctionRequest{Runtime: "wasm", Source: api.FunctionSource{Filename: "fn.wasm", Content: module}}
	if got := a.do("PUT", fnPath, a.devTok, jsonBody(t, deploy), jsonCT); got.status != 201 {
		t.Fatalf("deploy: %d %s", got.status, got.body)
	}
	for _, req := range []api.CreateFunctionTriggerRequest{
		{Name: "on-order", Kind: "event", Topic: "orders.created"},
		{Name: "every-minute", Kind: "cron", Schedule: "* * * * *"},
	} {
		if got := a.do("POST", fnPath+"/triggers", a.devTok, jsonBody(t, req), jsonCT); got.status != 201 {
			t.Fatalf("create trigger %s: %d %s", req.Name, got.status, got.body)
		}
	}
	fn, err := a.st.GetFunctionByName(ctx, a.proj.ID, "echo")
	must(t, err)
	evTrigger, err := a.st.GetFunctionTrigger(ctx, fn.ID, "on-order")
	must(t, err)
	cronTrigger, err := a.st.GetFunctionTrigger(ctx, fn.ID, "every-minute")
	must(t, err)

	waitInvocation := func(id string) store.Invocation {
		t.Helper()
		var inv store.Invocation
		testutil.WaitFor(t, 3*waitFor, "invocation "+id, func() bool {
			inv, err = a.st.GetInvocation(ctx, id)
			return err == nil && !inv.FinishedAt.IsZero()
		})
		return inv
	}

	for _, want := range []int{202, 200} { // the same event id twice: the second is a duplicate
		if got := a.do("POST", a.base+"/events/orders.created", a.devTok, []byte("hello"), map[string]string{HeaderEventID: "ev-ok"}); got.status != want {
			t.Fatalf("publish: %d %s", got.status, got.body)
		}
	}
	inv := waitInvocation(EventInvocationID("ev-ok", evTrigger.ID, 1))
	if inv.Status != store.InvocationSucceeded || inv.Trigger != TriggerEvent {
		t.Fatalf("event invocation = %+v", inv)
	}

	if got := a.do("POST", a.base+"/events/orders.created", a.devTok, []byte("please fail"), map[string]string{HeaderEventID: "ev-bad"}); got.status != 202 {
		t.Fatalf("publish: %d %s", got.status, got.body)
	}
	var letters api.List[api.DeadLetter]
	testutil.WaitFor(t, 3*waitFor, "dead letter", func() bool {
		got := a.do("GET", fnPath+"/deadletters", a.viewerTok, nil, nil)
		return got.status == 200 && json.Unmarshal(got.body, &letters) == nil && len(letters.Items) > 0
	})
	d := letters.Items[0]
	if len(letters.Items) != 1 || d.Attempts != 3 || d.EventID != "ev-bad" || d.Function != "echo" || d.Trigger != "on-order" || d.Payload != "please fail" || d.LastError == "" {
		t.Fatalf("dead letters = %+v", letters.Items)
	}
	for attempt := 1; attempt <= 3; attempt++ {
		if inv := waitInvocation(EventInvocationID("ev-bad", evTrigger.ID, attempt)); inv.Status != store.InvocationFailed {
			t.Fatalf("attempt %d = %+v", attempt, inv)
		}
	}
	// ev-ok ran once: its copy was dropped, and no retry id exists.
	if _, err := a.st.GetInvocation(ctx, EventInvocationID("ev-ok", evTrigger.ID, 2)); err == nil {
		t.Fatal("ev-ok ran a second attempt")
	}

	at := *cronTrigger.NextFireAt
	must(t, a.svc.tick(ctx, at.Add(time.Second)))
	inv = waitInvocation(FireID(cronTrigger.ID, at))
	if inv.Status != store.InvocationSucceeded || inv.Trigger != TriggerCron {
		t.Fatalf("cron invocation = %+v", inv)
	}
}
