// Package wasm runs functions of the wasm runtime: WASI preview 1 command
// modules (for example GOOS=wasip1 GOARCH=wasm go build) executed
// in-process by wazero.
//
// It owns the wazero runtime, the compiled modules (an LRU in memory of at
// most Config.MaxCompiled, backed by wazero's on-disk compilation cache),
// the per-version concurrency limit with its bounded wait, and the handler
// contract of the runtime: the request JSON is the module's stdin, its
// stdout the response JSON (stdout that is not a response object is the
// body, status 200), its stderr the invocation's logs.
//
// Every invocation is a fresh instance of the module: nothing survives
// between calls. An instance sees the version's environment, the argument
// list ["fn"], the wall clock, a monotonic clock and crypto/rand; it has no
// file system and no sockets. Its linear memory is capped at the version's
// memory limit, and it is closed when its timeout passes. Why an
// invocation failed (timeout, oom, error) is told by the runner, not
// guessed from the module's output: a memory growth refused at the cap
// followed by a failure is oom.
//
// The package imports internal/functions/engine for its types only; the
// local engine dispatches the wasm runtime here.
package wasm
