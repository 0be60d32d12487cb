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
package local
