package local

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

func alive(pid int) bool {
	_, err := os.Stat("/proc/" + itoa(pid))
	return err == nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestConcurrency: four calls of a version whose instance serves four at
// once overlap in one instance: each handler waits until all four are in.
func TestConcurrency(t *testing.T) {
	e := newEngine(t, "", nil)
	code := map[string]map[string]string{
		engine.RuntimeNode: {"index.js": `let n = 0;
module.exports = async () => { n++; const start = Date.now();
  while (n < 4 && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 10));
  return String(n >= 4); };`},
		engine.RuntimePython: {"handler.py": `import threading, time
lock = threading.Lock()
n = 0
def handle(req):
    global n
    with lock:
        n += 1
    start = time.time()
    while n < 4 and time.time() - start < 5:
        time.sleep(0.01)
    return str(n >= 4).lower()
`},
	}
	for rt, files := range code {
		t.Run(rt, func(t *testing.T) {
			v := version(t, rt, files, engine.Limits{Concurrency: 4, MaxInstances: 1})
			var wg sync.WaitGroup
			bodies := make([]string, 4)
			for i := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					bodies[i] = string(invoke(t, e, v).Response.Body)
				}()
			}
			wg.Wait()
			for i, b := range bodies {
				if b != "true" {
					t.Errorf("call %d answered %q: the four calls did not overlap", i, b)
				}
			}
			if n := e.Instances(v.Key); n != 1 {
				t.Errorf("instances %d, want 1", n)
			}
		})
	}
}

// TestScaleToZero: an instance idle for IdleTimeout stops, and no process
// of it remains; the next call starts cold.
func TestScaleToZero(t *testing.T) {
	e := newEngine(t, "", func(c *Config) { c.IdleTimeout = 200 * time.Millisecond })
	v := version(t, engine.RuntimeNode, helloCode[engine.RuntimeNode], engine.Limits{})
	if res := invoke(t, e, v); !res.ColdStart {
		t.Fatal("first call was not cold")
	}
	e.mu.Lock()
	pid := e.fns[v.Key].instances[0].ld.proc.Pid()
	e.mu.Unlock()
	testutil.WaitFor(t, 10*time.Second, "no instance and no process left", func() bool { return e.Instances(v.Key) == 0 && !alive(pid) })
	if res := invoke(t, e, v); !res.ColdStart || res.ExitReason != "" {
		t.Fatalf("call after scale to zero: %+v", res)
	}
}

// TestPoolRefill: a cold start takes a warm loader and the pool starts
// another in its place.
func TestPoolRefill(t *testing.T) {
	e := newEngine(t, "", func(c *Config) { c.PoolSize = 2 })
	p := e.pools[engine.RuntimePython]
	testutil.WaitFor(t, 20*time.Second, "a full pool", func() bool { return p.readyCount() == 2 })
	p.mu.Lock()
	warm := p.ready[0]
	p.mu.Unlock()
	v := version(t, engine.RuntimePython, helloCode[engine.RuntimePython], engine.Limits{})
	invoke(t, e, v)
	e.mu.Lock()
	used := e.fns[v.Key].instances[0].ld
	e.mu.Unlock()
	if used != warm {
		t.Fatal("the cold start did not use the warm loader")
	}
	testutil.WaitFor(t, 20*time.Second, "the pool refilled", func() bool { return p.readyCount() == 2 })
}

// TestExitReasons: each way an invocation can fail says why.
func TestExitReasons(t *testing.T) {
	e := newEngine(t, "", nil)
	cases := []struct {
		name, runtime string
		files         map[string]string
		lim           engine.Limits
		reason        string
		errWant       string
		instanceStays bool
	}{
		{"error-node", engine.RuntimeNode, map[string]string{"index.js": `module.exports = async () => { throw new Error("boom"); };`}, engine.Limits{}, engine.ExitError, "Error: boom", true},
		{"error-python", engine.RuntimePython, map[string]string{"handler.py": "def handle(req):\n    raise ValueError('boom')\n"}, engine.Limits{}, engine.ExitError, "ValueError: boom", true},
		{"error-go", engine.RuntimeGo, map[string]string{"main.go": "package main\n\nfunc Handle(req Request) Response { panic(\"boom\") }\n"}, engine.Limits{}, engine.ExitError, "panic: boom", true},
		{"timeout", engine.RuntimePython, map[string]string{"handler.py": "import time\ndef handle(req):\n    time.sleep(60)\n"}, engine.Limits{Timeout: 500 * time.Millisecond}, engine.ExitTimeout, "timeout", false},
		{"oom", engine.RuntimePython, map[string]string{"handler.py": "def handle(req):\n    x = []\n    while True:\n        x.append(bytearray(1 << 20))\n"}, engine.Limits{MemoryBytes: 64 << 20}, engine.ExitOOM, "", false},
		{"pids", engine.RuntimePython, map[string]string{"handler.py": "import os, time\ndef handle(req):\n    while True:\n        if os.fork() == 0:\n            time.sleep(30)\n            os._exit(0)\n"}, engine.Limits{Pids: 16}, engine.ExitPids, "", false},
		{"crash", engine.RuntimeNode, map[string]string{"index.js": `module.exports = async () => { process.exit(3); };`}, engine.Limits{}, engine.ExitCrash, "exit code 3", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := version(t, tc.runtime, tc.files, tc.lim)
			res := invoke(t, e, v)
			if res.ExitReason != tc.reason || !strings.Contains(res.Error, tc.errWant) {
				t.Fatalf("result %+v, want reason %q and error saying %q", res, tc.reason, tc.errWant)
			}
			if tc.instanceStays {
				if n := e.Instances(v.Key); n != 1 {
					t.Fatalf("instances after a thrown error: %d", n)
				}
			} else {
				testutil.WaitFor(t, 10*time.Second, "the instance gone", func() bool { return e.Instances(v.Key) == 0 })
			}
		})
	}
}

