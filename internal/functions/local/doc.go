// Package local is the embedded default functions engine (engine.Engine):
// it detects the runtimes of this machine, builds versions (go compiled by
// the machine's toolchain, node and python syntax-checked, each in a
// sandbox of package sandbox) into artifacts cached by the code's hash
// under DataDir, and runs node, python and go functions as sandboxed
// processes specialized from a warm pool of loaders (Fission's pattern): a
// cold start is the loading of the function's code into a loader already
// running. It owns the loaders (loader/), the frame protocol between the
// engine and them, the instances of each version with their concurrency,
// per-version and per-workspace caps, bounded queue, idle stop (scale to
// zero) and exit reasons. The wasm runtime is dispatched to package wasm.
//
// The sandboxed programs run as the sandbox's host user (nobody when the
// server is root), so DataDir and its parents must be searchable by others
// (New fails naming the directory that is not) and a runtime installed
// where nobody cannot read (pyenv under /root) is unavailable, saying so.
// New runs no build: the go build cache (Config.GoCache, shareable across
// data dirs) is bound writable into the build sandbox and filled by the
// builds themselves, the first go build on an empty cache compiling the
// standard library it needs (~30s on 2 cores); the go loader is compiled
// there too, on the first go build.
package local
