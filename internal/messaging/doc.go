// Package messaging owns the platform's connection to NATS JetStream: it
// starts the embedded nats-server (the default: in-process, JetStream on
// files under the data dir, no TCP listener unless asked for a loopback one)
// or connects to an external NATS cluster (--nats-url), reports readiness
// for /readyz, and shuts the connection and the server down cleanly. It
// also validates the subject tokens the platform builds from identifiers,
// so that no tenant-influenced string can smuggle a wildcard or an extra
// token into a subject. Streams and consumers belong to their users
// (package tasks, package events).
package messaging
