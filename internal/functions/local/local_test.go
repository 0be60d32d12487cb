package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/functions/sandbox"
	"github.com/hexabase/hexabase-ai/internal/functions/wasm"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

var groupSeq atomic.Int64

// testGoCache is the go build cache the tests share across runs (the
// first go build on it compiles the standard library, about half a
// minute). It is under the temp dir, not the user's cache dir: the
// sandbox's user (nobody, when the tests run as root) must reach it, and
// /root is 0700.
func testGoCache(tb testing.TB) string {
	return filepath.Join(os.TempDir(), "hks-fn-test-gocache")
}

// dataDir is a new data dir the sandbox's user can reach: t.TempDir()
// is 0700 (and its parent too), as a server's data dir is; the engine
// needs the way to DataDir searchable by others.
func newDataDir(tb testing.TB) string {
	d := tb.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

func newSandbox(tb testing.TB) *sandbox.Sandbox {
	tb.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		tb.Skip("bubblewrap (bwrap) is not installed; CI installs it")
	}
	s, err := sandbox.New(sandbox.Config{Group: fmt.Sprintf("hks-fn-local-test-%d-%d", os.Getpid(), groupSeq.Add(1)),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close sandbox: %v", err)
		}
	})
	return s
}

// newEngine starts an engine on dataDir (a new one when empty), closed by
// the test's cleanup, which checks that no process of it remains.
func newEngine(tb testing.TB, dataDir string, mod func(*Config)) *Engine {
	tb.Helper()
	if dataDir == "" {
		dataDir = newDataDir(tb)
	}
	w, err := wasm.New(context.Background(), wasm.Config{CacheDir: filepath.Join(dataDir, "wasmcache"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := Config{DataDir: dataDir, Sandbox: newSandbox(tb), Wasm: w, GoCache: testGoCache(tb),
		Logger: slog.New(slog.DiscardHandler), Now: time.Now}
	if mod != nil {
		mod(&cfg)
	}
	e, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
		if pids := testutil.ProcsUnder(tb, dataDir); len(pids) > 0 {
			tb.Errorf("processes left after Close: %v", pids)
		}
	})
	return e
}

var (
	wasmMu   sync.Mutex
	wasmMods = map[string][]byte{}
)

// wasmModule compiles testdata/<name> for wasip1 once per test binary.
func wasmModule(tb testing.TB, name string) []byte {
	tb.Helper()
	wasmMu.Lock()
	defer wasmMu.Unlock()
	if b, ok := wasmMods[name]; ok {
		return b
	}
	dir := tb.TempDir()
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath", "-o", filepath.Join(dir, "fn.wasm"), "./testdata/"+name)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v: %s", name, err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "fn.wasm"))
	if err != nil {
		tb.Fatal(err)
	}
	wasmMods[name] = b
	return b
}

func wasmHello(tb testing.TB) []byte { return wasmModule(tb, "wasmhello") }

// The hello function of each runtime answers "<method> <path> <body>
// <GREETING>".
var helloCode = map[string]map[string]string{
	engine.RuntimeNode: {"index.js": `module.exports = async (req) => {
  console.log("called", req.method);
  return {status: 200, headers: {"x-runtime": "node"}, body: req.method + " " + req.path + " " + req.body + " " + process.env.GREETING};
};`},
	engine.RuntimePython: {"handler.py": `import os
def handle(req):
    print("called", req["method"])
    return {"status": 200, "headers": {"x-runtime": "python"}, "body": req["method"] + " " + req["path"] + " " + req["body"] + " " + os.environ["GREETING"]}
`},
	engine.RuntimeGo: {"main.go": `package main

import (
	"fmt"
	"os"
)

func Handle(req Request) Response {
	fmt.Println("called", req.Method)
	return Response{Status: 200, Headers: map[string]string{"x-runtime": "go"}, Body: []byte(req.Method + " " + req.Path + " " + string(req.Body) + " " + os.Getenv("GREETING"))}
}
`},
}

var keySeq atomic.Int64

func version(tb testing.TB, runtime string, files map[string]string, lim engine.Limits) engine.Version {
	v := engine.Version{Key: fmt.Sprintf("%s-%d", runtime, keySeq.Add(1)), Owner: "ws-1", Runtime: runtime,
		Files: map[string][]byte{}, Env: map[string]string{"GREETING": "hey"}, Limits: lim}
	if runtime == engine.RuntimeWasm {
		v.Files["fn.wasm"] = wasmHello(tb)
	}
	for n, c := range files {
		v.Files[n] = []byte(c)
	}
	if v.Limits.Timeout == 0 {
		v.Limits.Timeout = 10 * time.Second
	}
	if v.Limits.MemoryBytes == 0 {
		v.Limits.MemoryBytes = 128 << 20
	}
	return v
}

