// Package tasks owns the durable task queue: work that takes time
// (provisioning, deletion, backups, restores, builds) is a row in the
// database (the record, with status, attempts and a human-readable reason)
// and a message on the JetStream work-queue stream TASKS (the delivery).
// Delivery is at least once; handlers must be idempotent. A handler error
// is retried with backoff until it succeeds, returns a Permanent error, or
// runs out of attempts, which makes the task failed with the error text as
// its reason. Every status change is published as a "task.status" event.
// After a crash, unacknowledged messages are redelivered and a recovery
// sweep re-publishes rows whose message never reached the stream.
package tasks
