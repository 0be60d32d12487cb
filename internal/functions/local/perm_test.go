package local

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/functions/wasm"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// TestDataDirNotReachable: when the sandbox's user (nobody, this process
// being root) cannot reach DataDir, New fails naming the directory in the
// way, rather than every invocation failing later.
func TestDataDirNotReachable(t *testing.T) {
	s := newSandbox(t)
	if s.HostUID() == os.Getuid() {
		t.Skip("the sandbox runs as this process's user, which reaches its own directories")
	}
	closed := t.TempDir() // 0700
	w, err := wasm.New(context.Background(), wasm.Config{CacheDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	e, err := New(context.Background(), Config{DataDir: filepath.Join(closed, "functions"), Sandbox: s, Wasm: w,
		Logger: slog.New(slog.DiscardHandler), Now: time.Now})
	if err == nil {
		e.Close()
		t.Fatal("New accepted a data dir under a 0700 directory")
	}
	// t.TempDir()'s parent is 0700 too: the first directory in the way.
	if want := "cannot search " + filepath.Dir(closed) + " (mode 0700"; !strings.Contains(err.Error(), want) {
		t.Fatalf("err %q does not say %q", err, want)
	}
}

// TestRuntimeNotReadableBySandbox: an interpreter the sandbox's user
// cannot read (installed under a 0700 directory, as pyenv under /root) is
// an unavailable runtime saying so, not a runtime whose invocations fail.
// The interpreter under the temp dir is a test double: a script answering
// the detection's question as a python installed there would.
func TestRuntimeNotReadableBySandbox(t *testing.T) {
	s := newSandbox(t)
	if s.HostUID() == os.Getuid() {
		t.Skip("the sandbox runs as this process's user, which reaches its own directories")
	}
	closed := t.TempDir() // 0700
	fake := filepath.Join(closed, "bin", "python3")
	os.MkdirAll(filepath.Dir(fake), 0o755)
	script := "#!/bin/sh\necho " + fake + "\necho " + closed + "\necho 3.12.0\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ python, want string }{
		{fake, "cannot search " + filepath.Dir(closed) + " (mode 0700"},
		{"/root/.pyenv/shims/python3", "cannot search /root (mode 0700"},
		{"/usr/bin/python3", ""},
	}
	for _, c := range cases {
		t.Run(testutil.CaseName(c.python), func(t *testing.T) {
			if _, err := os.Stat(c.python); err != nil {
				t.Skip("not installed here")
			}
			e := newEngine(t, "", func(cfg *Config) { cfg.Python = c.python; cfg.PoolSize = 1 })
			info := e.procs[engine.RuntimePython].info
			if c.want == "" {
				if !info.Available {
					t.Fatalf("python unavailable: %s", info.Reason)
				}
				return
			}
			if info.Available || !strings.Contains(info.Reason, c.want) || !strings.Contains(info.Reason, "not readable by the sandbox's user (uid 65534)") {
				t.Fatalf("python %+v, want unavailable saying %q", info, c.want)
			}
			_, err := e.Invoke(context.Background(), version(t, engine.RuntimePython, helloCode[engine.RuntimePython], engine.Limits{}), engine.Request{})
			if !errors.Is(err, engine.ErrUnavailable) {
				t.Fatalf("invoke: %v, want ErrUnavailable", err)
			}
		})
	}
}

// TestNewDoesNoGoWork: New runs no go build (it used to compile the go
// loader and then the whole standard library on the host at every start
// on a new data dir, ~34s of CPU, in a process a SIGKILLed server left
// behind). The first go build compiles the go loader, in the sandbox.
func TestNewDoesNoGoWork(t *testing.T) {
	dir := newDataDir(t)
	cache := filepath.Join(dir, "fresh-gocache")
	e := newEngine(t, dir, func(cfg *Config) { cfg.GoCache = cache })
	if !e.procs[engine.RuntimeGo].info.Available {
		t.Skip("go unavailable: " + e.procs[engine.RuntimeGo].info.Reason)
	}
	if _, err := os.Stat(cache); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New made the go build cache (%v): it started a go build", err)
	}
	if pids := testutil.ProcsUnder(t, cache); len(pids) > 0 {
		t.Errorf("go builds of the engine after New: %v", pids)
	}
	if n := e.compiles.Load(); n != 0 {
		t.Errorf("%d compilations at New", n)
	}
	select {
	case <-e.goReady:
		t.Error("the go loader is ready before any go build")
	default:
	}
}

// TestCloseStopsFirstGoBuild: Close during the first go build (the go
// loader compiling in its sandbox, the cache cold) ends it; the cleanup
// checks that no process naming the data dir remains.
func TestCloseStopsFirstGoBuild(t *testing.T) {
	dir := newDataDir(t)
	cache := filepath.Join(dir, "cold-gocache")
	e := newEngine(t, dir, func(cfg *Config) { cfg.GoCache = cache })
	if !e.procs[engine.RuntimeGo].info.Available {
		t.Skip("go unavailable: " + e.procs[engine.RuntimeGo].info.Reason)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- e.Build(context.Background(), version(t, engine.RuntimeGo, helloCode[engine.RuntimeGo], engine.Limits{}))
	}()
	testutil.WaitFor(t, time.Minute, "the build sandbox", func() bool { return len(testutil.ProcsUnder(t, cache)) > 0 })
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Fatal("the build ended well though the engine was closed")
	}
	if pids := testutil.ProcsUnder(t, dir); len(pids) > 0 {
		t.Fatalf("processes left after Close: %v", pids)
	}
}
