// Package triggers owns the cron and event triggers of functions: their
// REST API (…/functions/{function}/triggers, …/events/{topic},
// …/functions/{function}/deadletters), the durable firing of schedules and
// the delivery of a project's events to the functions subscribed to them.
//
// Cron: the platform fires schedules itself (no Kubernetes CronJob). A
// scheduler loop in each process finds triggers whose next_fire_at is due,
// records each fire in function_cron_fires (the primary key (trigger,
// scheduled minute) is what makes a fire happen once, whatever the number
// of schedulers or restarts) and enqueues a "function.cron" task on the
// durable task queue (package tasks), whose handler invokes the function
// with an invocation id derived from the fire, so a redelivered task never
// runs a fire twice. A fire recorded but never enqueued (a crash in
// between) is found by the scheduler's recovery sweep and enqueued then.
// Missed fires after downtime: see Config.StartingDeadline. A fire's
// request is POST "/" with headers X-Hks-Trigger (the trigger's name) and
// X-Hks-Scheduled-At (RFC 3339, UTC) and no body.
//
// Events: publishing puts the event on the JetStream stream FNEVENTS
// (subject fnevents.<project id>.<topic>, the event id as Nats-Msg-Id, so a
// repeated publish of one event id is dropped); each event trigger has a
// durable consumer filtered on its subject, made with the trigger and
// deleted with it (and reconciled with the store at start and periodically,
// which removes the consumers of deleted functions). Delivery is at least
// once; each attempt is an invocation with an id derived from the event,
// the trigger and the attempt, so a redelivery never runs a recorded
// attempt again. A failed invocation is retried with backoff up to
// MaxAttempts in all (a call the function never took, such as a busy
// one, counts too), then the event is written as a dead letter and
// terminated. An event's request is POST "/" with headers X-Hks-Topic and
// X-Hks-Event-Id and the payload as its body.
//
// The functions themselves are reached through the Functions interface,
// which package functions' Service implements (the lead's wiring adapts
// its Ref type).
package triggers
