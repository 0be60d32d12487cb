package store

import (
	"context"
	"time"
)

// AuditStore holds the append-only audit log. There is no way to
// change or remove a record: the backends also refuse UPDATE and DELETE on
// the table itself, and records do not reference other tables, so they
// outlive the users and organizations they mention.
type AuditStore interface {
	// AppendAudit adds a record; ErrConflict if its ID exists.
	AppendAudit(ctx context.Context, r AuditRecord) error
	// ListAudit lists the records matching f, newest first (by ID
	// descending; IDs are time-ordered).
	ListAudit(ctx context.Context, f AuditFilter, p Page) ([]AuditRecord, string, error)
}

// Audit results.
const (
	AuditSuccess = "success"
	AuditFailure = "failure"
	AuditDenied  = "denied"
)

// AuditRecord is one entry of the audit log. Optional fields are "".
type AuditRecord struct {
	ID   string
	Time time.Time
	// ActorID is the user who acted ("" when anonymous, such as a failed
	// login); ActorEmail is their email, or the email an anonymous caller
	// tried to sign in as.
	ActorID    string
	ActorEmail string
	OrgID      string
	Action     string // stable name, such as "workspace.create" or "auth.login.failed"
	TargetType string
	TargetID   string
	Result     string // AuditSuccess, AuditFailure or AuditDenied
	Status     int    // HTTP status of the answer
	IP         string
	UserAgent  string
	RequestID  string
	Detail     string
}

// AuditFilter selects audit records; zero fields match everything, set
// fields must all match.
type AuditFilter struct {
	OrgID      string
	ActorID    string
	ActorEmail string // case-insensitive
	// Subject, with SubjectEmail, selects a user's own records: those whose
	// actor is Subject, and anonymous ones (ActorID "") that name
	// SubjectEmail (case-insensitive), such as failed logins as that user.
	Subject      string
	SubjectEmail string
	Action       string
	ActionPrefix string
	Result       string
	TargetType   string
	TargetID     string
	RequestID    string
	Since        time.Time // inclusive; zero: no lower bound
	Until        time.Time // exclusive; zero: no upper bound
}