func invoke(tb testing.TB, e *Engine, v engine.Version) engine.Result {
	tb.Helper()
	res, err := e.Invoke(context.Background(), v, engine.Request{Method: "POST", Path: "/p", Body: []byte("hello")})
	if err != nil {
		tb.Fatalf("invoke %s: %v", v.Key, err)
	}
	return res
}

func TestHelloPerRuntime(t *testing.T) {
	e := newEngine(t, "", nil)
	for _, rt := range []string{engine.RuntimeNode, engine.RuntimePython, engine.RuntimeGo, engine.RuntimeWasm} {
		t.Run(rt, func(t *testing.T) {
			v := version(t, rt, helloCode[rt], engine.Limits{})
			if err := e.Build(context.Background(), v); err != nil {
				t.Fatalf("build: %v", err)
			}
			res := invoke(t, e, v)
			if res.ExitReason != "" || string(res.Response.Body) != "POST /p hello hey" || res.Response.Status != 200 {
				t.Fatalf("result %+v (body %q)", res, res.Response.Body)
			}
			if rt != engine.RuntimeWasm {
				if !res.ColdStart || string(res.Logs) != "called POST\n" || res.Response.Headers["x-runtime"][0] != rt {
					t.Fatalf("first call: cold %v logs %q headers %v", res.ColdStart, res.Logs, res.Response.Headers)
				}
				if e.Instances(v.Key) != 1 {
					t.Fatalf("instances %d", e.Instances(v.Key))
				}
				if res := invoke(t, e, v); res.ColdStart || string(res.Response.Body) != "POST /p hello hey" {
					t.Fatalf("second call %+v", res)
				}
			}
		})
	}
}

func TestRuntimes(t *testing.T) {
	e := newEngine(t, "", nil)
	got := map[string]engine.RuntimeInfo{}
	for _, ri := range e.Runtimes() {
		got[ri.Name] = ri
	}
	for _, name := range []string{"node", "python", "go", "wasm"} {
		if !got[name].Available || got[name].Version == "" {
			t.Errorf("%s: %+v", name, got[name])
		}
	}
}

func TestNoSandbox(t *testing.T) {
	w, err := wasm.New(context.Background(), wasm.Config{CacheDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(context.Background(), Config{DataDir: t.TempDir(), Wasm: w, SandboxReason: "bubblewrap is not installed",
		Logger: slog.New(slog.DiscardHandler), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, ri := range e.Runtimes() {
		if ri.Name != "wasm" && (ri.Available || ri.Reason != "bubblewrap is not installed") {
			t.Errorf("%+v", ri)
		}
	}
	v := version(t, engine.RuntimeNode, helloCode[engine.RuntimeNode], engine.Limits{})
	if err := e.Build(context.Background(), v); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("build: %v", err)
	}
	if _, err := e.Invoke(context.Background(), v, engine.Request{}); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("invoke: %v", err)
	}
}

func TestBuildErrors(t *testing.T) {
	e := newEngine(t, "", nil)
	cases := []struct {
		runtime string
		files   map[string]string
		want    []string
	}{
		{engine.RuntimeNode, map[string]string{"index.js": "module.exports = async (req) => { return ) };\n"}, []string{"index.js:1", "SyntaxError: Unexpected token ')'"}},
		{engine.RuntimePython, map[string]string{"handler.py": "def handle(req:\n    return 1\n"}, []string{`File "handler.py", line 1`, "SyntaxError: '(' was never closed"}},
		{engine.RuntimeGo, map[string]string{"main.go": "package main\n\nfunc Handle(req Request) Response {\n\treturn Response{Body: undefinedThing}\n}\n"}, []string{"main.go:4:", "undefined: undefinedThing"}},
		{engine.RuntimeGo, map[string]string{"main.go": "package main\n\nimport \"github.com/x/y\"\n\nfunc Handle(req Request) Response { y.Z(); return Response{} }\n"}, []string{"github.com/x/y"}},
	}
	for _, tc := range cases {
		t.Run(tc.runtime, func(t *testing.T) {
			v := version(t, tc.runtime, tc.files, engine.Limits{})
			err := e.Build(context.Background(), v)
			var be *engine.BuildError
			if !errors.As(err, &be) {
				t.Fatalf("build: %v, want a BuildError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(be.Message, w) {
					t.Errorf("message %q does not say %q", be.Message, w)
				}
			}
			if strings.Contains(be.Message, e.cfg.DataDir) {
				t.Errorf("message %q names the data dir", be.Message)
			}
		})
	}
}
