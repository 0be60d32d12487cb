package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/hexabase/hexabase-ai/internal/store"
)

// Store is a store.Store backed by SQLite or PostgreSQL.
type Store struct {
	db  *sql.DB
	d   dialect
	log *slog.Logger
}

var _ store.Store = (*Store)(nil)

// sqlitePragmas are applied by the driver to every pooled connection.
// busy_timeout comes first (the driver orders it so) so that the others wait
// for a lock held by another process instead of failing. WAL is not among
// them: enableWAL sets it once in the file. _txlock=immediate
// makes every read-write transaction take the write lock at BEGIN, so two
// transactions never both read and then deadlock upgrading to write.
const sqlitePragmas = "_pragma=busy_timeout(10000)" +
	"&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(NORMAL)" +
	"&_txlock=immediate"

// sqliteWALPragmas open the single connection that switches a file to WAL.
const sqliteWALPragmas = "_pragma=busy_timeout(10000)"

// enableWAL switches the database file to write-ahead logging before the pool
// opens. The mode is stored in the file, so every later connection finds it
// set. Switching needs an exclusive lock, and two processes (or two Opens)
// switching a new file at once can be refused SQLITE_BUSY without the busy
// timeout being consulted, because SQLite will not let two shared-lock
// holders wait on each other; so a refusal is retried until ctx or the
// deadline ends.
func enableWAL(ctx context.Context, dsn string) error {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(10 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		var mode string
		err = db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("journal_mode is %q, want wal", mode)
			}
			return nil
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Open connects to the database named by dsn and applies pending migrations.
// A dsn starting with postgres:// or postgresql:// selects PostgreSQL;
// anything else is a SQLite file path, optionally prefixed with sqlite://.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		return nil, errors.New("sqlstore: nil logger")
	}
	if dsn == "" {
		return nil, errors.New("sqlstore: empty dsn")
	}
	s := &Store{log: logger}
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: parse postgres dsn: %w", err)
		}
		s.d = dialectPostgres
		s.db = stdlib.OpenDB(*cfg)
		s.db.SetMaxOpenConns(16)
		s.db.SetMaxIdleConns(8)
	default:
		path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
		if path == "" {
			return nil, errors.New("sqlstore: empty sqlite path")
		}
		memory := path == ":memory:" || strings.Contains(path, "mode=memory")
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		if !memory {
			if err := enableWAL(ctx, path+sep+sqliteWALPragmas); err != nil {
				return nil, fmt.Errorf("sqlstore: connect %s: %w", dialectSQLite, err)
			}
		}
		db, err := sql.Open("sqlite", path+sep+sqlitePragmas)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
		}
		s.d = dialectSQLite
		s.db = db
		if memory {
			// Every connection to ":memory:" is a separate database.
			db.SetMaxOpenConns(1)
			db.SetMaxIdleConns(1)
			db.SetConnMaxLifetime(0)
			db.SetConnMaxIdleTime(0)
		} else {
			db.SetMaxOpenConns(8)
			db.SetMaxIdleConns(8)
		}
	}
	if err := s.db.PingContext(ctx); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("sqlstore: connect %s: %w", s.d, err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("sqlstore: migrate %s: %w", s.d, err)
	}
	return s, nil
}

// DB returns the underlying pool, for diagnostics and tests.
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// querier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	res, err := q.ExecContext(ctx, s.d.rebind(query), s.d.args(args)...)
	return res, s.d.wrapErr(err)
}

