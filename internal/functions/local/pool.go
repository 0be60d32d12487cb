package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/functions/sandbox"
)

// Limits of a pool's loaders before they are specialized: the version's
// memory limit is set when one is taken; its pids limit is the runtime's
// default unless the version names another (then a loader is started for
// it, not taken from the pool).
const (
	poolMemoryBytes = 256 << 20
	defaultPids     = 64
	instanceCPU     = 100
	specializeWait  = 30 * time.Second
)

// loader is one sandboxed loader process: warm in a pool, then the
// process of one instance.
type loader struct {
	rt     *procRuntime
	proc   *sandbox.Process
	slot   string // host directory bound read-only at /code
	reqW   *os.File
	w      *frameWriter
	repR   *os.File
	r      *bufio.Reader
	mem    int64
	pids   int
	closed sync.Once
}

// stop kills the loader's sandbox and removes its slot.
func (l *loader) stop() {
	l.closed.Do(func() {
		l.reqW.Close()
		l.proc.Kill()
		go func() {
			l.proc.Wait()
			l.repR.Close()
			os.RemoveAll(l.slot)
		}()
	})
}

func (l *loader) alive() bool {
	select {
	case <-l.proc.Done():
		return false
	default:
		return true
	}
}

// pool keeps warm loaders of one process runtime.
type pool struct {
	e        *Engine
	rt       *procRuntime
	mu       sync.Mutex
	ready    []*loader
	starting int
	refill   chan struct{}
}

func (e *Engine) newPool(rt *procRuntime) *pool {
	p := &pool{e: e, rt: rt, refill: make(chan struct{}, 1)}
	e.wg.Add(1)
	go p.run()
	p.kick()
	return p
}

func (p *pool) kick() {
	select {
	case p.refill <- struct{}{}:
	default:
	}
}

// run keeps PoolSize loaders ready, one start at a time so that a refill
// never competes with the calls it is for.
func (p *pool) run() {
	defer p.e.wg.Done()
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-p.e.ctx.Done():
			return
		case <-p.refill:
		}
		for {
			p.mu.Lock()
			need := len(p.ready) < p.e.cfg.PoolSize
			if need {
				p.starting++
			}
			p.mu.Unlock()
			if !need || p.e.ctx.Err() != nil {
				break
			}
			l, err := p.e.startLoader(p.rt, poolMemoryBytes, defaultPids)
			p.mu.Lock()
			p.starting--
			if err == nil {
				if p.e.ctx.Err() != nil {
					p.mu.Unlock()
					l.stop()
					return
				}
				p.ready = append(p.ready, l)
			}
			p.mu.Unlock()
			if err != nil {
				p.e.log.Warn("start a warm loader", "runtime", p.rt.info.Name, "err", err)
				select {
				case <-p.e.ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 10*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
		}
	}
}

// take returns a warm loader, or nil when none is ready, and starts the
// refill.
func (p *pool) take() *loader {
	defer p.kick()
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.ready) > 0 {
		l := p.ready[0]
		p.ready = p.ready[1:]
		if l.alive() {
			return l
		}
		l.stop()
	}
	return nil
}

// readyCount is how many warm loaders wait.
func (p *pool) readyCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready)
}

func (p *pool) close() {
	p.mu.Lock()
	ready := p.ready
	p.ready = nil
	p.mu.Unlock()
	for _, l := range ready {
		l.stop()
	}
}

// loaderArgv is the loader program of each process runtime.
func (e *Engine) loaderArgv(rt *procRuntime) []string {
	switch rt.info.Name {
	case engine.RuntimeNode:
		return []string{rt.exe, "/hks/loader.js"}
	case engine.RuntimePython:
		return []string{rt.exe, "-I", "-S", "-B", "-u", "/hks/loader.py"}
	default:
		return []string{"/hks/" + filepath.Base(e.execer)}
	}
}

