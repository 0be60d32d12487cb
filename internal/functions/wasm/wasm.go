package wasm

import (
	"bytes"
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/required"
)

// wazeroVersion is the pinned wazero release (go.mod), as Info reports it.
const wazeroVersion = "wazero v1.12.0"

// Defaults for limits a version leaves at zero (the API's defaults).
const (
	defaultMaxCompiled  = 64
	defaultMemoryBytes  = 128 << 20
	defaultTimeout      = 10 * time.Second
	defaultConcurrency  = 1
	defaultMaxInstances = 4
)

// Caps on what one invocation keeps of its output.
const (
	// MaxLogBytes is how much of stderr an invocation keeps.
	MaxLogBytes = 64 << 10
	// MaxResponseBytes is the largest stdout (the response) accepted.
	MaxResponseBytes = 6 << 20
)

const (
	pageSize  = 64 << 10
	wasiName  = wasi_snapshot_preview1.ModuleName
	logCutMsg = "\n[logs cut: more than 64 KiB]\n"
)

// retryAfter is what a refused call is told to wait.
const retryAfter = time.Second

var (
	errTimeout   = errors.New("invocation timed out")
	errForgotten = errors.New("function forgotten")
	errClosed    = errors.New("wasm: runner closed")
)

// Config is what the runner needs.
type Config struct {
	// CacheDir holds wazero's on-disk compilation cache: a module evicted
	// from memory is compiled again from it quickly.
	CacheDir string
	// MaxCompiled is how many compiled modules are kept in memory (least
	// recently used first out); default 64.
	MaxCompiled int
	Logger      *slog.Logger
}

// Runner runs WASI command modules, one fresh instance per invocation.
type Runner struct {
	cfg   Config
	rt    wazero.Runtime
	cache wazero.CompilationCache

	mu       sync.Mutex
	closed   bool
	lru      *list.List // of *compiled, most recently used first
	compiled map[string]*compiled
	keys     map[string]*keyState
}

// compiled is one module in memory, shared by every instance of it.
type compiled struct {
	digest string
	elem   *list.Element
	ready  chan struct{} // closed when mod or err is set
	mod    wazero.CompiledModule
	err    error
	refs   int  // acquirers not yet released
	gone   bool // evicted: closed when refs drops to 0
}

// keyState is the concurrency of one version: sem holds a token per
// running invocation; waiting counts callers queued for one.
type keyState struct {
	sem     chan struct{}
	waiting int
	ctx     context.Context // cancelled by Forget and Close
	cancel  context.CancelCauseFunc
}

// New starts the runtime.
func New(ctx context.Context, cfg Config) (*Runner, error) {
	if err := required.Fields("wasm", &cfg, "CacheDir", "Logger"); err != nil {
		return nil, err
	}
	if cfg.MaxCompiled < 0 {
		return nil, errors.New("wasm: MaxCompiled must not be negative")
	}
	if cfg.MaxCompiled == 0 {
		cfg.MaxCompiled = defaultMaxCompiled
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("wasm: create cache dir: %w", err)
	}
	cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("wasm: compilation cache: %w", err)
	}
	// The memory cap is not the runtime's WithMemoryLimitPages (one value
	// for every module): each instance gets its version's cap from its
	// allocator (capMemory), which also records a growth refused at it.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithCompilationCache(cache))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		_ = cache.Close(ctx)
		return nil, fmt.Errorf("wasm: instantiate wasi: %w", err)
	}
	return &Runner{
		cfg:      cfg,
		rt:       rt,
		cache:    cache,
		lru:      list.New(),
		compiled: map[string]*compiled{},
		keys:     map[string]*keyState{},
	}, nil
}

// Info describes the runtime.
func (r *Runner) Info() engine.RuntimeInfo {
	return engine.RuntimeInfo{
		Name:      engine.RuntimeWasm,
		Available: true,
		Version:   wazeroVersion,
		Sandbox:   "wasm",
		Entry:     "fn.wasm",
	}
}