// execOne runs a statement that must affect exactly one row; none means
// ErrNotFound.
func (s *Store) execOne(ctx context.Context, q querier, query string, args ...any) error {
	res, err := s.exec(ctx, q, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// write runs a statement on the database with its error wrapped as op.
func (s *Store) write(ctx context.Context, op, query string, args ...any) error {
	if _, err := s.exec(ctx, s.db, query, args...); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// writeOne is execOne on the database with its error wrapped as op.
func (s *Store) writeOne(ctx context.Context, op, query string, args ...any) error {
	if err := s.execOne(ctx, s.db, query, args...); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// inTxAs is inTx with its error wrapped as op.
func (s *Store) inTxAs(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	if err := s.inTx(ctx, fn); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// count runs a SELECT COUNT(*) query with its error wrapped as op.
func (s *Store) count(ctx context.Context, op, query string, args ...any) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.d.rebind(query), s.d.args(args)...).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", op, s.d.wrapErr(err))
	}
	return n, nil
}

// getOne runs a single-row query and scans it; no row means ErrNotFound.
func getOne[T any](ctx context.Context, s *Store, q querier, scan func(rowScanner) (T, error), query string, args ...any) (T, error) {
	row := q.QueryRowContext(ctx, s.d.rebind(query), s.d.args(args)...)
	v, err := scan(row)
	return v, s.d.wrapErr(err)
}

// get is getOne on the database with its error wrapped as op.
func get[T any](ctx context.Context, s *Store, op string, scan func(rowScanner) (T, error), query string, args ...any) (T, error) {
	v, err := getOne(ctx, s, s.db, scan, query, args...)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", op, err)
	}
	return v, nil
}

// list is getPage with its error wrapped as op.
func list[T any](ctx context.Context, s *Store, op string, p store.Page, scan func(rowScanner) (T, error), key func(T) string, query string, args ...any) ([]T, string, error) {
	items, next, err := getPage(ctx, s, p, scan, key, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", op, err)
	}
	return items, next, nil
}

// all is getAll on the database with its error wrapped as op.
func all[T any](ctx context.Context, s *Store, op string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	items, err := getAll(ctx, s, s.db, scan, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return items, nil
}

// getAll runs a query and scans every row. It never returns a nil slice, so
// that empty lists encode as [] rather than null.
func getAll[T any](ctx context.Context, s *Store, q querier, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, s.d.rebind(query), s.d.args(args)...)
	if err != nil {
		return nil, s.d.wrapErr(err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.d.wrapErr(err)
	}
	return out, nil
}

// getPage runs a keyset-paginated query. query must end with
// "AND <key> > ? ORDER BY <key> LIMIT ?"; getPage appends the decoded cursor
// and limit+1 to args, and returns the page and the cursor of the next one
// ("" when this is the last page).
func getPage[T any](ctx context.Context, s *Store, p store.Page, scan func(rowScanner) (T, error), key func(T) string, query string, args ...any) ([]T, string, error) {
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return nil, "", err
	}
	limit := p.EffectiveLimit()
	args = append(args, after, limit+1)
	items, err := getAll(ctx, s, s.db, scan, query, args...)
	if err != nil {
		return nil, "", err
	}
	items, next := cutPage(items, limit, key)
	return items, next, nil
}

// newestFirst reads a page of newest rows first: query, whose conditions
// already hold "id < ?" for the cursor when there is one, is ordered by id
// descending and read with one row more than limit. Errors are wrapped as op.
func newestFirst[T any](ctx context.Context, s *Store, op string, limit int, scan func(rowScanner) (T, error), key func(T) string, query string, args ...any) ([]T, string, error) {
	items, err := all(ctx, s, op, scan, query+" ORDER BY id DESC LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	items, next := cutPage(items, limit, key)
	return items, next, nil
}

// cutPage cuts items, read with one row more than limit, to limit and
// returns the cursor of the next page, "" when this is the last.
func cutPage[T any](items []T, limit int, key func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, store.EncodeCursor(key(items[limit-1]))
}

// inTx runs fn in a read-write transaction (BEGIN IMMEDIATE on SQLite).
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.d.wrapErr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return s.d.wrapErr(tx.Commit())
}

// casUpdate is the compare-and-swap behind every UpdateX(id, update): in
// one transaction it locks (lock, then a row lock on PostgreSQL; SQLite's
// IMMEDIATE transaction holds the only write lock) and reads the row, calls
// update with it, and hands old and new to write, which stores the new row
// with the version one higher and the identity fields (id, owner,
// created_at) of old, and returns what it stored. An error of update
// aborts the transaction and comes back wrapped as op.
func casUpdate[T any](ctx context.Context, s *Store, op string, scan func(rowScanner) (T, error), query, id string,
	update func(T) (T, error), write func(tx *sql.Tx, old, next T) (T, error), lock func(*sql.Tx) error) (T, error) {
	var out T
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if lock != nil {
			if err := lock(tx); err != nil {
				return err
			}
		}
		old, err := getOne(ctx, s, tx, scan, query+s.d.forUpdate(), id)
		if err != nil {
			return err
		}
		next, err := update(old)
		if err != nil {
			return err
		}
		out, err = write(tx, old, next)
		return err
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// lockedRow reads the row query selects by key, locked for update (SQLite's
// IMMEDIATE transaction holds the only write lock), and calls write with
// it in the same transaction. It returns the row as read, also when write
// fails; errors are wrapped as op.
func lockedRow[T any](ctx context.Context, s *Store, op string, scan func(rowScanner) (T, error), query string, key any, write func(tx *sql.Tx, row T) error) (T, error) {
	var row T
	err := s.inTxAs(ctx, op, func(tx *sql.Tx) error {
		var err error
		if row, err = getOne(ctx, s, tx, scan, query+s.d.forUpdate(), key); err != nil {
			return err
		}
		return write(tx, row)
	})
	return row, err
}

// exists reports whether query returns a row.
func (s *Store) exists(ctx context.Context, q querier, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, s.d.rebind(query), s.d.args(args)...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, s.d.wrapErr(err)
	}
	return true, nil
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// anys converts a []string into query arguments.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, v := range ss {
		out[i] = v
	}
	return out
}