// TestLoadError: code that fails when loaded is an error result naming
// the runtime's words, and no instance stays.
func TestLoadError(t *testing.T) {
	e := newEngine(t, "", nil)
	v := version(t, engine.RuntimeNode, map[string]string{"index.js": `throw new Error("cannot start");`}, engine.Limits{})
	res := invoke(t, e, v)
	if res.ExitReason != engine.ExitError || !strings.Contains(res.Error, "Error: cannot start") || !res.ColdStart {
		t.Fatalf("%+v", res)
	}
	if n := e.Instances(v.Key); n != 0 {
		t.Fatalf("instances %d", n)
	}
	v = version(t, engine.RuntimePython, map[string]string{"handler.py": "import nosuchmodule\ndef handle(req):\n    return 1\n"}, engine.Limits{})
	if res := invoke(t, e, v); res.ExitReason != engine.ExitError || !strings.Contains(res.Error, "No module named 'nosuchmodule'") {
		t.Fatalf("%+v", res)
	}
}

// TestCapsAndBusy: a workspace's instances stop at MaxInstancesPerOwner;
// callers beyond the version's instances and queue get ErrBusy.
func TestCapsAndBusy(t *testing.T) {
	e := newEngine(t, "", func(c *Config) { c.MaxInstancesPerOwner = 2; c.QueueLength = 1 })
	slow := map[string]string{"handler.py": "import time\ndef handle(req):\n    time.sleep(float(req['body'] or 0))\n    return 'ok'\n"}
	a := version(t, engine.RuntimePython, slow, engine.Limits{MaxInstances: 4})
	b := version(t, engine.RuntimePython, slow, engine.Limits{MaxInstances: 4})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Invoke(ctx, a, engine.Request{Body: []byte("3")})
		}()
	}
	testutil.WaitFor(t, 20*time.Second, "two instances of a", func() bool { return e.Instances(a.Key) == 2 })
	// The owner is at its cap: b's first caller waits in b's queue, the
	// next is refused.
	done := make(chan engine.Result, 1)
	go func() {
		res, _ := e.Invoke(ctx, b, engine.Request{Body: []byte("0")})
		done <- res
	}()
	testutil.WaitFor(t, 10*time.Second, "one caller queued for b", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.fns[b.Key] != nil && e.fns[b.Key].waiting == 1
	})
	_, err := e.Invoke(ctx, b, engine.Request{})
	var busy *engine.ErrBusy
	if !errors.As(err, &busy) || busy.RetryAfter != time.Second {
		t.Fatalf("err %v, want ErrBusy", err)
	}
	if e.Instances(b.Key) != 0 {
		t.Fatal("b started an instance over the owner's cap")
	}
	// When a's calls end, b's waiting caller gets an instance (an idle one
	// of a is stopped to make room).
	if res := <-done; res.ExitReason != "" || string(res.Response.Body) != "ok" {
		t.Fatalf("queued call %+v", res)
	}
	wg.Wait()
}

// TestRestartUsesArtifact: a new engine on the same DataDir invokes a go
// version without building it again.
func TestRestartUsesArtifact(t *testing.T) {
	dir := newDataDir(t)
	e := newEngine(t, dir, nil)
	v := version(t, engine.RuntimeGo, helloCode[engine.RuntimeGo], engine.Limits{})
	if err := e.Build(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	e.Close()
	e2 := newEngine(t, dir, nil)
	res := invoke(t, e2, v)
	if res.ExitReason != "" || string(res.Response.Body) != "POST /p hello hey" {
		t.Fatalf("%+v", res)
	}
	if n := e2.compiles.Load(); n != 0 {
		t.Errorf("%d go compilations after the restart, want none (the artifact and the go loader are cached)", n)
	}
}