// Build validates and compiles the version's module and keeps it in
// memory. A module wazero refuses, one importing anything but WASI preview
// 1, one without _start or one whose initial memory exceeds the limit is a
// *engine.BuildError.
func (r *Runner) Build(ctx context.Context, v engine.Version) error {
	bin, err := entry(v)
	if err != nil {
		return err
	}
	c, _, err := r.acquire(ctx, v, bin)
	if err != nil {
		return err
	}
	defer r.release(c)
	return checkMemory(c.mod, memoryLimit(v))
}

// Invoke runs a fresh instance of the version's module with req as its
// stdin. Err is for calls that never ran: *engine.ErrBusy, a
// *engine.BuildError (code that does not build), ctx done, a closed runner.
func (r *Runner) Invoke(ctx context.Context, v engine.Version, req engine.Request) (engine.Result, error) {
	bin, err := entry(v)
	if err != nil {
		return engine.Result{}, err
	}
	ks, err := r.enter(ctx, v)
	if err != nil {
		return engine.Result{}, err
	}
	defer r.leave(v.Key, ks)

	start := time.Now()
	c, cold, err := r.acquire(ctx, v, bin)
	if err != nil {
		return engine.Result{}, err
	}
	defer r.release(c)
	res, err := r.run(ctx, ks, c.mod, v, req)
	res.ColdStart = cold
	res.Duration = time.Since(start)
	return res, err
}

// Instances is how many instances of the version run now.
func (r *Runner) Instances(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ks := r.keys[key]; ks != nil {
		return len(ks.sem)
	}
	return 0
}

// Forget stops the version's running instances (they end as crash) and
// drops its queue; its compiled module stays cached.
func (r *Runner) Forget(key string) {
	r.mu.Lock()
	ks := r.keys[key]
	delete(r.keys, key)
	r.mu.Unlock()
	if ks != nil {
		ks.cancel(errForgotten)
	}
}

// Close stops every instance and releases the runtime and the cache.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	for k, ks := range r.keys {
		ks.cancel(errForgotten)
		delete(r.keys, k)
	}
	r.mu.Unlock()
	err := r.rt.Close(ctx)
	if cerr := r.cache.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wasm: close: %w", err)
	}
	return nil
}

// entry picks the module: fn.wasm, or the only .wasm file.
func entry(v engine.Version) ([]byte, error) {
	if b, ok := v.Files["fn.wasm"]; ok {
		return b, nil
	}
	var found []string
	for name := range v.Files {
		if strings.HasSuffix(strings.ToLower(path.Base(name)), ".wasm") {
			found = append(found, name)
		}
	}
	switch len(found) {
	case 1:
		return v.Files[found[0]], nil
	case 0:
		return nil, &engine.BuildError{Runtime: engine.RuntimeWasm, Message: "no fn.wasm (nor any .wasm file) in the code"}
	default:
		sort.Strings(found)
		return nil, &engine.BuildError{Runtime: engine.RuntimeWasm, Message: "no fn.wasm, and several .wasm files: " + strings.Join(found, ", ")}
	}
}

// limits with the API's defaults for what a version leaves at zero.
func memoryLimit(v engine.Version) uint64 {
	if v.Limits.MemoryBytes > 0 {
		return uint64(v.Limits.MemoryBytes)
	}
	return defaultMemoryBytes
}

func timeout(v engine.Version) time.Duration {
	if v.Limits.Timeout > 0 {
		return v.Limits.Timeout
	}
	return defaultTimeout
}

func slots(v engine.Version) int {
	c, m := v.Limits.Concurrency, v.Limits.MaxInstances
	if c <= 0 {
		c = defaultConcurrency
	}
	if m <= 0 {
		m = defaultMaxInstances
	}
	return c * m
}

