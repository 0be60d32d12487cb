package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// fnWorld is a platform with functions and the people of the RBAC table:
// a develops frontend, b views the whole workspace, d develops backend,
// e owns another organization.
type fnWorld struct {
	s                 *hksServer
	admin, a, b, d, e *apiClient
	orgPath, wsPath   string
	frontend, backend string // project API paths
	frontendID        string
	anon              *apiClient
}

func newFnWorld(t *testing.T, args ...string) *fnWorld {
	t.Helper()
	needBinary(t)
	w := &fnWorld{}
	w.s = startServer(t, filepath.Join(t.TempDir(), "data"), "127.0.0.1:0", []string{noControlPlanes}, args...)
	w.init(t)
	return w
}

func (w *fnWorld) init(t *testing.T) {
	t.Helper()
	w.admin = setupAdmin(t, w.s, "admin@example.com", "correct-horse-battery")
	w.orgPath = w.admin.createOrg("Acme")
	var ws struct {
		ID string `json:"id"`
	}
	w.admin.must("POST", w.orgPath+"/workspaces", map[string]string{"name": "prod"}, http.StatusAccepted, &ws)
	w.wsPath = w.orgPath + "/workspaces/" + ws.ID
	w.frontendID = w.admin.createProject(w.wsPath, map[string]any{"name": "frontend"})
	backendID := w.admin.createProject(w.wsPath, map[string]any{"name": "backend"})
	w.frontend = w.wsPath + "/projects/frontend"
	w.backend = w.wsPath + "/projects/backend"
	w.a = createUser(t, w.s, "a@example.com", "password-of-a")
	w.b = createUser(t, w.s, "b@example.com", "password-of-b")
	w.d = createUser(t, w.s, "d@example.com", "password-of-d")
	w.e = createUser(t, w.s, "e@example.com", "password-of-e")
	for _, c := range []*apiClient{w.a, w.b, w.d} {
		w.admin.invite(w.orgPath, c)
	}
	w.admin.grant(w.wsPath, "frontend-devs", w.a, "developer", w.frontendID)
	w.admin.grant(w.wsPath, "viewers", w.b, "viewer", "")
	w.admin.grant(w.wsPath, "backend-devs", w.d, "developer", backendID)
	w.e.createOrg("Other")
	w.anon = newAPI(t, w.s.URL)
}

// deploy deploys code as c and wants status want.
func deployFn(t *testing.T, c *apiClient, project, name, runtime, filename string, code []byte, extra map[string]any, want int) api.Function {
	t.Helper()
	body := map[string]any{"runtime": runtime, "source": api.FunctionSource{Filename: filename, Content: code}}
	for k, v := range extra {
		body[k] = v
	}
	var f api.Function
	c.must("PUT", project+"/functions/"+name, body, want, &f)
	return f
}

