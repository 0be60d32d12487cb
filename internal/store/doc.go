// Package store owns the platform's persistent state: the Store interface,
// the record types it moves, and the sentinel errors every backend maps its
// driver errors onto. Backends live in sub-packages (sqlstore for SQLite and
// PostgreSQL); the conformance suite in storetest runs against each of them.
package store
