package local

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/functions/sandbox"
	"github.com/hexabase/hexabase-ai/internal/functions/wasm"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// sleepingWasm is a wasm version of owner that sleeps until its call's
// context ends.
func sleepingWasm(t *testing.T, owner string, memory int64) engine.Version {
	v := version(t, engine.RuntimeWasm, nil, engine.Limits{MemoryBytes: memory, Timeout: time.Hour})
	v.Owner = owner
	v.Files["fn.wasm"] = wasmModule(t, "wasmsleep")
	return v
}

// startWasm runs v in the background until the test ends.
func startWasm(t *testing.T, e *Engine, ctx context.Context, wg *sync.WaitGroup, v engine.Version) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.Invoke(ctx, v, engine.Request{})
	}()
	testutil.WaitFor(t, 20*time.Second, "a running instance of "+v.Key, func() bool { return e.Instances(v.Key) == 1 })
}

// TestWasmCapsPerOwnerAndMemory: running wasm calls count against their
// workspace's MaxInstancesPerOwner and against the engine's wasm memory
// budget; a call beyond either gets ErrBusy and runs nothing.
func TestWasmCapsPerOwnerAndMemory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		owners [3]string
		memory int64
	}{
		{"owner cap", func(c *Config) { c.MaxInstancesPerOwner = 2 }, [3]string{"ws-a", "ws-a", "ws-a"}, 16 << 20},
		{"memory budget", func(c *Config) { c.MaxWasmMemoryBytes = 80 << 20 }, [3]string{"ws-a", "ws-b", "ws-c"}, 32 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, "", tc.mod)
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			startWasm(t, e, ctx, &wg, sleepingWasm(t, tc.owners[0], tc.memory))
			startWasm(t, e, ctx, &wg, sleepingWasm(t, tc.owners[1], tc.memory))
			third := sleepingWasm(t, tc.owners[2], tc.memory)
			short, stop := context.WithTimeout(ctx, 10*time.Second)
			defer stop()
			_, err := e.Invoke(short, third, engine.Request{})
			var busy *engine.ErrBusy
			if !errors.As(err, &busy) {
				t.Fatalf("third call: err %v, want ErrBusy", err)
			}
			if n := e.Instances(third.Key); n != 0 {
				t.Fatalf("third version has %d instances", n)
			}
		})
	}
}