// enter takes a running slot of the version, waiting (at most one timeout,
// and only when fewer callers than slots already wait) when all are taken.
func (r *Runner) enter(ctx context.Context, v engine.Version) (*keyState, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errClosed
	}
	ks := r.keys[v.Key]
	if ks == nil {
		kctx, cancel := context.WithCancelCause(context.Background())
		ks = &keyState{sem: make(chan struct{}, slots(v)), ctx: kctx, cancel: cancel}
		r.keys[v.Key] = ks
	}
	select {
	case ks.sem <- struct{}{}:
		r.mu.Unlock()
		return ks, nil
	default:
	}
	if ks.waiting >= cap(ks.sem) {
		r.mu.Unlock()
		return nil, &engine.ErrBusy{RetryAfter: retryAfter}
	}
	ks.waiting++
	r.mu.Unlock()

	t := time.NewTimer(timeout(v))
	defer t.Stop()
	var err error
	select {
	case ks.sem <- struct{}{}:
	case <-t.C:
		err = &engine.ErrBusy{RetryAfter: retryAfter}
	case <-ks.ctx.Done():
		err = &engine.ErrBusy{RetryAfter: retryAfter}
	case <-ctx.Done():
		err = ctx.Err()
	}
	r.mu.Lock()
	ks.waiting--
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return ks, nil
}

// leave gives the slot back, dropping the key's state once it is idle so
// that idle versions cost nothing here.
func (r *Runner) leave(key string, ks *keyState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	<-ks.sem
	if len(ks.sem) == 0 && ks.waiting == 0 && r.keys[key] == ks {
		delete(r.keys, key)
		ks.cancel(nil)
	}
}

// digestOf is the cache key of a module: the version's digest, or the
// sha256 of the bytes when it has none.
func digestOf(v engine.Version, bin []byte) string {
	if v.Digest != "" {
		return v.Digest
	}
	sum := sha256.Sum256(bin)
	return hex.EncodeToString(sum[:])
}

// acquire returns the compiled module, compiling it when it is not in
// memory (cold). The caller releases it.
func (r *Runner) acquire(ctx context.Context, v engine.Version, bin []byte) (*compiled, bool, error) {
	d := digestOf(v, bin)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, false, errClosed
	}
	if c := r.compiled[d]; c != nil {
		r.lru.MoveToFront(c.elem)
		c.refs++
		r.mu.Unlock()
		cold := false
		select {
		case <-c.ready:
		default:
			cold = true // another caller is compiling it
			select {
			case <-c.ready:
			case <-ctx.Done():
				r.release(c)
				return nil, false, ctx.Err()
			}
		}
		if c.err != nil {
			r.release(c)
			return nil, false, c.err
		}
		return c, cold, nil
	}
	c := &compiled{digest: d, ready: make(chan struct{}), refs: 1}
	c.elem = r.lru.PushFront(c)
	r.compiled[d] = c
	evicted := r.evictLocked()
	r.mu.Unlock()
	closeAll(evicted)

	c.mod, c.err = r.compile(ctx, bin)
	close(c.ready)
	if c.err != nil {
		r.mu.Lock()
		if r.compiled[d] == c {
			delete(r.compiled, d)
			r.lru.Remove(c.elem)
		}
		r.mu.Unlock()
		return nil, false, c.err
	}
	return c, true, nil
}

// release ends a use of c; an evicted module is closed by its last user.
func (r *Runner) release(c *compiled) {
	r.mu.Lock()
	c.refs--
	done := c.gone && c.refs == 0 && c.mod != nil
	r.mu.Unlock()
	if done {
		_ = c.mod.Close(context.Background())
	}
}

// evictLocked drops the least recently used compiled modules beyond
// MaxCompiled; it returns those nobody uses, for the caller to close
// outside the lock.
func (r *Runner) evictLocked() []*compiled {
	var idle []*compiled
	for r.lru.Len() > r.cfg.MaxCompiled {
		c := r.lru.Remove(r.lru.Back()).(*compiled)
		delete(r.compiled, c.digest)
		c.gone = true
		if c.refs == 0 {
			idle = append(idle, c)
		}
		r.cfg.Logger.Debug("wasm module evicted from memory", "digest", c.digest)
	}
	return idle
}

func closeAll(cs []*compiled) {
	for _, c := range cs {
		<-c.ready // refs == 0: compiled already
		if c.mod != nil {
			_ = c.mod.Close(context.Background())
		}
	}
}