// fnCall calls a function's HTTP trigger as c (nil: anonymous) and
// returns the status and body.
func fnCall(t *testing.T, c *apiClient, url, method string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c != nil && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

const pyEcho = `import os, json
def handle(req):
    print("called", req["method"], req["path"])
    return {"status": 200, "headers": {"X-Runtime": "python"},
            "body": json.dumps({"runtime": "python", "method": req["method"], "path": req["path"],
                                "query": req["query"], "body": req["body"], "greeting": os.environ.get("GREETING", "")})}
`

const nodeEcho = `module.exports = async (req) => {
  console.log("called", req.method, req.path);
  return {status: 200, headers: {"X-Runtime": "node"},
          body: JSON.stringify({runtime: "node", method: req.method, path: req.path, query: req.query, body: req.body, greeting: process.env.GREETING || ""})};
};
`

const goEcho = `package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func Handle(req Request) Response {
	fmt.Println("called", req.Method, req.Path)
	b, _ := json.Marshal(map[string]any{"runtime": "go", "method": req.Method, "path": req.Path, "query": req.Query, "body": string(req.Body), "greeting": os.Getenv("GREETING")})
	return Response{Status: 200, Headers: map[string]string{"X-Runtime": "go"}, Body: b}
}
`

const wasmEchoSrc = `package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	var req struct {
		Method string              ` + "`json:\"method\"`" + `
		Path   string              ` + "`json:\"path\"`" + `
		Query  map[string][]string ` + "`json:\"query\"`" + `
		Body   string              ` + "`json:\"body\"`" + `
	}
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "bad request:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "called", req.Method, req.Path)
	b, _ := json.Marshal(map[string]any{"runtime": "wasm", "method": req.Method, "path": req.Path, "query": req.Query, "body": req.Body, "greeting": os.Getenv("GREETING")})
	json.NewEncoder(os.Stdout).Encode(map[string]any{"status": 200, "headers": map[string]string{"X-Runtime": "wasm"}, "body": string(b)})
}
`

var (
	wasmOnce sync.Once
	wasmMod  []byte
	wasmErr  error
)

// wasmEcho is wasmEchoSrc built for WASI preview 1 by the machine's Go.
func wasmEcho(t *testing.T) []byte {
	t.Helper()
	wasmOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hks-wasm-")
		if err != nil {
			wasmErr = err
			return
		}
		defer os.RemoveAll(dir)
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(wasmEchoSrc), 0o644); err != nil {
			wasmErr = err
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module echo\n\ngo 1.22\n"), 0o644); err != nil {
			wasmErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", "echo.wasm", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			wasmErr = fmt.Errorf("go build wasip1: %v\n%s", err, out)
			return
		}
		wasmMod, wasmErr = os.ReadFile(filepath.Join(dir, "echo.wasm"))
	})
	if wasmErr != nil {
		t.Fatal(wasmErr)
	}
	return wasmMod
}