// TestDataDirRefusedWhenOthersControlIt: New refuses a data dir another
// user could have planted or can write into, and a symbolic link in
// place of its subdirectories (whose target it must not empty).
func TestDataDirRefusedWhenOthersControlIt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	for _, tc := range []struct {
		name string
		prep func(t *testing.T, dir string) (survivor string)
		want string
	}{
		{"another user's", func(t *testing.T, dir string) string {
			must(t, os.Mkdir(dir, 0o755))
			must(t, os.Chown(dir, 65534, 65534))
			return ""
		}, "owned by uid 65534"},
		{"a symlink", func(t *testing.T, dir string) string {
			target := newDataDir(t)
			must(t, os.Symlink(target, dir))
			return ""
		}, "symbolic link"},
		{"group-writable", func(t *testing.T, dir string) string {
			must(t, os.Mkdir(dir, 0o755))
			must(t, os.Chmod(dir, 0o775))
			return ""
		}, "writable by others"},
		{"slots a symlink", func(t *testing.T, dir string) string {
			must(t, os.Mkdir(dir, 0o755))
			target := t.TempDir()
			f := filepath.Join(target, "precious")
			must(t, os.WriteFile(f, []byte("x"), 0o644))
			must(t, os.Symlink(target, filepath.Join(dir, "slots")))
			return f
		}, "slots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(newDataDir(t), "fn")
			survivor := tc.prep(t, dir)
			w, err := wasm.New(context.Background(), wasm.Config{CacheDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
			must(t, err)
			defer w.Close(context.Background())
			e, err := New(context.Background(), Config{DataDir: dir, Wasm: w, Logger: slog.New(slog.DiscardHandler), Now: time.Now})
			if err == nil {
				e.Close()
				t.Fatal("New accepted the data dir")
			}
			if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to name %s and say %q", err, dir, tc.want)
			}
			if survivor != "" {
				if _, err := os.Stat(survivor); err != nil {
					t.Fatalf("the link's target lost its file: %v", err)
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBuildsBoundedAndCancelled: with MaxBuilds=1 a build of other code
// waits for the slot a running build holds, and gives up with its
// caller's context without starting; a build whose every caller has left
// is cancelled, its process killed. The build step is a test double (a
// sandboxed sleep: no real build lasts long enough to be seen holding the
// slot); the slot, the waiters and the cancellation are the engine's.
func TestBuildsBoundedAndCancelled(t *testing.T) {
	e := newEngine(t, "", func(c *Config) { c.MaxBuilds = 1 })
	if _, err := e.runtime(engine.RuntimePython); err != nil {
		t.Skip(err)
	}
	e.buildStep = func(ctx context.Context, v engine.Version, rt *procRuntime, entry, dir string) error {
		spec := sandbox.Spec{Argv: []string{rt.exe, "-c", "import time; time.sleep(3600)", dir}, Env: e.baseEnv(),
			ReadOnly: rt.bind, Limits: sandbox.Limits{MemoryBytes: 64 << 20, Pids: 8, CPUPercent: 10}}
		_, _, _, _, err := e.sandboxRun(ctx, spec, time.Hour)
		return err
	}
	a := version(t, engine.RuntimePython, helloCode[engine.RuntimePython], engine.Limits{})
	marker := filepath.Join(e.cfg.DataDir, "artifacts", "python-"+codeHash(a))
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	errA := make(chan error, 1)
	go func() { errA <- e.Build(ctxA, a) }()
	testutil.WaitFor(t, 20*time.Second, "a's build running", func() bool { return len(testutil.ProcsUnder(t, marker)) > 0 })

	b := version(t, engine.RuntimePython, map[string]string{"handler.py": "def handle(req):\n    return 'b'\n"}, engine.Limits{})
	short, stop := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer stop()
	if err := e.Build(short, b); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b's build: err %v, want the context's deadline", err)
	}
	if n := e.buildsStarted.Load(); n != 1 {
		t.Fatalf("%d builds started, want only a's (b must wait for the slot)", n)
	}

	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Fatalf("a's build: err %v, want canceled", err)
	}
	testutil.WaitFor(t, 20*time.Second, "a's build process killed", func() bool { return len(testutil.ProcsUnder(t, marker)) == 0 })
}

// TestForgedFrameKillsInstance: a frame from the loader's pipe that
// answers no pending call (function code writing to fd 4 itself) ends
// the instance as a crash; the next call is a cold start.
func TestForgedFrameKillsInstance(t *testing.T) {
	e := newEngine(t, "", nil)
	if _, err := e.runtime(engine.RuntimePython); err != nil {
		t.Skip(err)
	}
	code := map[string]string{"handler.py": `import json, os, struct, threading

def _forge():
    b = json.dumps({"type": "result", "id": 987654321, "response": {"status": 200, "body": "forged"}}).encode()
    os.write(4, struct.pack(">I", len(b)) + b)

def handle(req):
    if req["body"] == "forge":
        t = threading.Thread(target=_forge)
        t.start()
        t.join()
    return "ok"
`}
	v := version(t, engine.RuntimePython, code, engine.Limits{})
	ctx := context.Background()
	if res, err := e.Invoke(ctx, v, engine.Request{}); err != nil || string(res.Response.Body) != "ok" || !res.ColdStart {
		t.Fatalf("first call: %+v, %v", res, err)
	}
	res, err := e.Invoke(ctx, v, engine.Request{Body: []byte("forge")})
	if err != nil || res.ExitReason != engine.ExitCrash {
		t.Fatalf("forging call: %+v, %v; want exit reason crash", res, err)
	}
	testutil.WaitFor(t, 10*time.Second, "the instance gone", func() bool { return e.Instances(v.Key) == 0 })
	if res, err := e.Invoke(ctx, v, engine.Request{}); err != nil || string(res.Response.Body) != "ok" || !res.ColdStart {
		t.Fatalf("call after the forgery: %+v, %v; want a cold start", res, err)
	}
}

// TestLargestResponseFitsAFrame: a 6 MiB body of the bytes JSON escapes
// most (a control character: 6 bytes each as a JSON string) comes back
// whole from every process runtime, within maxFrame.
func TestLargestResponseFitsAFrame(t *testing.T) {
	e := newEngine(t, "", nil)
	code := map[string]map[string]string{
		engine.RuntimeNode:   {"index.js": "module.exports = async () => ({status: 200, body: '\\x01'.repeat(6 << 20)});\n"},
		engine.RuntimePython: {"handler.py": "def handle(req):\n    return {'status': 200, 'body': '\\x01' * (6 << 20)}\n"},
		engine.RuntimeGo:     {"main.go": "package main\n\nimport \"bytes\"\n\nfunc Handle(req Request) Response {\n\treturn Response{Status: 200, Body: bytes.Repeat([]byte{1}, 6<<20)}\n}\n"},
	}
	for _, rt := range []string{engine.RuntimeNode, engine.RuntimePython, engine.RuntimeGo} {
		t.Run(rt, func(t *testing.T) {
			if _, err := e.runtime(rt); err != nil {
				t.Skip(err)
			}
			v := version(t, rt, code[rt], engine.Limits{MemoryBytes: 256 << 20})
			res := invoke(t, e, v)
			if res.ExitReason != "" || len(res.Response.Body) != 6<<20 || strings.Trim(string(res.Response.Body), "\x01") != "" {
				t.Fatalf("exit %q error %q, body of %d bytes", res.ExitReason, res.Error, len(res.Response.Body))
			}
		})
	}
}

// TestReplyOverMaxFrameEndsInstance: a reply frame larger than maxFrame
// (an 8 MiB body: 10.7 MiB as base64) ends the instance as a crash.
func TestReplyOverMaxFrameEndsInstance(t *testing.T) {
	e := newEngine(t, "", nil)
	if _, err := e.runtime(engine.RuntimePython); err != nil {
		t.Skip(err)
	}
	v := version(t, engine.RuntimePython, map[string]string{"handler.py": "def handle(req):\n    return 'a' * (8 << 20)\n"}, engine.Limits{MemoryBytes: 256 << 20})
	if res := invoke(t, e, v); res.ExitReason != engine.ExitCrash {
		t.Fatalf("exit %q error %q, body of %d bytes; want crash", res.ExitReason, res.Error, len(res.Response.Body))
	}
}
