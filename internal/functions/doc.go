// Package functions is the functions service: functions of projects with
// immutable versions, aliases with traffic splits, rollbacks and sealed
// secrets (kept in the store), the REST API under a project, the HTTP
// trigger at <externalURL>/fn/{org}/{workspace}/{project}/{function}, test
// and asynchronous invocations (a task of the durable queue), the record
// of every invocation with its logs (live over NATS), metering into the
// usage ledger, and the loop that deletes expired functions and old
// invocation records. It runs code only through an engine.Engine, and
// offers Ref, FunctionByName and InvokeAs to the triggers.
package functions