// TestFunctionsRunInEveryRuntime deploys the same echo handler in each
// runtime and calls it over HTTP, privately as a developer of the project.
func TestFunctionsRunInEveryRuntime(t *testing.T) {
	w := newFnWorld(t)
	var runtimes []api.FunctionRuntime
	w.a.must("GET", "/api/v1/functions/runtimes", nil, http.StatusOK, &runtimes)
	for _, r := range runtimes {
		if !r.Available {
			t.Errorf("runtime %s is not available on this machine: %s", r.Name, r.Reason)
		}
	}
	cases := []struct {
		runtime, file string
		code          []byte
	}{
		{"python", "handler.py", []byte(pyEcho)},
		{"node", "index.js", []byte(nodeEcho)},
		{"go", "main.go", []byte(goEcho)},
		{"wasm", "fn.wasm", wasmEcho(t)},
	}
	for _, tc := range cases {
		t.Run(tc.runtime, func(t *testing.T) {
			a := w.a.in(t)
			f := deployFn(t, a, w.frontend, "echo-"+tc.runtime, tc.runtime, tc.file, tc.code, map[string]any{"env": map[string]string{"GREETING": "hello " + tc.runtime}}, http.StatusCreated)
			if f.LatestVersion != 1 || f.Runtime != tc.runtime || f.URL == "" {
				t.Fatalf("deployed: %+v", f)
			}
			code, body := fnCall(t, a, f.URL+"/orders/7?x=1", "POST", []byte("payload-"+tc.runtime))
			if code != http.StatusOK {
				t.Fatalf("call: %d %s", code, body)
			}
			var got struct {
				Runtime, Method, Path, Body, Greeting string
				Query                                 map[string][]string
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if got.Runtime != tc.runtime || got.Method != "POST" || got.Path != "/orders/7" || got.Body != "payload-"+tc.runtime ||
				got.Greeting != "hello "+tc.runtime || len(got.Query["x"]) != 1 || got.Query["x"][0] != "1" {
				t.Fatalf("the handler saw %+v", got)
			}
			// The call is recorded with its logs.
			var invs api.List[api.Invocation]
			eventually(t, 10*time.Second, func() (bool, string) {
				a.must("GET", w.frontend+"/functions/echo-"+tc.runtime+"/invocations", nil, http.StatusOK, &invs)
				return len(invs.Items) == 1, fmt.Sprintf("1 invocation recorded, have %d", len(invs.Items))
			})
			inv := invs.Items[0]
			if inv.Status != "succeeded" || inv.Trigger != "http" || inv.Version != 1 || !strings.Contains(inv.Logs, "called POST /orders/7") {
				t.Fatalf("invocation record: %+v", inv)
			}
		})
	}
}

const pyVersion = `def handle(req):
    return {"status": 200, "body": "v%d"}
`

// TestFunctionVersionsSplitAndRollback: an alias split 90/10 serves both
// versions in proportion over 1,000 calls; rollback returns latest to the
// version before.
func TestFunctionVersionsSplitAndRollback(t *testing.T) {
	w := newFnWorld(t)
	f := deployFn(t, w.a, w.frontend, "split", "python", "handler.py", []byte(fmt.Sprintf(pyVersion, 1)), nil, http.StatusCreated)
	same := deployFn(t, w.a, w.frontend, "split", "python", "handler.py", []byte(fmt.Sprintf(pyVersion, 1)), nil, http.StatusOK)
	if same.LatestVersion != 1 {
		t.Fatalf("the same code again made version %d", same.LatestVersion)
	}
	f = deployFn(t, w.a, w.frontend, "split", "python", "handler.py", []byte(fmt.Sprintf(pyVersion, 2)), nil, http.StatusOK)
	if f.LatestVersion != 2 {
		t.Fatalf("second deploy: version %d", f.LatestVersion)
	}
	if code, body := fnCall(t, w.a, f.URL, "GET", nil); code != 200 || string(body) != "v2" {
		t.Fatalf("latest answers %d %q, want v2", code, body)
	}
	w.a.must("PUT", w.frontend+"/functions/split/aliases/canary", api.SetFunctionAliasRequest{Targets: []api.FunctionAliasTarget{{Version: 1, Weight: 90}, {Version: 2, Weight: 10}}}, http.StatusOK, nil)
	counts := map[string]int{}
	for i := 0; i < 1000; i++ {
		code, body := fnCall(t, w.a, f.URL+"/canary", "GET", nil)
		if code != 200 {
			t.Fatalf("call %d: %d %s", i, code, body)
		}
		counts[string(body)]++
	}
	t.Logf("canary 90/10 over 1,000 calls: %v", counts)
	if counts["v1"]+counts["v2"] != 1000 || counts["v2"] < 50 || counts["v2"] > 150 {
		t.Fatalf("split %v, want v2 in 100±50", counts)
	}
	var rolled api.Function
	w.a.must("POST", w.frontend+"/functions/split/rollback", api.RollbackFunctionRequest{}, http.StatusOK, &rolled)
	if code, body := fnCall(t, w.a, f.URL, "GET", nil); code != 200 || string(body) != "v1" {
		t.Fatalf("after rollback latest answers %d %q, want v1", code, body)
	}
}

// invocations lists every invocation of a function (newest first).
func invocationsOf(t *testing.T, c *apiClient, project, name string) []api.Invocation {
	t.Helper()
	var out []api.Invocation
	cursor := ""
	for {
		p := project + "/functions/" + name + "/invocations?limit=100"
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		var l api.List[api.Invocation]
		c.must("GET", p, nil, http.StatusOK, &l)
		out = append(out, l.Items...)
		if l.NextCursor == "" {
			return out
		}
		cursor = l.NextCursor
	}
}

// TestFunctionCronFiresOncePerMinuteAcrossSIGKILL: a cron trigger fires
// once per minute for 3 minutes, and a SIGKILL of the platform and its
// restart on the same data never runs a minute twice.
func TestFunctionCronFiresOncePerMinuteAcrossSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3 minutes")
	}
	w := newFnWorld(t)
	deployFn(t, w.a, w.frontend, "tick", "python", "handler.py", []byte("def handle(req):\n    print('tick')\n    return 'ok'\n"), nil, http.StatusCreated)
	w.a.must("POST", w.frontend+"/functions/tick/triggers", api.CreateFunctionTriggerRequest{Name: "every-minute", Kind: "cron", Schedule: "* * * * *"}, http.StatusCreated, nil)
	start := time.Now()
	cronMinutes := func(c *apiClient) map[string]int {
		m := map[string]int{}
		for _, inv := range invocationsOf(t, c, w.frontend, "tick") {
			if inv.Trigger == "cron" {
				m[inv.StartedAt.UTC().Format("15:04")]++
			}
		}
		return m
	}
	// Wait for the first fire, then kill the platform right after it.
	eventually(t, 90*time.Second, func() (bool, string) {
		m := cronMinutes(w.a)
		return len(m) >= 1, fmt.Sprintf("a first cron fire: %v", m)
	})
	w.s.Signal(9)
	_ = w.s.Wait(30 * time.Second)
	w.s = startServer(t, w.s.DataDir, "127.0.0.1:"+w.s.Port(), []string{noControlPlanes})
	w.a.login(w.a.email, w.a.password)
	eventually(t, 4*time.Minute, func() (bool, string) {
		m := cronMinutes(w.a)
		return len(m) >= 3 && time.Since(start) > 3*time.Minute, fmt.Sprintf("3 minutes of fires: %v", m)
	})
	for minute, n := range cronMinutes(w.a) {
		if n != 1 {
			t.Errorf("minute %s ran %d times, want once", minute, n)
		}
	}
}

