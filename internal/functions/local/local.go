package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
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
	// build cache. New creates it when absent; an existing one must be a
	// directory (not a symbolic link) owned by this process's effective
	// user and not group- or other-writable, else New fails. The sandboxed programs read from it (as Sandbox.HostUID:
	// nobody when this process is root), so DataDir and every directory
	// above it must be searchable by that user (o+x, e.g. 0711 or 0755):
	// New fails naming the directory that is not. What the engine creates
	// in it is 0755 (directories) and 0644 (files).
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
	// MaxBuilds is how many builds (syntax checks, go compilations) run at
	// once; a call that needs a build waits for a slot while its context
	// lives. Default 2.
	MaxBuilds int
	// MaxWasmMemoryBytes bounds the memory of the wasm calls running at
	// once (the sum of their memory limits, in this process); a call
	// beyond it gets *engine.ErrBusy. Default 2 GiB.
	MaxWasmMemoryBytes int64
	// QueueLength is how many callers wait per version before a call is
	// refused with *engine.ErrBusy; default 32.
	QueueLength int
	// Node, Python and Go are the executables; default found on PATH
	// (python: /usr/bin/python3 first).
	Node, Python, Go string
	// GoCache is the go build cache that the sandboxed go builds share,
	// bound writable into them and owned by Sandbox.HostUID (New does not
	// touch it; the first go build chowns it when needed); default
	// DataDir/gocache. Naming one directory for several data dirs lets
	// them share the compiled standard library; its parents must be
	// searchable as DataDir's.
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

	// goMu guards the go toolchain's one-time work: the build cache's
	// owner and the go loader (execer), compiled in the build sandbox on
	// the first go build; goReady is closed once the execer exists.
	goMu      sync.Mutex
	goCacheOK bool
	goReady   chan struct{}
	// compiles counts the go compilations run (execer and functions).
	compiles atomic.Int64

	buildMu sync.Mutex
	builds  map[string]*buildCall
	// buildStep builds one version (e.build; a test double in tests that
	// need a build that lasts); buildsStarted counts its calls.
	// buildSlots holds a token per build running (MaxBuilds).
	buildSlots    chan struct{}
	buildStep     func(ctx context.Context, v engine.Version, rt *procRuntime, entry, dir string) error
	buildsStarted atomic.Int64
	// building counts the builds and go preparations under way (added to
	// under mu while not closed); Close waits for them.
	building sync.WaitGroup

	slotSeq atomic.Uint64
	callSeq atomic.Uint64

	mu     sync.Mutex
	fns    map[string]*fnState
	owners map[string]int
	// wasmMemory is the sum of the memory limits of the wasm calls
	// running (each also counts in owners).
	wasmMemory int64
	changed    chan struct{}
	closed     bool
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
	if cfg.MaxBuilds <= 0 {
		cfg.MaxBuilds = 2
	}
	if cfg.MaxWasmMemoryBytes <= 0 {
		cfg.MaxWasmMemoryBytes = 2 << 30
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("functions engine: data dir: %w", err)
	}
	cfg.DataDir = dataDir
	e := &Engine{cfg: cfg, log: cfg.Logger, wasm: cfg.Wasm, procs: map[string]*procRuntime{}, pools: map[string]*pool{},
		builds: map[string]*buildCall{}, fns: map[string]*fnState{}, owners: map[string]int{}, changed: make(chan struct{}),
		loaderDir: filepath.Join(dataDir, "loaders"), goCache: cfg.GoCache}
	e.buildStep = e.build
	e.buildSlots = make(chan struct{}, cfg.MaxBuilds)
	if e.goCache == "" {
		e.goCache = filepath.Join(dataDir, "gocache")
	}
	if err := ownDataDir(dataDir, []string{"loaders", "artifacts", "slots"}); err != nil {
		return nil, fmt.Errorf("functions engine: %w", err)
	}
	if cfg.Sandbox != nil {
		if err := reachable(dataDir, cfg.Sandbox.HostUID()); err != nil {
			return nil, fmt.Errorf("functions engine: data dir %s: the sandbox's user (uid %d) %w", dataDir, cfg.Sandbox.HostUID(), err)
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
	uid := -1
	if cfg.Sandbox != nil {
		uid = cfg.Sandbox.HostUID()
	}
	for _, rt := range []*procRuntime{detectNode(ctx, cfg.Node, uid), detectPython(ctx, cfg.Python, uid), detectGo(ctx, cfg.Go, uid)} {
		if rt.info.Available && cfg.Sandbox == nil {
			rt = unavailable(rt.info.Name, reason)
		}
		e.procs[rt.info.Name] = rt
	}
	e.goReady = make(chan struct{})
	if rt := e.procs[engine.RuntimeGo]; rt.info.Available {
		e.execer = filepath.Join(e.loaderDir, "execer-"+execerHash(rt))
		if _, err := os.Stat(e.execer); err == nil {
			close(e.goReady)
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
	return e, nil
}

// startWork registers a build or go preparation for Close to wait for; it
// reports false once the engine is closed.
func (e *Engine) startWork() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.building.Add(1)
	return true
}

func writeIfChanged(path string, b []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil { // whatever the umask
		return err
	}
	return os.Rename(tmp, path)
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
	if v.Runtime == engine.RuntimeGo {
		if err := e.prepareGo(ctx, rt); err != nil {
			return err
		}
	}
	_, err = e.artifact(ctx, v, rt)
	return err
}

// Invoke calls the version: on a warm instance with room, else on a loader
// specialized now (a cold start), else after waiting in its queue.
func (e *Engine) Invoke(ctx context.Context, v engine.Version, req engine.Request) (engine.Result, error) {
	if v.Runtime == engine.RuntimeWasm {
		mem, err := e.enterWasm(v)
		if err != nil {
			return engine.Result{}, err
		}
		defer e.leaveWasm(v.Owner, mem)
		return e.wasm.Invoke(ctx, v, req)
	}
	rt, err := e.runtime(v.Runtime)
	if err != nil {
		return engine.Result{}, err
	}
	start := time.Now()
	if v.Runtime == engine.RuntimeGo {
		if err := e.prepareGo(ctx, rt); err != nil {
			return engine.Result{}, err
		}
	}
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

// enterWasm counts a wasm call as one of its owner's instances and its
// memory limit against the wasm memory budget, or refuses it with
// *engine.ErrBusy when either is spent (an idle process instance of the
// owner is stopped to make room first, as for a cold start). It returns
// the memory counted, for leaveWasm.
func (e *Engine) enterWasm(v engine.Version) (int64, error) {
	mem := v.Limits.MemoryBytes
	if mem <= 0 {
		mem = defaultMemory
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, errClosed
	}
	if e.owners[v.Owner] >= e.cfg.MaxInstancesPerOwner {
		e.evictIdleLocked(v.Owner)
	}
	if e.owners[v.Owner] >= e.cfg.MaxInstancesPerOwner || e.wasmMemory+mem > e.cfg.MaxWasmMemoryBytes {
		return 0, &engine.ErrBusy{RetryAfter: time.Second}
	}
	e.owners[v.Owner]++
	e.wasmMemory += mem
	return mem, nil
}

// leaveWasm gives back what enterWasm counted.
func (e *Engine) leaveWasm(owner string, mem int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.wasmMemory -= mem
	e.owners[owner]--
	if e.owners[owner] <= 0 {
		delete(e.owners, owner)
	}
	e.broadcastLocked()
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
	e.building.Wait()
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