// startLoader starts a loader in a sandbox of its own, with an empty slot.
func (e *Engine) startLoader(rt *procRuntime, mem int64, pids int) (*loader, error) {
	slot := filepath.Join(e.cfg.DataDir, "slots", rt.info.Name+"-"+strconv.FormatUint(e.slotSeq.Add(1), 10))
	if err := os.MkdirAll(slot, 0o755); err != nil {
		return nil, fmt.Errorf("loader slot: %w", err)
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(slot)
		return nil, fmt.Errorf("loader pipe: %w", err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		os.RemoveAll(slot)
		return nil, fmt.Errorf("loader pipe: %w", err)
	}
	out := &logWriter{e: e, runtime: rt.info.Name}
	spec := sandbox.Spec{
		Argv: e.loaderArgv(rt),
		Env:  e.baseEnv(),
		ReadOnly: append(append([]sandbox.Bind{}, rt.bind...),
			sandbox.Bind{Src: e.loaderDir, Dst: "/hks"}, sandbox.Bind{Src: slot, Dst: "/code"}),
		Limits:     sandbox.Limits{MemoryBytes: mem, Pids: pids, CPUPercent: instanceCPU},
		ExtraFiles: []*os.File{reqR, repW},
		Stdout:     out,
		Stderr:     out,
	}
	proc, err := e.cfg.Sandbox.Start(spec)
	reqR.Close()
	repW.Close()
	if err != nil {
		reqW.Close()
		repR.Close()
		os.RemoveAll(slot)
		return nil, fmt.Errorf("start loader: %w", err)
	}
	return &loader{rt: rt, proc: proc, slot: slot, reqW: reqW, w: &frameWriter{w: reqW}, repR: repR,
		r: bufio.NewReaderSize(repR, 64<<10), mem: mem, pids: pids}, nil
}

// errLoad is code that failed to load at specialize: the runtime's words.
type errLoad struct{ msg string }

func (e *errLoad) Error() string { return e.msg }

// specialize turns a loader (warm from the pool when one fits, else a new
// one) into an instance process of v: the artifact is linked into its slot,
// its memory limit set, and the loader told to load the entry.
func (e *Engine) specialize(ctx context.Context, rt *procRuntime, v engine.Version, a *artifact) (*loader, error) {
	mem := v.Limits.MemoryBytes
	if mem <= 0 {
		mem = defaultMemory
	}
	pids := v.Limits.Pids
	if pids <= 0 {
		pids = defaultPids
	}
	var l *loader
	if pids == defaultPids {
		if l = e.pools[rt.info.Name].take(); l != nil && l.mem != mem {
			if err := l.proc.SetMemoryLimit(mem); err != nil {
				e.log.Debug("warm loader over the version's memory limit: starting one with it", "runtime", rt.info.Name, "err", err)
				l.stop()
				l = nil
			} else {
				l.mem = mem
			}
		}
	}
	if l == nil {
		var err error
		if l, err = e.startLoader(rt, mem, pids); err != nil {
			return nil, err
		}
	}
	if err := linkTree(a.dir, l.slot); err != nil {
		l.stop()
		return nil, fmt.Errorf("place code: %w", err)
	}
	conc := v.Limits.Concurrency
	if conc <= 0 || rt.info.Name == engine.RuntimeGo {
		conc = 1
	}
	env := map[string]string{}
	for k, val := range v.Env {
		env[k] = val
	}
	if err := l.w.send(&message{Type: "specialize", Entry: a.entry, Env: env, Concurrency: conc}); err != nil {
		l.stop()
		return nil, e.loaderDied(l, err)
	}
	type res struct {
		m   *message
		err error
	}
	ch := make(chan res, 1)
	go func() {
		m, err := readFrame(l.r)
		ch <- res{m, err}
	}()
	t := time.NewTimer(specializeWait)
	defer t.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			l.stop()
			return nil, e.loaderDied(l, r.err)
		}
		if r.m.Type != "ready" || r.m.Error != "" {
			l.stop()
			msg := r.m.Error
			if msg == "" {
				msg = "the loader answered " + r.m.Type
			}
			return nil, &errLoad{msg: msg}
		}
		return l, nil
	case <-t.C:
		l.stop()
		return nil, &errLoad{msg: "the code did not load within 30s"}
	case <-ctx.Done():
		l.stop()
		return nil, ctx.Err()
	}
}

// loaderDied describes a loader that ended while it was specialized.
func (e *Engine) loaderDied(l *loader, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, os.ErrClosed) {
		ex := l.proc.Wait()
		return &errLoad{msg: "the runtime exited while loading the code: " + exitText(ex)}
	}
	return &errLoad{msg: "loader: " + err.Error()}
}

func exitText(ex sandbox.Exit) string {
	switch {
	case ex.Reason == sandbox.ReasonOOM:
		return "out of memory"
	case ex.Reason == sandbox.ReasonPids:
		return "process limit reached"
	case ex.Signal != "":
		return "signal " + ex.Signal
	default:
		return "exit code " + strconv.Itoa(ex.Code)
	}
}

// linkTree hard-links (or copies) every file of src into dst.
func linkTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if err := os.Link(p, target); err == nil {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
}

// logWriter logs what a loader writes outside of any invocation.
type logWriter struct {
	e       *Engine
	runtime string
}

func (w *logWriter) Write(p []byte) (int, error) {
	text := p
	if len(text) > 4096 {
		text = text[:4096]
	}
	w.e.log.Debug("loader output", "runtime", w.runtime, "text", string(text))
	return len(p), nil
}
