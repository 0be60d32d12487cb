package store

// AuditStore holds the append-only audit log (issue 3).
type AuditStore interface {
}