const pyFail = `def handle(req):
    raise RuntimeError("cannot handle " + req["headers"].get("X-Hks-Topic", [""])[0])
`

// TestFunctionEvents: an event published once is handled once; a handler
// that fails three times leaves a dead-letter record.
func TestFunctionEvents(t *testing.T) {
	w := newFnWorld(t)
	deployFn(t, w.a, w.frontend, "onorder", "python", "handler.py", []byte("def handle(req):\n    print('order', req['body'])\n    return 'ok'\n"), nil, http.StatusCreated)
	deployFn(t, w.a, w.frontend, "broken", "python", "handler.py", []byte(pyFail), nil, http.StatusCreated)
	w.a.must("POST", w.frontend+"/functions/onorder/triggers", api.CreateFunctionTriggerRequest{Name: "orders", Kind: "event", Topic: "orders.created"}, http.StatusCreated, nil)
	w.a.must("POST", w.frontend+"/functions/broken/triggers", api.CreateFunctionTriggerRequest{Name: "orders", Kind: "event", Topic: "orders.broken"}, http.StatusCreated, nil)

	publish := func(topic, body string) api.PublishEventResponse {
		req, _ := http.NewRequest("POST", w.s.URL+w.frontend+"/events/"+topic, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+w.a.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("publish %s: %d %s", topic, resp.StatusCode, b)
		}
		var out api.PublishEventResponse
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	ev := publish("orders.created", `{"order":42}`)
	if ev.Handlers != 1 {
		t.Fatalf("published to %d handlers, want 1", ev.Handlers)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		n := len(invocationsOf(t, w.a, w.frontend, "onorder"))
		return n >= 1, fmt.Sprintf("the event handled: %d invocations", n)
	})
	publish("orders.broken", `{"order":43}`)
	var dead api.List[api.DeadLetter]
	eventually(t, 90*time.Second, func() (bool, string) {
		w.a.must("GET", w.frontend+"/functions/broken/deadletters", nil, http.StatusOK, &dead)
		return len(dead.Items) >= 1, fmt.Sprintf("a dead letter: %d", len(dead.Items))
	})
	// Give a stray redelivery the time to show.
	time.Sleep(5 * time.Second)
	invs := invocationsOf(t, w.a, w.frontend, "onorder")
	if len(invs) != 1 || invs[0].Trigger != "event" || invs[0].Status != "succeeded" || !strings.Contains(invs[0].Logs, `order {"order":42}`) {
		t.Fatalf("the event was handled %d times: %+v", len(invs), invs)
	}
	w.a.must("GET", w.frontend+"/functions/broken/deadletters", nil, http.StatusOK, &dead)
	if len(dead.Items) != 1 || dead.Items[0].Attempts != 3 || dead.Items[0].Topic != "orders.broken" || !strings.Contains(dead.Items[0].LastError, "cannot handle orders.broken") {
		t.Fatalf("dead letters: %+v", dead.Items)
	}
	if n := len(invocationsOf(t, w.a, w.frontend, "broken")); n != 3 {
		t.Fatalf("the failing handler ran %d times, want 3", n)
	}
}

