// Package sqlstore implements store.Store over database/sql for SQLite
// (modernc.org/sqlite, the embedded default) and PostgreSQL (pgx v5).
//
// Open picks the dialect from the DSN: postgres:// or postgresql:// URLs
// select PostgreSQL; anything else is a SQLite file path, optionally written
// sqlite://PATH (":memory:" works, on a single connection). A SQLite file is
// switched to WAL once at Open (retried while another opener holds the lock);
// connections all get busy_timeout, foreign_keys and synchronous=NORMAL
// through DSN pragmas, and read-write transactions begin IMMEDIATE, so the
// file can be shared with another process (hks admin create-user).
//
// Both dialects run the same SQL and the same migrations (migrations/*.sql,
// applied at Open). dialect.go is the one place where they differ:
// placeholder rebinding, time encoding, constraint-error mapping and row
// locks.
//
// Schema notes: emails are matched through an email_lower column filled in
// Go, so case-insensitivity is identical on both engines. Deleting an
// organization or a workspace cascades through foreign keys; a project or
// group with children cannot be deleted. Tasks keep their org_id without a
// foreign key, so a task's record outlives the organization it acted on.
// The assistant's chats, messages and plans cascade from their
// organization, workspace, project and user; the usage ledger, like the
// audit log, references nothing and outlives them all. A chat's message
// numbers come from its row's next_seq, taken under the row's lock.
// Lists are keyset-paginated by id (members by user id) with the opaque
// cursors of store.EncodeCursor.
package sqlstore
