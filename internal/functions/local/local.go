package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/functions/sandbox"
	"github.com/hexabase/hexabase-ai/internal/functions/wasm"
	"github.com/hexabase/hexabase-ai/internal/required"
)

// Config is what the local engine needs.
type Config struct {
	// DataDir holds the artifacts, the loaders' code and slots and the go
	// build cache.
	DataDir string
	// Sandbox runs the process runtimes; nil makes node, python and go
	// unavailable, SandboxReason saying why.
	Sandbox       *sandbox.Sandbox
	SandboxReason string
	// Wasm runs the wasm runtime; required. The engine closes it.
	Wasm *wasm.Runner
	// PoolSize is how many warm loaders each available process runtime
	// keeps; default 2.
	PoolSize int
	// IdleTimeout stops an instance this long after its last call;
	// default 2m.
	IdleTimeout time.Duration
	// MaxInstancesPerOwner caps the instances of one workspace
	// (Version.Owner) at once; default 16.
	MaxInstancesPerOwner int
	// QueueLength is how many callers wait per version before a call is
	// refused with *engine.ErrBusy; default 32.
	QueueLength int
	// Node, Python and Go are the executables; default found on PATH
	// (python: /usr/bin/python3 first).
	Node, Python, Go string
	// GoCache is the go build cache seeded with the compiled standard
	// library; default DataDir/gocache.
	GoCache string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Engine is the local functions engine: node, python and go functions as
// sandboxed processes specialized from warm loaders, wasm in-process.
type Engine struct {
	cfg       Config
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	procs     map[string]*procRuntime
	pools     map[string]*pool
	wasm      *wasm.Runner
	loaderDir string
	execer    string
	goCache   string

	seedOnce sync.Once
	seedErr  error

	buildMu sync.Mutex
	builds  map[string]*buildCall

	slotSeq atomic.Uint64
	callSeq atomic.Uint64

	mu      sync.Mutex
	fns     map[string]*fnState
	owners  map[string]int
	changed chan struct{}
	closed  bool
}

var _ engine.Engine = (*Engine)(nil)

// New detects the runtimes, writes the loaders under DataDir, compiles the
// go loader and starts the warm pools.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if err := required.Fields("functions engine", &cfg, "DataDir", "Wasm", "Logger", "Now"); err != nil {
		return nil, err
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = 2
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.MaxInstancesPerOwner <= 0 {
		cfg.MaxInstancesPerOwner = 16
	}
	if cfg.QueueLength <= 0 {
		cfg.QueueLength = 32
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("functions engine: data dir: %w", err)
	}
	cfg.DataDir = dataDir
	e := &Engine{cfg: cfg, log: cfg.Logger, wasm: cfg.Wasm, procs: map[string]*procRuntime{}, pools: map[string]*pool{},
		builds: map[string]*buildCall{}, fns: map[string]*fnState{}, owners: map[string]int{}, changed: make(chan struct{}),
		loaderDir: filepath.Join(dataDir, "loaders"), goCache: cfg.GoCache}
	if e.goCache == "" {
		e.goCache = filepath.Join(dataDir, "gocache")
	}
	for _, d := range []string{e.loaderDir, filepath.Join(dataDir, "artifacts"), filepath.Join(dataDir, "slots")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("functions engine: %w", err)
		}
	}
	// Slots of a previous run are empty leftovers.
	if ents, err := os.ReadDir(filepath.Join(dataDir, "slots")); err == nil {
		for _, d := range ents {
			os.RemoveAll(filepath.Join(dataDir, "slots", d.Name()))
		}
	}
	if err := writeIfChanged(filepath.Join(e.loaderDir, "loader.js"), loaderJS, 0o644); err != nil {
		return nil, fmt.Errorf("functions engine: %w", err)
	}
	if err := writeIfChanged(filepath.Join(e.loaderDir, "loader.py"), loaderPy, 0o644); err != nil {
		return nil, fmt.Errorf("functions engine: %w", err)
	}

	reason := cfg.SandboxReason
	if reason == "" {
		reason = "the process sandbox is not available"
	}
	for _, rt := range []*procRuntime{detectNode(ctx, cfg.Node), detectPython(ctx, cfg.Python), detectGo(ctx, cfg.Go)} {
		if rt.info.Available && cfg.Sandbox == nil {
			rt = unavailable(rt.info.Name, reason)
		}
		e.procs[rt.info.Name] = rt
	}
	if rt := e.procs[engine.RuntimeGo]; rt.info.Available {
		if err := e.compileExecer(ctx, rt); err != nil {
			e.log.Warn("go runtime unavailable: its loader does not build", "err", err)
			e.procs[engine.RuntimeGo] = unavailable(engine.RuntimeGo, "the go loader does not build: "+err.Error())
		}
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	for _, name := range []string{engine.RuntimeNode, engine.RuntimePython, engine.RuntimeGo} {
		if rt := e.procs[name]; rt.info.Available {
			e.pools[name] = e.newPool(rt)
		} else {
			e.log.Info("functions runtime unavailable", "runtime", name, "reason", rt.info.Reason)
		}
	}
	if rt := e.procs[engine.RuntimeGo]; rt.info.Available {
		// Seed the build cache now so that the first deploy compiles only
		// its own code.
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			if err := e.seedGoCache(e.ctx, rt); err != nil && e.ctx.Err() == nil {
				e.log.Warn("seed the go build cache", "err", err)
			}
		}()
	}
	return e, nil
}