// invokeAPI runs a test invocation through the API as c.
func invokeAPI(t *testing.T, c *apiClient, project, name string, req api.InvokeFunctionRequest) api.Invocation {
	t.Helper()
	var inv api.Invocation
	c.must("POST", project+"/functions/"+name+"/invoke", req, http.StatusOK, &inv)
	return inv
}

// TestFunctionSandbox: each escape a function tries fails, each limit ends
// the invocation with its own exit reason, and the platform serves on.
func TestFunctionSandbox(t *testing.T) {
	w := newFnWorld(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("host service\n"))
			c.Close()
		}
	}()
	// Another function's code, to read from the neighbour.
	secret := deployFn(t, w.d, w.backend, "neighbour", "python", "handler.py", []byte("SECRET = 'neighbour-secret-code'\ndef handle(req):\n    return SECRET\n"), nil, http.StatusCreated)
	_ = secret
	if code, body := fnCall(t, w.d, secret.URL, "GET", nil); code != 200 || string(body) != "neighbour-secret-code" {
		t.Fatalf("neighbour: %d %s", code, body)
	}
	limits := map[string]any{"limits": api.FunctionLimits{MemoryMB: 64, TimeoutSeconds: 3}}
	cases := []struct {
		name, code string
		status     string // succeeded or failed
		exit       string
		want       string // in the body (succeeded) or the error/logs (failed)
	}{
		{"tcp-to-host", fmt.Sprintf(`import socket
def handle(req):
    s = socket.create_connection(("127.0.0.1", %s), timeout=2)
    return s.recv(100).decode()
`, strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")), "failed", "error", "Errno"},
		{"list-root", `import os
def handle(req):
    return " ".join(sorted(os.listdir("/")))
`, "succeeded", "", ""},
		{"read-data-dir", fmt.Sprintf(`import os
def handle(req):
    return open(%q).read()
`, filepath.Join(w.s.DataDir, "hks.db")), "failed", "error", "No such file or directory"},
		{"read-neighbour", `import os
def handle(req):
    found = []
    for root, dirs, files in os.walk("/"):
        if root == "/":  # the system's own read-only directories hold no tenant code
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", "usr", "lib", "lib32", "lib64", "bin", "sbin")]
        for f in files:
            p = os.path.join(root, f)
            if p.startswith("/code/"):  # its own code (which names what it looks for)
                continue
            if f == "handler.py":
                found.append(p)
            try:
                if "neighbour-secret-code" in open(p, errors="ignore").read(100000):
                    found.append(p)
            except Exception:
                pass
    return "found:" + ",".join(found)
`, "succeeded", "", "found:"},
		{"write-outside-tmp", `def handle(req):
    open("/tmp/ok", "w").write("fine")
    open("/usr/evil", "w").write("x")
    return "wrote"
`, "failed", "error", "Read-only file system"},
		{"fork-bomb", `import os, time
def handle(req):
    while True:
        try:
            os.fork()
        except OSError:
            time.sleep(0.01)
`, "failed", "pids", ""},
		{"memory-hog", `def handle(req):
    hog = []
    while True:
        hog.append(bytearray(8 << 20))
`, "failed", "oom", ""},
		{"endless-loop", `def handle(req):
    while True:
        pass
`, "failed", "timeout", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := w.a.in(t)
			lim := limits
			if tc.name == "read-neighbour" { // walks the whole tree
				lim = map[string]any{"limits": api.FunctionLimits{MemoryMB: 64, TimeoutSeconds: 60}}
			}
			deployFn(t, a, w.frontend, tc.name, "python", "handler.py", []byte(tc.code), lim, http.StatusCreated)
			inv := invokeAPI(t, a, w.frontend, tc.name, api.InvokeFunctionRequest{})
			t.Logf("%s: status %s, exit %q, error %q, body %q", tc.name, inv.Status, inv.ExitReason, inv.Error, bodyOf(inv))
			if inv.Status != tc.status || inv.ExitReason != tc.exit {
				t.Fatalf("status %s exit %q, want %s %q: %+v", inv.Status, inv.ExitReason, tc.status, tc.exit, inv)
			}
			text := bodyOf(inv) + inv.Error + inv.Logs
			if tc.want != "" && !strings.Contains(text, tc.want) {
				t.Fatalf("want %q in %q", tc.want, text)
			}
			switch tc.name {
			case "list-root":
				for _, e := range strings.Fields(bodyOf(inv)) {
					switch e {
					case "usr", "lib", "lib64", "lib32", "bin", "sbin", "etc", "proc", "dev", "tmp", "code", "hks": // hks: the loader
					default:
						t.Errorf("/ shows %q: %s", e, bodyOf(inv))
					}
				}
			case "read-neighbour":
				if bodyOf(inv) != "found:" {
					t.Errorf("another function's code is readable: %s", bodyOf(inv))
				}
			}
			// The host is unharmed: the platform still serves and runs code.
			w.a.must("GET", "/readyz", nil, http.StatusOK, nil)
			if code, body := fnCall(t, w.d, secret.URL, "GET", nil); code != 200 || string(body) != "neighbour-secret-code" {
				t.Fatalf("after %s the neighbour answers %d %s", tc.name, code, body)
			}
		})
	}
}

