package local

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/functions/sandbox"
)

// procRuntime is a process runtime found on this machine: how to start
// its loader and what of the host its sandbox needs.
type procRuntime struct {
	info engine.RuntimeInfo
	exe  string         // the interpreter or toolchain's go command
	bind []sandbox.Bind // read-only binds beyond the system's (/usr ...)
	// goroot and goVersion are the go toolchain's (go only).
	goroot, goVersion string
}

// outside reports whether path is not already in the sandbox's root,
// which holds /usr and the host's /bin, /sbin and /lib* links into it.
func outside(path string) bool {
	for _, in := range []string{"/usr", "/bin", "/sbin", "/lib", "/lib64"} {
		if path == in || strings.HasPrefix(path, in+"/") {
			return false
		}
	}
	return true
}

func runOut(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

func unavailable(name, reason string) *procRuntime {
	return &procRuntime{info: engine.RuntimeInfo{Name: name, Reason: reason, Sandbox: "bubblewrap", Entry: entryFile[name]}}
}

// entryFile is each runtime's entry file in an archive.
var entryFile = map[string]string{
	engine.RuntimeNode:   "index.js",
	engine.RuntimePython: "handler.py",
	engine.RuntimeGo:     "main.go",
	engine.RuntimeWasm:   "fn.wasm",
}

func lookExe(configured, name string) (string, error) {
	if configured != "" {
		return exec.LookPath(configured)
	}
	return exec.LookPath(name)
}

func detectNode(ctx context.Context, configured string) *procRuntime {
	exe, err := lookExe(configured, "node")
	if err != nil {
		return unavailable(engine.RuntimeNode, "node is not installed")
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return unavailable(engine.RuntimeNode, "node: "+err.Error())
	}
	v, err := runOut(ctx, exe, "--version")
	if err != nil {
		return unavailable(engine.RuntimeNode, err.Error())
	}
	rt := &procRuntime{exe: exe, info: engine.RuntimeInfo{Name: engine.RuntimeNode, Available: true, Version: v, Sandbox: "bubblewrap", Entry: "index.js"}}
	if outside(exe) {
		rt.bind = append(rt.bind, sandbox.Bind{Src: filepath.Dir(filepath.Dir(exe)), Dst: filepath.Dir(filepath.Dir(exe))})
	}
	return rt
}

// detectPython prefers /usr/bin/python3. A python3 found on PATH may be a
// pyenv shim (a shell script that cannot run in the sandbox): the real
// interpreter is the one sys.executable names, and its installation
// (sys.base_prefix) is bound read-only when it is outside /usr.
func detectPython(ctx context.Context, configured string) *procRuntime {
	cand := configured
	if cand == "" {
		if _, err := os.Stat("/usr/bin/python3"); err == nil {
			cand = "/usr/bin/python3"
		} else {
			cand = "python3"
		}
	}
	exe, err := exec.LookPath(cand)
	if err != nil {
		return unavailable(engine.RuntimePython, "python3 is not installed")
	}
	out, err := runOut(ctx, exe, "-I", "-S", "-c", "import sys,platform;print(sys.executable);print(sys.base_prefix);print(platform.python_version())")
	if err != nil {
		return unavailable(engine.RuntimePython, err.Error())
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 3 || lines[0] == "" {
		return unavailable(engine.RuntimePython, "python3 does not say where its interpreter is")
	}
	real, err := filepath.EvalSymlinks(strings.TrimSpace(lines[0]))
	if err != nil {
		return unavailable(engine.RuntimePython, "python3: "+err.Error())
	}
	rt := &procRuntime{exe: real, info: engine.RuntimeInfo{Name: engine.RuntimePython, Available: true,
		Version: "Python " + strings.TrimSpace(lines[2]), Sandbox: "bubblewrap", Entry: "handler.py"}}
	if prefix := strings.TrimSpace(lines[1]); outside(real) || outside(prefix) {
		rt.bind = append(rt.bind, sandbox.Bind{Src: prefix, Dst: prefix})
	}
	return rt
}

func detectGo(ctx context.Context, configured string) *procRuntime {
	exe, err := lookExe(configured, "go")
	if err != nil {
		return unavailable(engine.RuntimeGo, "go is not installed")
	}
	out, err := runOut(ctx, exe, "env", "GOROOT", "GOVERSION")
	if err != nil {
		return unavailable(engine.RuntimeGo, err.Error())
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 2 {
		return unavailable(engine.RuntimeGo, "go env does not say GOROOT and GOVERSION")
	}
	goroot, err := filepath.EvalSymlinks(strings.TrimSpace(lines[0]))
	if err != nil {
		return unavailable(engine.RuntimeGo, "go: "+err.Error())
	}
	version := strings.TrimSpace(lines[1])
	rt := &procRuntime{exe: filepath.Join(goroot, "bin", "go"), goroot: goroot, goVersion: version,
		info: engine.RuntimeInfo{Name: engine.RuntimeGo, Available: true, Version: version, Sandbox: "bubblewrap", Entry: "main.go"}}
	if outside(goroot) {
		rt.bind = append(rt.bind, sandbox.Bind{Src: goroot, Dst: goroot})
	}
	return rt
}
