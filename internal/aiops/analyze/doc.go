// Package analyze owns the deterministic analyzers of the assistant: small
// rules over the objects of a project or a workspace (pods, workloads,
// Services, quotas, storage, autoscalers, events and the platform's own
// CronJob run history) that turn what Kubernetes reports into findings,
// each with a severity, the objects concerned, the evidence (the events,
// conditions and container states it rests on, quoted and bounded) and a
// concrete suggested fix. No model is involved: the same objects give the
// same findings, in the same order.
//
// Collect lists the objects with the caller's own client, so the cluster's
// RBAC decides what is seen: a kind the caller may not list is recorded in
// Snapshot.Skipped and the analyzers that need it conclude nothing from its
// absence; so is a list cut short by Collect's bounds (2,000 objects of
// a kind per namespace, 20,000 in all). Run runs the analyzers (All, or those named) over a Snapshot and
// returns an api.Diagnosis. Ages are measured from Snapshot.Now, never from
// the wall clock. Evidence never quotes Secret data (Secrets are not read)
// and each line is cut at about 300 characters.
//
// The package depends only on internal/api (the wire types), internal/store
// (the CronJob run records), internal/cronexpr (schedules read as the
// CronJob controller reads them), the Kubernetes libraries and
// golang.org/x/sync (Collect's bounded concurrency).
package analyze
