package wasm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// The test modules, built from testdata/<name> once per test binary.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	modNames  = []string{"hello", "logs", "loop", "oom", "exit3", "escape", "envimport", "sleep"}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// module returns the bytes of the test module name, compiled by the
// machine's Go toolchain for wasip1.
func module(tb testing.TB, name string) []byte {
	tb.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "wasm-test-modules-")
		if buildErr != nil {
			return
		}
		args := []string{"build", "-trimpath", "-o", buildDir + string(filepath.Separator)}
		for _, n := range modNames {
			args = append(args, "./testdata/"+n)
		}
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	b, err := os.ReadFile(filepath.Join(buildDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func newRunner(tb testing.TB, maxCompiled int) *Runner {
	tb.Helper()
	r, err := New(context.Background(), Config{
		CacheDir:    tb.TempDir(),
		MaxCompiled: maxCompiled,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func version(tb testing.TB, name string) engine.Version {
	return engine.Version{
		Key:     "v-" + name,
		Runtime: engine.RuntimeWasm,
		Files:   map[string][]byte{"fn.wasm": module(tb, name)},
		Limits:  engine.Limits{MemoryBytes: 64 << 20, Timeout: 5 * time.Second, Concurrency: 1, MaxInstances: 2},
	}
}

// inMemory is how many compiled modules the runner holds.
func (r *Runner) inMemory() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lru.Len()
}

// dropCompiled evicts every compiled module from memory.
func (r *Runner) dropCompiled() {
	r.mu.Lock()
	max := r.cfg.MaxCompiled
	r.cfg.MaxCompiled = 0
	idle := r.evictLocked()
	r.cfg.MaxCompiled = max
	r.mu.Unlock()
	closeAll(idle)
}

// rawModule is a WASI-less command module written by hand: one memory of
// one page and a _start whose instructions are code (a test of what Go
// modules do not do: trap, grow memory with memory.grow).
func rawModule(code ...byte) []byte {
	body := append(append([]byte{0}, code...), 0x0b) // no locals, code, end
	b := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	b = append(b, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00) // type 0: func()
	b = append(b, 0x03, 0x02, 0x01, 0x00)             // func 0: type 0
	b = append(b, 0x05, 0x03, 0x01, 0x00, 0x01)       // memory 0: min 1 page
	b = append(b, 0x07, 0x13, 0x02,
		0x06, '_', 's', 't', 'a', 'r', 't', 0x00, 0x00,
		0x06, 'm', 'e', 'm', 'o', 'r', 'y', 0x02, 0x00)
	b = append(b, 0x0a, byte(len(body)+2), 0x01, byte(len(body)))
	return append(b, body...)
}

// Instructions for rawModule.
var (
	opUnreachable = []byte{0x00}
	opGrow2000    = []byte{0x41, 0xd0, 0x0f, 0x40, 0x00, 0x1a} // drop(memory.grow(2000 pages = 125 MiB))
)

func TestNewRequiresConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Logger: slog.Default()}, "wasm: CacheDir is required"},
		{Config{CacheDir: t.TempDir()}, "wasm: Logger is required"},
		{Config{CacheDir: t.TempDir(), Logger: slog.Default(), MaxCompiled: -1}, "wasm: MaxCompiled must not be negative"},
	} {
		if _, err := New(context.Background(), tc.cfg); err == nil || err.Error() != tc.want {
			t.Errorf("New(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestInfo(t *testing.T) {
	got := newRunner(t, 0).Info()
	want := engine.RuntimeInfo{Name: "wasm", Available: true, Version: "wazero v1.12.0", Sandbox: "wasm", Entry: "fn.wasm"}
	if got != want {
		t.Errorf("Info() = %+v, want %+v", got, want)
	}
}

// TestInvoke runs each test module once and checks the outcome the
// runner reports for it.
func TestInvoke(t *testing.T) {
	r := newRunner(t, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	for _, tc := range []struct {
		name       string
		module     string
		raw        []byte // a hand-written module instead
		env        map[string]string
		limits     func(*engine.Limits)
		wantReason string
		wantError  string // substring of Result.Error
		check      func(t *testing.T, res engine.Result)
	}{{
		name: "hello echoes the request", module: "hello", env: map[string]string{"GREETING": "hi"},
		check: func(t *testing.T, res engine.Result) {
			if res.Response.Status != 201 || string(res.Response.Body) != "POST /a/b payload hi" {
				t.Errorf("response = %d %q", res.Response.Status, res.Response.Body)
			}
			if h := res.Response.Headers; h["X-Fn"][0] != "hello" || strings.Join(h["X-Args"], ",") != "fn" {
				t.Errorf("headers = %v", h)
			}
			if string(res.Logs) != "handling POST /a/b\n" {
				t.Errorf("logs = %q", res.Logs)
			}
		},
	}, {
		name: "logs are capped and plain stdout is the body", module: "logs",
		check: func(t *testing.T, res engine.Result) {
			if res.Response.Status != 200 || string(res.Response.Body) != "plain text, not JSON\n" {
				t.Errorf("response = %d %q", res.Response.Status, res.Response.Body)
			}
			if len(res.Logs) != MaxLogBytes+len(logCutMsg) || !bytes.HasSuffix(res.Logs, []byte(logCutMsg)) {
				t.Errorf("logs: %d bytes ending %q", len(res.Logs), res.Logs[max(0, len(res.Logs)-40):])
			}
		},
	}, {
		name: "a loop times out", module: "loop",
		limits:     func(l *engine.Limits) { l.Timeout = 300 * time.Millisecond },
		wantReason: engine.ExitTimeout, wantError: "timed out after 300ms",
	}, {
		name: "a sleep times out", module: "sleep",
		limits:     func(l *engine.Limits) { l.Timeout = 300 * time.Millisecond },
		wantReason: engine.ExitTimeout, wantError: "timed out after 300ms",
	}, {
		name: "unbounded allocation is oom", module: "oom",
		wantReason: engine.ExitOOM, wantError: "out of memory: the module could not grow its memory past the limit (64 MiB), exit code 2",
		check: func(t *testing.T, res engine.Result) {
			if !strings.Contains(string(res.Logs), "out of memory") {
				t.Errorf("logs = %q", res.Logs)
			}
		},
	}, {
		name: "a larger cap lets the same module get further", module: "oom",
		limits:     func(l *engine.Limits) { l.MemoryBytes = 256 << 20 },
		wantReason: engine.ExitOOM, wantError: "(256 MiB)",
	}, {
		name: "a trap is an error", raw: rawModule(opUnreachable...),
		wantReason: engine.ExitError, wantError: "trap: wasm error: unreachable",
	}, {
		name: "a trap after a growth refused at the cap is oom", raw: rawModule(append(opGrow2000, opUnreachable...)...),
		wantReason: engine.ExitOOM, wantError: "(64 MiB)",
	}, {
		name: "a refused growth the module copes with is no failure", raw: rawModule(opGrow2000...),
		check: func(t *testing.T, res engine.Result) {
			if res.Response.Status != 200 || len(res.Response.Body) != 0 {
				t.Errorf("response = %d %q", res.Response.Status, res.Response.Body)
			}
		},
	}, {
		name: "a growth within the cap is no failure", raw: rawModule(opGrow2000...),
		limits: func(l *engine.Limits) { l.MemoryBytes = 256 << 20 },
	}, {
		name: "exit 3 is an error", module: "exit3",
		wantReason: engine.ExitError, wantError: "exit code 3",
		check: func(t *testing.T, res engine.Result) {
			if string(res.Logs) != "giving up\n" {
				t.Errorf("logs = %q", res.Logs)
			}
		},
	}, {
		name: "no file system, no network", module: "escape", env: map[string]string{"DIAL_ADDR": ln.Addr().String()},
		check: func(t *testing.T, res engine.Result) {
			body := string(res.Response.Body)
			if !strings.Contains(body, "open: failed:") || !strings.Contains(body, "dial: failed:") {
				t.Errorf("body = %q", body)
			}
			if strings.Contains(body, "readdir: 0 <nil>") || !strings.Contains(body, "readdir: 0 ") {
				t.Errorf("body = %q, want / unreadable", body)
			}
			// The dial, had it worked, was done before the module ended.
			ln.(*net.TCPListener).SetDeadline(time.Now())
			if c, err := ln.Accept(); err == nil {
				c.Close()
				t.Error("the module connected to the listener")
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var v engine.Version
			if tc.raw != nil {
				v = version(t, "hello")
				v.Key, v.Files = tc.name, map[string][]byte{"fn.wasm": tc.raw}
			} else {
				v = version(t, tc.module)
			}
			v.Env = tc.env
			if tc.limits != nil {
				tc.limits(&v.Limits)
			}
			res, err := r.Invoke(context.Background(), v, engine.Request{Method: "POST", Path: "/a/b", Body: []byte("payload")})
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if res.ExitReason != tc.wantReason || !strings.Contains(res.Error, tc.wantError) || (tc.wantError == "") != (res.Error == "") {
				t.Errorf("ExitReason %q, Error %q; want %q, %q", res.ExitReason, res.Error, tc.wantReason, tc.wantError)
			}
			if res.Duration <= 0 {
				t.Errorf("Duration = %v", res.Duration)
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

// TestFreshInstance: nothing survives between invocations (the module
// is instantiated anew each time), and the compiled module is reused.
func TestFreshInstance(t *testing.T) {
	r := newRunner(t, 0)
	v := version(t, "hello")
	for i, wantCold := range []bool{true, false, false} {
		res, err := r.Invoke(context.Background(), v, engine.Request{Method: "GET", Path: "/"})
		if err != nil || res.ExitReason != "" {
			t.Fatalf("call %d: %v %+v", i, err, res)
		}
		if res.ColdStart != wantCold {
			t.Errorf("call %d: ColdStart %v, want %v", i, res.ColdStart, wantCold)
		}
		if string(res.Logs) != "handling GET /\n" {
			t.Errorf("call %d: logs %q", i, res.Logs)
		}
	}
	if n := r.Instances(v.Key); n != 0 {
		t.Errorf("Instances = %d after the calls", n)
	}
}

func TestBuildRefuses(t *testing.T) {
	r := newRunner(t, 0)
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		mem   int64
		want  string
	}{
		{"invalid bytes", map[string][]byte{"fn.wasm": []byte("not a module")}, 0, "invalid magic number"},
		{"env import", map[string][]byte{"fn.wasm": module(t, "envimport")}, 0,
			`the module imports function "host_secret" from "env": only wasi_snapshot_preview1 is provided`},
		{"no wasm file", map[string][]byte{"README": []byte("x")}, 0, "no fn.wasm (nor any .wasm file) in the code"},
		{"two wasm files", map[string][]byte{"a.wasm": nil, "b.wasm": nil}, 0, "no fn.wasm, and several .wasm files: a.wasm, b.wasm"},
		{"initial memory over the limit", map[string][]byte{"fn.wasm": module(t, "hello")}, 1 << 20, "exceeds the memory limit (1 MiB)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := engine.Version{Key: tc.name, Runtime: engine.RuntimeWasm, Files: tc.files, Limits: engine.Limits{MemoryBytes: tc.mem}}
			err := r.Build(context.Background(), v)
			var be *engine.BuildError
			if !errors.As(err, &be) || be.Runtime != "wasm" || !strings.Contains(be.Message, tc.want) {
				t.Fatalf("Build = %v, want a BuildError saying %q", err, tc.want)
			}
			if strings.Contains(be.Message, os.TempDir()) {
				t.Errorf("message names a host path: %q", be.Message)
			}
			if _, err := r.Invoke(context.Background(), v, engine.Request{}); !errors.As(err, &be) && tc.mem == 0 {
				t.Errorf("Invoke = %v, want the BuildError", err)
			}
		})
	}
	if n := r.inMemory(); n != 1 {
		t.Errorf("%d modules in memory, want 1 (hello): refused modules are not kept", n)
	}
	// A single .wasm file under another name is the entry.
	v := version(t, "hello")
	v.Files = map[string][]byte{"handler.wasm": v.Files["fn.wasm"]}
	if err := r.Build(context.Background(), v); err != nil {
		t.Errorf("Build(handler.wasm) = %v", err)
	}
}

// TestConcurrencyLimit: Concurrency × MaxInstances run at once, as many
// wait, the next caller is refused; Forget stops the running ones.
func TestConcurrencyLimit(t *testing.T) {
	r := newRunner(t, 0)
	v := version(t, "sleep")
	v.Limits.Timeout = time.Hour
	v.Limits.Concurrency, v.Limits.MaxInstances = 1, 2
	if err := r.Build(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		res engine.Result
		err error
	}
	done := make(chan outcome, 4)
	call := func() {
		res, err := r.Invoke(context.Background(), v, engine.Request{})
		done <- outcome{res, err}
	}
	for range 2 {
		go call()
	}
	testutil.WaitFor(t, 10*time.Second, "2 instances running", func() bool { return r.Instances(v.Key) == 2 })
	for range 2 { // the wait list
		go call()
	}
	testutil.WaitFor(t, 10*time.Second, "2 callers waiting", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.keys[v.Key].waiting == 2
	})
	_, err := r.Invoke(context.Background(), v, engine.Request{})
	var busy *engine.ErrBusy
	if !errors.As(err, &busy) || busy.RetryAfter <= 0 {
		t.Fatalf("Invoke beyond the queue = %v, want ErrBusy", err)
	}
	// Another version is not affected.
	if res, err := r.Invoke(context.Background(), version(t, "hello"), engine.Request{}); err != nil || res.ExitReason != "" {
		t.Fatalf("other version: %v %+v", err, res)
	}

	r.Forget(v.Key)
	var crashed, refused int
	for range 4 {
		o := <-done
		switch {
		case o.err == nil && o.res.ExitReason == engine.ExitCrash:
			crashed++
		case errors.As(o.err, &busy):
			refused++
		default:
			t.Errorf("after Forget: %v %+v", o.err, o.res)
		}
	}
	if crashed != 2 || refused != 2 {
		t.Errorf("after Forget: %d crashed, %d refused; want 2 and 2", crashed, refused)
	}
	if n := r.Instances(v.Key); n != 0 {
		t.Errorf("Instances = %d after Forget", n)
	}
}

// TestLRU: at most MaxCompiled modules stay in memory; an evicted one still
// runs, compiled again (from the disk cache): a cold start.
func TestLRU(t *testing.T) {
	r := newRunner(t, 2)
	names := []string{"hello", "exit3", "logs"}
	for _, n := range names {
		if err := r.Build(context.Background(), version(t, n)); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.inMemory(); n != 2 {
		t.Fatalf("%d modules in memory, want 2", n)
	}
	entries, err := os.ReadDir(r.cfg.CacheDir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("the disk cache is empty: %v", err)
	}
	for i, wantCold := range []bool{true, false} {
		res, err := r.Invoke(context.Background(), version(t, "hello"), engine.Request{Method: "GET", Path: "/x"})
		if err != nil || res.ExitReason != "" || string(res.Response.Body) != "GET /x  " {
			t.Fatalf("call %d: %v %+v", i, err, res)
		}
		if res.ColdStart != wantCold {
			t.Errorf("call %d: ColdStart %v, want %v", i, res.ColdStart, wantCold)
		}
	}
	if n := r.inMemory(); n != 2 {
		t.Errorf("%d modules in memory, want 2", n)
	}
}

func TestParseResponse(t *testing.T) {
	for _, tc := range []struct {
		out        string
		wantStatus int
		wantBody   string
		wantHeader map[string][]string
	}{
		{`{"status":404,"headers":{"A":"1","B":["2","3"]},"body":"nope"}`, 404, "nope", map[string][]string{"A": {"1"}, "B": {"2", "3"}}},
		{"{\"body\":\"x\"}\n", 200, "x", nil},
		{`{"status":204}`, 204, "", nil},
		{`hello`, 200, "hello", nil},
		{``, 200, "", nil},
		{`{"hello":"world"}`, 200, `{"hello":"world"}`, nil},
		{`{"status":42}`, 200, `{"status":42}`, nil},
		{`{"status":"200"}`, 200, `{"status":"200"}`, nil},
		{`{"body":{"a":1}}`, 200, `{"body":{"a":1}}`, nil},
		{`{"headers":{"A":1}}`, 200, `{"headers":{"A":1}}`, nil},
		{`[1,2]`, 200, `[1,2]`, nil},
		{`{"body":"x"} trailing`, 200, `{"body":"x"} trailing`, nil},
	} {
		got := parseResponse([]byte(tc.out))
		if got.Status != tc.wantStatus || string(got.Body) != tc.wantBody || !equalHeaders(got.Headers, tc.wantHeader) {
			t.Errorf("parseResponse(%q) = %d %q %v", tc.out, got.Status, got.Body, got.Headers)
		}
	}
}

func equalHeaders(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

func BenchmarkInvokeWarm(b *testing.B) {
	r := newRunner(b, 0)
	v := version(b, "hello")
	if err := r.Build(context.Background(), v); err != nil {
		b.Fatal(err)
	}
	req := engine.Request{Method: "POST", Path: "/", Body: []byte("x")}
	b.ResetTimer()
	for b.Loop() {
		res, err := r.Invoke(context.Background(), v, req)
		if err != nil || res.ExitReason != "" || res.ColdStart {
			b.Fatalf("%v %+v", err, res)
		}
	}
}

func BenchmarkInvokeCold(b *testing.B) {
	r := newRunner(b, 0)
	v := version(b, "hello")
	if err := r.Build(context.Background(), v); err != nil { // fills the disk cache
		b.Fatal(err)
	}
	req := engine.Request{Method: "POST", Path: "/", Body: []byte("x")}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		r.dropCompiled()
		b.StartTimer()
		res, err := r.Invoke(context.Background(), v, req)
		if err != nil || res.ExitReason != "" || !res.ColdStart {
			b.Fatalf("%v %+v", err, res)
		}
	}
}
