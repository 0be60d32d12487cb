// Package engine owns running functions: the Engine interface the
// functions service calls (build, invoke, instances), the runtimes it
// detects, and the local engine of the embedded default, which runs the
// node, python and go runtimes as sandboxed processes (package sandbox)
// specialized from a warm pool of loaders, and wasm modules in-process
// with wazero (package wasm). Nothing runs for a version nobody calls.
package engine