func bodyOf(inv api.Invocation) string {
	if inv.Response == nil {
		return ""
	}
	return inv.Response.Body
}

// TestFunctionRBAC is the table: developer, viewer, another project's
// developer, another tenant and anonymous against private and public
// functions and the API.
func TestFunctionRBAC(t *testing.T) {
	w := newFnWorld(t)
	code := []byte("def handle(req):\n    return 'hi'\n")
	priv := deployFn(t, w.a, w.frontend, "priv", "python", "handler.py", code, nil, http.StatusCreated)
	pub := deployFn(t, w.a, w.frontend, "pub", "python", "handler.py", code, map[string]any{"access": "public"}, http.StatusCreated)
	type who struct {
		name string
		c    *apiClient
	}
	people := []who{{"developer", w.a}, {"viewer", w.b}, {"other-project-developer", w.d}, {"other-tenant", w.e}, {"anonymous", w.anon}}
	want := map[string][]int{
		// private call, public call, list, get code, invoke API, deploy, delete
		"developer":               {200, 200, 200, 200, 200, 200, 204},
		"viewer":                  {403, 200, 200, 200, 403, 403, 403},
		"other-project-developer": {404, 200, 404, 404, 404, 404, 404},
		"other-tenant":            {404, 200, 404, 404, 404, 404, 404},
		"anonymous":               {401, 200, 401, 401, 401, 401, 401},
	}
	for _, p := range people {
		t.Run(p.name, func(t *testing.T) {
			var got []int
			c1, _ := fnCall(t, p.c, priv.URL, "GET", nil)
			c2, _ := fnCall(t, p.c, pub.URL, "GET", nil)
			got = append(got, c1, c2)
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{"GET", w.frontend + "/functions", nil},
				{"GET", w.frontend + "/functions/priv/versions/1/code", nil},
				{"POST", w.frontend + "/functions/priv/invoke", api.InvokeFunctionRequest{}},
				{"PUT", w.frontend + "/functions/new-" + strings.ReplaceAll(p.name, "-", ""), map[string]any{"runtime": "python", "source": api.FunctionSource{Filename: "handler.py", Content: code}}},
				{"DELETE", w.frontend + "/functions/pub", nil},
			} {
				c, b, err := p.c.call(r.method, r.path, r.body)
				if err != nil {
					t.Fatal(err)
				}
				if c >= 400 && !json.Valid(b) {
					t.Errorf("%s %s: %d without a problem body: %s", r.method, r.path, c, b)
				}
				if r.method == "PUT" && c == 201 {
					c = 200
				}
				got = append(got, c)
			}
			if fmt.Sprint(got) != fmt.Sprint(want[p.name]) {
				t.Fatalf("%s: got %v, want %v (private call, public call, list, code, invoke, deploy, delete)", p.name, got, want[p.name])
			}
			if p.name == "developer" { // put pub back for the next person
				deployFn(t, w.a, w.frontend, "pub", "python", "handler.py", code, map[string]any{"access": "public"}, http.StatusCreated)
			}
		})
	}
}

