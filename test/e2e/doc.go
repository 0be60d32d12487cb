// Package e2e holds the end-to-end tests of the hks binary: TestMain
// builds ./cmd/hks once, and each test runs it as separate processes
// (server, admin tool and CLI) on loopback, drives it through the CLI and
// the HTTP API, and stops every process it started by its PID.
//
// With -short (make test-unit) every test skips; make test-e2e runs them.
// Tests whose server runs workspace control planes need the Kubernetes
// binaries of `make k8s-bins` and fail without them.
package e2e
