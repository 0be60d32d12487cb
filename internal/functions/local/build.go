package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/functions/sandbox"
)

// goBuildTimeout bounds one go build in its sandbox.
const goBuildTimeout = 2 * time.Minute

// checkTimeout bounds a node or python syntax check.
const checkTimeout = 30 * time.Second

// hksMainFile is the generated file of a go function; a version may not
// bring its own.
const hksMainFile = "hks_main.go"

// artifact is a built version: the files its loader gets at /code, and
// the one the loader loads.
type artifact struct {
	dir   string
	entry string
}

// codeHash identifies a version's code: the runtime, file names and
// contents. Artifacts are cached by it (never by a name a caller chose).
func codeHash(v engine.Version) string {
	h := sha256.New()
	names := make([]string, 0, len(v.Files))
	for n := range v.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(h, "%s\n", v.Runtime)
	if v.Runtime == engine.RuntimeGo {
		// The platform's main is compiled in: a binary built with another
		// one speaks another protocol.
		fmt.Fprintf(h, "%d\n", len(hksMainSource))
		h.Write(hksMainSource)
	}
	for _, n := range names {
		fmt.Fprintf(h, "%s\n%d\n", n, len(v.Files[n]))
		h.Write(v.Files[n])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// entryOf is the file of v the runtime loads: its entry file, the only
// file, or the only file of the runtime's language.
func entryOf(v engine.Version) (string, error) {
	want := entryFile[v.Runtime]
	if _, ok := v.Files[want]; ok {
		return want, nil
	}
	if len(v.Files) == 1 {
		for n := range v.Files {
			return n, nil
		}
	}
	exts := map[string][]string{
		engine.RuntimeNode: {".js", ".mjs", ".cjs"}, engine.RuntimePython: {".py"}, engine.RuntimeGo: {".go"},
	}[v.Runtime]
	var found []string
	for n := range v.Files {
		if !strings.Contains(n, "/") && hasExt(n, exts) {
			found = append(found, n)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	if len(v.Files) == 0 {
		return "", &engine.BuildError{Runtime: v.Runtime, Message: "no code"}
	}
	return "", &engine.BuildError{Runtime: v.Runtime, Message: "no " + want + " among the files"}
}

func hasExt(name string, exts []string) bool {
	for _, x := range exts {
		if strings.HasSuffix(name, x) {
			return true
		}
	}
	return false
}

// checkNames refuses file names that are not plain relative paths.
func checkNames(v engine.Version) error {
	for n := range v.Files {
		if !fs.ValidPath(n) || n == "." || strings.HasPrefix(path.Base(n), ".hks") {
			return &engine.BuildError{Runtime: v.Runtime, Message: fmt.Sprintf("file name %q is not a relative path", n)}
		}
		if v.Runtime == engine.RuntimeGo && n == hksMainFile {
			return &engine.BuildError{Runtime: v.Runtime, Message: hksMainFile + " is reserved for the platform's generated main"}
		}
	}
	return nil
}

func writeFiles(dir string, files map[string][]byte) error {
	for n, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := mkdirShared(filepath.Dir(p)); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		if err := os.Chmod(p, 0o644); err != nil { // whatever the umask
			return err
		}
	}
	return nil
}

// artifact returns v's built code, building it when it is not cached.
// Concurrent calls for the same code build once.
func (e *Engine) artifact(ctx context.Context, v engine.Version, rt *procRuntime) (*artifact, error) {
	if err := checkNames(v); err != nil {
		return nil, err
	}
	entry, err := entryOf(v)
	if err != nil {
		return nil, err
	}
	hash := codeHash(v)
	dir := filepath.Join(e.cfg.DataDir, "artifacts", v.Runtime+"-"+hash)
	a := &artifact{dir: dir, entry: entry}
	if v.Runtime == engine.RuntimeGo {
		a.entry = "fn"
	}
	if _, err := os.Stat(dir); err == nil {
		return a, nil
	}
	e.buildMu.Lock()
	call, ok := e.builds[hash]
	if !ok {
		if !e.startWork() {
			e.buildMu.Unlock()
			return nil, errClosed
		}
		// The build lives while one of its callers waits (and the engine
		// is open): the last caller to leave cancels it.
		bctx, cancel := context.WithCancel(e.ctx)
		call = &buildCall{done: make(chan struct{}), cancel: cancel}
		e.builds[hash] = call
		go func() {
			defer e.building.Done()
			defer close(call.done)
			defer cancel()
			call.err = e.boundedBuild(bctx, v, rt, entry, dir)
			e.buildMu.Lock()
			if e.builds[hash] == call {
				delete(e.builds, hash)
			}
			e.buildMu.Unlock()
		}()
	}
	call.waiters++
	e.buildMu.Unlock()
	select {
	case <-call.done:
		if call.err != nil {
			return nil, call.err
		}
		return a, nil
	case <-ctx.Done():
		e.buildMu.Lock()
		call.waiters--
		if call.waiters == 0 {
			call.cancel()
			if e.builds[hash] == call {
				delete(e.builds, hash)
			}
		}
		e.buildMu.Unlock()
		return nil, ctx.Err()
	}
}

// buildCall is one build under way and the callers waiting for it.
type buildCall struct {
	done chan struct{}
	err  error
	// Guarded by Engine.buildMu.
	waiters int
	cancel  context.CancelFunc
}

// boundedBuild runs the build once one of the MaxBuilds slots is free,
// unless ctx ends first.
func (e *Engine) boundedBuild(ctx context.Context, v engine.Version, rt *procRuntime, entry, dir string) error {
	select {
	case e.buildSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.buildSlots }()
	e.buildsStarted.Add(1)
	return e.buildStep(ctx, v, rt, entry, dir)
}

// build checks or compiles v into dir (atomically: a temporary directory
// renamed into place).
func (e *Engine) build(ctx context.Context, v engine.Version, rt *procRuntime, entry, dir string) error {
	tmp, err := mkdirTempShared(filepath.Dir(dir), ".build-")
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "src")
	if err := mkdirShared(src); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := writeFiles(src, v.Files); err != nil {
		return fmt.Errorf("build: write code: %w", err)
	}
	switch v.Runtime {
	case engine.RuntimeNode:
		err = e.checkNode(ctx, rt, src, entry)
	case engine.RuntimePython:
		err = e.checkPython(ctx, rt, src, v)
	case engine.RuntimeGo:
		err = e.buildGo(ctx, rt, src, filepath.Join(tmp, "fn"))
		if err == nil {
			out := filepath.Join(tmp, "out")
			if err = mkdirShared(out); err == nil {
				err = os.Rename(filepath.Join(tmp, "fn"), filepath.Join(out, "fn"))
			}
			src = out
		}
	}
	if err != nil {
		return err
	}
	if err := os.Rename(src, dir); err != nil && !errors.Is(err, fs.ErrExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return fmt.Errorf("build: store artifact: %w", err)
		}
	}
	return nil
}

// sandboxRun runs a short program in a sandbox of its own and returns
// its output (each capped at 256 KiB).
func (e *Engine) sandboxRun(ctx context.Context, spec sandbox.Spec, timeout time.Duration) (stdout, stderr string, exit sandbox.Exit, timedOut bool, err error) {
	var out, errb capped
	out.max, errb.max = 256<<10, 256<<10
	spec.Stdout, spec.Stderr = &out, &errb
	p, err := e.cfg.Sandbox.Start(spec)
	if err != nil {
		return "", "", exit, false, fmt.Errorf("start sandbox: %w", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.Done():
	case <-t.C:
		timedOut = true
		p.Kill()
	case <-ctx.Done():
		p.Kill()
		p.Wait()
		return "", "", exit, false, ctx.Err()
	}
	exit = p.Wait()
	return out.String(), errb.String(), exit, timedOut, nil
}

// cleanMessage keeps a runtime's message and drops what names the host:
// the sandbox's code directory, the runtime's internal frames.
func cleanMessage(s, codeDir string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "at ") && !strings.Contains(t, codeDir+"/") {
			continue
		}
		if strings.HasPrefix(t, "Node.js v") {
			continue
		}
		keep = append(keep, strings.ReplaceAll(l, codeDir+"/", ""))
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

func (e *Engine) baseEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp", "LANG=C.UTF-8"}, extra...)
}

func (e *Engine) checkNode(ctx context.Context, rt *procRuntime, src, entry string) error {
	spec := sandbox.Spec{
		Argv:     []string{rt.exe, "--check", "/code/" + entry},
		Env:      e.baseEnv(),
		ReadOnly: append(append([]sandbox.Bind{}, rt.bind...), sandbox.Bind{Src: src, Dst: "/code"}),
		Limits:   sandbox.Limits{MemoryBytes: 512 << 20, Pids: 64, CPUPercent: 100},
	}
	_, stderr, exit, timedOut, err := e.sandboxRun(ctx, spec, checkTimeout)
	if err != nil {
		return fmt.Errorf("check node code: %w", err)
	}
	if timedOut {
		return &engine.BuildError{Runtime: engine.RuntimeNode, Message: "the syntax check took longer than 30s"}
	}
	if exit.Reason != "" {
		return &engine.BuildError{Runtime: engine.RuntimeNode, Message: cleanMessage(stderr, "/code")}
	}
	return nil
}

const pythonCheck = `import sys, traceback
ok = True
for name in sys.argv[1:]:
    try:
        with open("/code/" + name, "rb") as f:
            compile(f.read(), name, "exec")
    except (SyntaxError, ValueError) as e:
        sys.stderr.write("".join(traceback.format_exception_only(type(e), e)))
        ok = False
sys.exit(0 if ok else 1)
`

func (e *Engine) checkPython(ctx context.Context, rt *procRuntime, src string, v engine.Version) error {
	var names []string
	for n := range v.Files {
		if strings.HasSuffix(n, ".py") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	spec := sandbox.Spec{
		Argv:     append([]string{rt.exe, "-I", "-S", "-B", "-c", pythonCheck}, names...),
		Env:      e.baseEnv(),
		ReadOnly: append(append([]sandbox.Bind{}, rt.bind...), sandbox.Bind{Src: src, Dst: "/code"}),
		Limits:   sandbox.Limits{MemoryBytes: 512 << 20, Pids: 64, CPUPercent: 100},
	}
	_, stderr, exit, timedOut, err := e.sandboxRun(ctx, spec, checkTimeout)
	if err != nil {
		return fmt.Errorf("check python code: %w", err)
	}
	if timedOut {
		return &engine.BuildError{Runtime: engine.RuntimePython, Message: "the syntax check took longer than 30s"}
	}
	if exit.Reason != "" {
		return &engine.BuildError{Runtime: engine.RuntimePython, Message: cleanMessage(stderr, "/code")}
	}
	return nil
}

// goEnv is the environment of every go command the engine runs: no
// network, no module downloads, no cgo, the machine's toolchain only.
func goEnv(goroot, gocache string) []string {
	return []string{
		"GOROOT=" + goroot, "GOCACHE=" + gocache, "GOENV=off", "GOPROXY=off", "GOFLAGS=-mod=readonly",
		"GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOTELEMETRY=off", "GONOSUMDB=*", "GOSUMDB=off",
	}
}

// goMod is a module's go.mod: the toolchain's language version, no
// requirements (standard library only; the source is read-only in the
// build sandbox, so go must not need to update it).
func goMod(module string, rt *procRuntime) string {
	return "module " + module + "\n\ngo " + strings.TrimPrefix(rt.goVersion, "go") + "\n"
}

// execerHash names the go loader's binary by its source and toolchain.
func execerHash(rt *procRuntime) string {
	sum := sha256.Sum256(append(append([]byte{}, execerSource...), rt.goVersion...))
	return hex.EncodeToString(sum[:6])
}

// prepareGo does the go runtime's one-time work, on the first go build or
// invocation rather than at New: it gives the build cache to the sandbox's
// user and compiles the go loader (the execer) in the build sandbox. The
// standard library is compiled into the shared cache by the first builds
// that need it (about 30s of CPU for the first one on an empty cache).
func (e *Engine) prepareGo(ctx context.Context, rt *procRuntime) error {
	select {
	case <-e.goReady:
		return nil
	default:
	}
	if !e.startWork() {
		return errClosed
	}
	defer e.building.Done()
	// Stopped by Close as by the caller.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(e.ctx, cancel)()
	e.goMu.Lock()
	defer e.goMu.Unlock()
	if err := e.ownGoCache(); err != nil {
		return err
	}
	select {
	case <-e.goReady:
		return nil
	default:
	}
	src, err := mkdirTempShared(e.cfg.DataDir, ".execer-")
	if err != nil {
		return fmt.Errorf("go loader: %w", err)
	}
	defer os.RemoveAll(src)
	if err := writeFiles(src, map[string][]byte{"main.go": execerSource, "go.mod": []byte(goMod("execer", rt))}); err != nil {
		return fmt.Errorf("go loader: %w", err)
	}
	tmp := e.execer + ".tmp"
	if err := e.compileGo(ctx, rt, src, tmp, "-ldflags=-s -w"); err != nil {
		os.Remove(tmp)
		var be *engine.BuildError
		if errors.As(err, &be) {
			return fmt.Errorf("the go loader does not build: %s", be.Message)
		}
		return fmt.Errorf("go loader: %w", err)
	}
	if err := os.Rename(tmp, e.execer); err != nil {
		return fmt.Errorf("go loader: %w", err)
	}
	close(e.goReady)
	return nil
}

// ownGoCache creates the go build cache and, when its owner is not the
// sandbox's user, chowns it (a cache filled by another user, or created
// by this process as root). Called with goMu held.
func (e *Engine) ownGoCache() error {
	if e.goCacheOK {
		return nil
	}
	uid := e.cfg.Sandbox.HostUID()
	if err := mkdirShared(e.goCache); err != nil {
		return fmt.Errorf("go build cache: %w", err)
	}
	if err := reachable(e.goCache, uid); err != nil {
		return fmt.Errorf("go build cache %s: the sandbox's user (uid %d) %w", e.goCache, uid, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(e.goCache, &st); err != nil {
		return fmt.Errorf("go build cache: %w", err)
	}
	if int(st.Uid) != uid {
		gid := uid // nobody's group when uid is nobody
		if uid == os.Getuid() {
			gid = os.Getgid()
		}
		err := filepath.WalkDir(e.goCache, func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		})
		if err != nil {
			return fmt.Errorf("go build cache: give it to uid %d: %w", uid, err)
		}
	}
	e.goCacheOK = true
	return nil
}

func (e *Engine) buildGo(ctx context.Context, rt *procRuntime, src, out string) error {
	if err := e.prepareGo(ctx, rt); err != nil {
		return err
	}
	if err := writeFiles(src, map[string][]byte{"go.mod": []byte(goMod("fn", rt)), hksMainFile: hksMainSource}); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	return e.compileGo(ctx, rt, src, out)
}

// compileGo runs go build in the build sandbox: src read-only at /build,
// the shared build cache writable at /gocache, no network and GOPROXY=off;
// the binary comes out through fd 3 into out. Sharing the cache is a
// trade-off: a program running in a build sandbox could write cache
// entries that later builds of other tenants use; nothing runs there but
// the go command and the compiler (no cgo, no toolexec, no go generate),
// so that takes a compiler exploit, in exchange for compiling the
// standard library once rather than at every build.
func (e *Engine) compileGo(ctx context.Context, rt *procRuntime, src, out string, flags ...string) error {
	f, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(0o755); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	e.compiles.Add(1)
	argv := append([]string{"go", "build", "-trimpath"}, flags...)
	const script = `"$@" -o /tmp/fn . && cat /tmp/fn >&3`
	spec := sandbox.Spec{
		Argv: append([]string{"/bin/sh", "-c", script, "sh"}, argv...),
		Env: append(e.baseEnv(goEnv(rt.goroot, "/gocache")...),
			"PATH="+filepath.Join(rt.goroot, "bin")+":/usr/bin:/bin", "GOPATH=/tmp/gopath"),
		Dir:        "/build",
		ReadOnly:   append(append([]sandbox.Bind{}, rt.bind...), sandbox.Bind{Src: src, Dst: "/build"}),
		ReadWrite:  []sandbox.Bind{{Src: e.goCache, Dst: "/gocache"}},
		Limits:     sandbox.Limits{MemoryBytes: 2 << 30, Pids: 256, CPUPercent: 200, TmpBytes: 1 << 30},
		ExtraFiles: []*os.File{f},
	}
	stdout, stderr, exit, timedOut, err := e.sandboxRun(ctx, spec, goBuildTimeout)
	if err != nil {
		return fmt.Errorf("build go code: %w", err)
	}
	if timedOut {
		return &engine.BuildError{Runtime: engine.RuntimeGo, Message: "the build took longer than 2m"}
	}
	if exit.Reason != "" {
		msg := strings.TrimSpace(stdout + stderr)
		var keep []string
		for _, l := range strings.Split(msg, "\n") {
			if l == "# fn" {
				continue
			}
			l = strings.ReplaceAll(l, "/build/", "")
			keep = append(keep, strings.TrimPrefix(l, "./"))
		}
		return &engine.BuildError{Runtime: engine.RuntimeGo, Message: strings.Join(keep, "\n")}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	return nil
}

// capped keeps the first max bytes written to it.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		if len(p) > room {
			c.Buffer.Write(p[:room])
		} else {
			c.Buffer.Write(p)
		}
	}
	return len(p), nil
}