// TestFunctionBadInput: each mistake is a 4xx problem that says what is
// wrong, in the runtime's own words for code that does not build.
func TestFunctionBadInput(t *testing.T) {
	w := newFnWorld(t)
	good := api.FunctionSource{Filename: "handler.py", Content: []byte("def handle(req):\n    return 'ok'\n")}
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		detail []string
	}{
		{"unknown runtime", "PUT", "/functions/f1", map[string]any{"runtime": "cobol", "source": good}, 422, []string{"cobol"}},
		{"over-size upload", "PUT", "/functions/f2", map[string]any{"runtime": "python", "source": api.FunctionSource{Filename: "handler.py", Content: bytes.Repeat([]byte("#"), 5<<20)}}, 413, nil},
		{"python syntax error", "PUT", "/functions/f3", map[string]any{"runtime": "python", "source": api.FunctionSource{Filename: "handler.py", Content: []byte("def handle(req)\n    return 1\n")}}, 422, []string{"SyntaxError"}},
		{"node syntax error", "PUT", "/functions/f4", map[string]any{"runtime": "node", "source": api.FunctionSource{Filename: "index.js", Content: []byte("module.exports = async (req) => { return {status: 200 ;\n")}}, 422, []string{"SyntaxError"}},
		{"go compile error", "PUT", "/functions/f5", map[string]any{"runtime": "go", "source": api.FunctionSource{Filename: "main.go", Content: []byte("package main\n\nfunc Handle(req Request) Response { return undefinedThing }\n")}}, 422, []string{"undefined: undefinedThing"}},
		{"bad ttl", "PUT", "/functions/f6", map[string]any{"runtime": "python", "source": good, "ttl": "forever"}, 422, []string{"ttl"}},
		{"bad schedule", "POST", "/functions/ok/triggers", api.CreateFunctionTriggerRequest{Name: "c", Kind: "cron", Schedule: "61 * * * *"}, 422, []string{"minute"}},
		{"bad alias weight sum", "PUT", "/functions/ok/aliases/canary", api.SetFunctionAliasRequest{Targets: []api.FunctionAliasTarget{{Version: 1, Weight: 50}, {Version: 2, Weight: 30}}}, 422, []string{"100"}},
	}
	deployFn(t, w.a, w.frontend, "ok", "python", "handler.py", good.Content, nil, http.StatusCreated)
	deployFn(t, w.a, w.frontend, "ok", "python", "handler.py", []byte("def handle(req):\n    return 'ok 2'\n"), nil, http.StatusOK)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := problem(t, w.a.in(t), tc.method, w.frontend+tc.path, tc.body, tc.status)
			all := p.Detail
			for _, e := range p.Errors {
				all += " " + e.Field + ": " + e.Message
			}
			for _, d := range tc.detail {
				if !strings.Contains(all, d) {
					t.Errorf("problem %q does not say %q", all, d)
				}
			}
		})
	}
	// Nothing of the refused deploys was kept.
	var l api.List[api.Function]
	w.a.must("GET", w.frontend+"/functions", nil, http.StatusOK, &l)
	if len(l.Items) != 1 || l.Items[0].Name != "ok" {
		t.Fatalf("functions after the refused deploys: %+v", l.Items)
	}
}