func writeIfChanged(path string, b []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// compileExecer builds the go loader (once per source and toolchain; the
// binary is kept under DataDir/loaders).
func (e *Engine) compileExecer(ctx context.Context, rt *procRuntime) error {
	sum := sha256.Sum256(append(append([]byte{}, execerSource...), rt.goVersion...))
	bin := filepath.Join(e.loaderDir, "execer-"+hex.EncodeToString(sum[:6]))
	e.execer = bin
	if _, err := os.Stat(bin); err == nil {
		return nil
	}
	dir, err := os.MkdirTemp(e.cfg.DataDir, ".execer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "main.go"), execerSource, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module execer\n"), 0o644); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rt.exe, "build", "-trimpath", "-ldflags=-s -w", "-o", bin+".tmp", ".")
	cmd.Dir = dir
	cmd.Env = append(goEnv(rt.goroot, e.goCache), "HOME="+dir, "PATH="+filepath.Join(rt.goroot, "bin")+":/usr/bin:/bin")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return os.Rename(bin+".tmp", bin)
}

// Runtimes lists node, python, go and wasm, and whether each is here.
func (e *Engine) Runtimes() []engine.RuntimeInfo {
	return []engine.RuntimeInfo{
		e.procs[engine.RuntimeNode].info, e.procs[engine.RuntimePython].info, e.procs[engine.RuntimeGo].info, e.wasm.Info(),
	}
}

func (e *Engine) runtime(name string) (*procRuntime, error) {
	rt, ok := e.procs[name]
	if !ok {
		return nil, fmt.Errorf("runtime %q: %w", name, engine.ErrUnavailable)
	}
	if !rt.info.Available {
		return nil, fmt.Errorf("runtime %s: %s: %w", name, rt.info.Reason, engine.ErrUnavailable)
	}
	return rt, nil
}

// Build checks (node, python) or compiles (go) the version's code in a
// sandbox and caches the artifact by the code's hash.
func (e *Engine) Build(ctx context.Context, v engine.Version) error {
	if v.Runtime == engine.RuntimeWasm {
		return e.wasm.Build(ctx, v)
	}
	rt, err := e.runtime(v.Runtime)
	if err != nil {
		return err
	}
	_, err = e.artifact(ctx, v, rt)
	return err
}

// Invoke calls the version: on a warm instance with room, else on a loader
// specialized now (a cold start), else after waiting in its queue.
func (e *Engine) Invoke(ctx context.Context, v engine.Version, req engine.Request) (engine.Result, error) {
	if v.Runtime == engine.RuntimeWasm {
		return e.wasm.Invoke(ctx, v, req)
	}
	rt, err := e.runtime(v.Runtime)
	if err != nil {
		return engine.Result{}, err
	}
	start := time.Now()
	a, err := e.artifact(ctx, v, rt)
	if err != nil {
		var be *engine.BuildError
		if errors.As(err, &be) {
			return engine.Result{ExitReason: engine.ExitError, Error: be.Message, Duration: time.Since(start)}, nil
		}
		return engine.Result{}, err
	}
	inst, cold, err := e.acquire(ctx, v, rt, a)
	if err != nil {
		var le *errLoad
		if errors.As(err, &le) {
			return engine.Result{ExitReason: engine.ExitError, Error: le.msg, ColdStart: true, Duration: time.Since(start)}, nil
		}
		return engine.Result{}, err
	}
	done := make(chan engine.Result, 1)
	go func() {
		res := inst.call(v, req)
		e.release(inst)
		done <- res
	}()
	select {
	case res := <-done:
		res.ColdStart = cold
		res.Duration = time.Since(start)
		return res, nil
	case <-ctx.Done():
		return engine.Result{}, ctx.Err()
	}
}

// Instances is how many instances of the version are warm.
func (e *Engine) Instances(key string) int {
	e.mu.Lock()
	fs := e.fns[key]
	n := 0
	if fs != nil {
		n = len(fs.instances)
	}
	e.mu.Unlock()
	return n + e.wasm.Instances(key)
}

// Forget stops the version's instances.
func (e *Engine) Forget(key string) {
	e.mu.Lock()
	var stop []*instance
	if fs := e.fns[key]; fs != nil {
		stop = append(stop, fs.instances...)
		for _, inst := range stop {
			e.stopLocked(inst)
		}
	}
	e.mu.Unlock()
	for _, inst := range stop {
		inst.kill(engine.ExitCrash)
		<-inst.dead
	}
	e.wasm.Forget(key)
}

// Close stops every instance, the pools and the wasm runner, and waits
// until no process of the engine remains.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	var stop []*instance
	for _, fs := range e.fns {
		stop = append(stop, fs.instances...)
	}
	for _, inst := range stop {
		e.stopLocked(inst)
	}
	e.broadcastLocked()
	e.mu.Unlock()
	e.cancel()
	for _, inst := range stop {
		inst.kill(engine.ExitCrash)
	}
	e.wg.Wait()
	var procs []*sandbox.Process
	for _, p := range e.pools {
		p.mu.Lock()
		for _, l := range p.ready {
			procs = append(procs, l.proc)
		}
		p.mu.Unlock()
		p.close()
	}
	for _, inst := range stop {
		procs = append(procs, inst.ld.proc)
	}
	for _, p := range procs {
		p.Wait()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return e.wasm.Close(ctx)
}
