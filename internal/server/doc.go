// Package server assembles the platform: it opens the store, the master key
// and NATS, builds every domain service with its dependencies, mounts their
// routes on one API and runs the HTTP server and the task workers as one
// group until the context ends, then shuts them down in order.
package server