// compile validates bin as a WASI command module.
func (r *Runner) compile(ctx context.Context, bin []byte) (wazero.CompiledModule, error) {
	mod, err := r.rt.CompileModule(ctx, bin)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &engine.BuildError{Runtime: engine.RuntimeWasm, Message: r.scrub(err.Error())}
	}
	if msg := checkCommand(mod); msg != "" {
		_ = mod.Close(ctx)
		return nil, &engine.BuildError{Runtime: engine.RuntimeWasm, Message: msg}
	}
	return mod, nil
}

// checkCommand refuses imports other than WASI preview 1 and a module
// without _start.
func checkCommand(mod wazero.CompiledModule) string {
	for _, f := range mod.ImportedFunctions() {
		if m, n, _ := f.Import(); m != wasiName {
			return fmt.Sprintf("the module imports function %q from %q: only %s is provided", n, m, wasiName)
		}
	}
	for _, m := range mod.ImportedMemories() {
		mn, n, _ := m.Import()
		return fmt.Sprintf("the module imports memory %q from %q: only %s functions are provided", n, mn, wasiName)
	}
	if _, ok := mod.ExportedFunctions()["_start"]; !ok {
		return "the module exports no _start function: not a WASI command module"
	}
	return ""
}

// checkMemory refuses a module whose initial memory exceeds limit.
func checkMemory(mod wazero.CompiledModule, limit uint64) error {
	for _, m := range mod.ExportedMemories() {
		if b := uint64(m.Min()) * pageSize; b > limit {
			return &engine.BuildError{Runtime: engine.RuntimeWasm, Message: fmt.Sprintf(
				"the module's initial memory (%s) exceeds the memory limit (%s)", mib(b), mib(limit))}
		}
	}
	return nil
}

func mib(b uint64) string { return fmt.Sprintf("%.4g MiB", float64(b)/(1<<20)) }

// scrub keeps host paths (the cache directory) out of messages.
func (r *Runner) scrub(s string) string {
	return strings.ReplaceAll(s, r.cfg.CacheDir, "<cache>")
}

// run instantiates mod once with req on stdin and reads its answer.
func (r *Runner) run(ctx context.Context, ks *keyState, mod wazero.CompiledModule, v engine.Version, req engine.Request) (engine.Result, error) {
	limit := memoryLimit(v)
	if err := checkMemory(mod, limit); err != nil {
		return engine.Result{ExitReason: engine.ExitOOM, Error: err.(*engine.BuildError).Message}, nil
	}
	in, err := requestJSON(req)
	if err != nil {
		return engine.Result{}, fmt.Errorf("wasm: encode request: %w", err)
	}

	base, cancelBase := context.WithCancelCause(ctx)
	defer cancelBase(nil)
	stop := context.AfterFunc(ks.ctx, func() { cancelBase(context.Cause(ks.ctx)) })
	defer stop()
	to := timeout(v)
	ictx, cancel := context.WithTimeoutCause(base, to, errTimeout)
	defer cancel()
	mem := &capMemory{limit: limit}
	ictx = experimental.WithMemoryAllocator(ictx, mem)

	stdout := &capWriter{max: MaxResponseBytes + 1}
	stderr := &capWriter{max: MaxLogBytes}
	mc := wazero.NewModuleConfig().
		WithName(""). // anonymous: instances of one module run side by side
		WithArgs("fn").
		WithStdin(bytes.NewReader(in)).
		WithStdout(stdout).
		WithStderr(stderr).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(func(ns int64) { sleep(ictx, ns) }).
		WithRandSource(rand.Reader)
	envKeys := make([]string, 0, len(v.Env))
	for k := range v.Env {
		envKeys = append(envKeys, k)
	}
	sort.Strings(envKeys)
	for _, k := range envKeys {
		mc = mc.WithEnv(k, v.Env[k])
	}

	inst, err := r.rt.InstantiateModule(ictx, mod, mc)
	if inst != nil {
		_ = inst.Close(context.Background())
	}
	res := engine.Result{Logs: stderr.logs()}

	var exit *sys.ExitError
	isExit := errors.As(err, &exit)
	switch {
	case err == nil:
		if stdout.cut {
			res.ExitReason = engine.ExitError
			res.Error = fmt.Sprintf("the response (stdout) is larger than %d MiB", MaxResponseBytes>>20)
			return res, nil
		}
		res.Response = parseResponse(stdout.buf.Bytes())
		return res, nil
	case ictx.Err() != nil && (!isExit || exit.ExitCode() == sys.ExitCodeDeadlineExceeded || exit.ExitCode() == sys.ExitCodeContextCanceled):
		switch cause := context.Cause(ictx); {
		case errors.Is(cause, errTimeout):
			res.ExitReason = engine.ExitTimeout
			res.Error = fmt.Sprintf("timed out after %s", to)
			return res, nil
		case errors.Is(cause, errForgotten):
			res.ExitReason = engine.ExitCrash
			res.Error = "the instance was stopped: the function was removed or the runtime closed"
			return res, nil
		default:
			res.ExitReason = engine.ExitError
			res.Error = "the invocation was cancelled"
			return res, ctx.Err()
		}
	case mem.refused:
		res.ExitReason = engine.ExitOOM
		res.Error = fmt.Sprintf("out of memory: the module could not grow its memory past the limit (%s)", mib(limit))
		if isExit {
			res.Error += fmt.Sprintf(", exit code %d", exit.ExitCode())
		}
	case isExit:
		res.ExitReason = engine.ExitError
		res.Error = fmt.Sprintf("exit code %d", exit.ExitCode())
	default:
		res.ExitReason = engine.ExitError
		res.Error = trapMessage(err)
	}
	return res, nil
}

