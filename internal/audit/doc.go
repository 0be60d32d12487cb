// Package audit owns the platform's append-only audit log: an HTTP
// middleware that records every mutating request (including refused and
// anonymous ones such as failed logins) with its actor, organization,
// action, target, result, source IP, user agent and request id; context
// helpers through which handlers enrich the record (SetActor, SetTarget,
// SetAction); and the read endpoints
// GET /api/v1/organizations/{org}/audit and GET /auth/security-logs.
//
// Records are stored through store.AuditStore, which offers append and list
// only; the database itself refuses to update or delete them.
package audit