// trapMessage is wazero's trap text ("wasm error: unreachable" and the
// wasm stack trace, a few frames of it), without the name of the anonymous
// instance.
func trapMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "module[] function[_start] failed: ")
	lines := strings.Split(msg, "\n")
	if len(lines) > 8 {
		lines = append(lines[:8], "\t...")
	}
	return "trap: " + strings.Join(lines, "\n")
}

// sleep is the instance's nanosleep: a real sleep that ends when the
// invocation does, so a sleeping module cannot outlive its timeout.
func sleep(ctx context.Context, ns int64) {
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// capMemory backs one instance's linear memory and enforces its cap:
// a growth past limit fails (memory.grow returns -1) and is recorded.
type capMemory struct {
	limit   uint64
	buf     []byte
	started bool
	refused bool
}

// Allocate implements experimental.MemoryAllocator.
func (m *capMemory) Allocate(_, _ uint64) experimental.LinearMemory { return m }

// Reallocate implements experimental.LinearMemory. The first call (the
// module's initial memory) always succeeds: a module whose initial memory
// exceeds the cap is refused before it is instantiated.
func (m *capMemory) Reallocate(size uint64) []byte {
	if m.started && size > m.limit {
		m.refused = true
		return nil
	}
	m.started = true
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	n := max(size, min(2*uint64(cap(m.buf)), m.limit))
	nb := make([]byte, size, n)
	copy(nb, m.buf)
	m.buf = nb
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *capMemory) Free() { m.buf = nil }

var _ experimental.MemoryAllocator = (*capMemory)(nil)

// capWriter keeps the first max bytes written to it and swallows the rest,
// so that a chatty module neither fails nor fills the host's memory.
type capWriter struct {
	max int
	buf bytes.Buffer
	cut bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room < len(p) {
		w.cut = true
		w.buf.Write(p[:max(room, 0)])
	} else {
		w.buf.Write(p)
	}
	return len(p), nil
}

// logs is what was kept, with a marker when output was cut.
func (w *capWriter) logs() []byte {
	if w.buf.Len() == 0 {
		return nil
	}
	b := bytes.Clone(w.buf.Bytes())
	if w.cut {
		b = append(b, logCutMsg...)
	}
	return b
}
