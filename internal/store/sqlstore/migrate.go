package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migrations are numbered SQL files, NNNN_name.sql, applied in order, each in
// its own transaction and recorded in schema_migrations. A file named
// NNNN_name.sqlite.sql or NNNN_name.postgres.sql replaces the shared one of
// the same number for that dialect only; use one only where the SQL cannot be
// shared. Never edit a migration that has been released: add a new one.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrationLockKey is the PostgreSQL advisory lock held while migrating, so
// that two processes opening the same database do not race.
const migrationLockKey = 0x68_6b_73_6d_69_67 // "hksmig"

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the migrations for d, ordered by version.
func (d dialect) migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	shared := map[int]migration{}
	specific := map[int]migration{}
	for _, e := range entries {
		file := e.Name()
		base := strings.TrimSuffix(file, ".sql")
		target := shared
		if i := strings.LastIndexByte(base, '.'); i >= 0 {
			if base[i+1:] != d.String() {
				continue
			}
			target = specific
			base = base[:i]
		}
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", file)
		}
		if _, dup := target[v]; dup {
			return nil, fmt.Errorf("migration %s: duplicate version %d", file, v)
		}
		b, err := migrationFS.ReadFile("migrations/" + file)
		if err != nil {
			return nil, err
		}
		target[v] = migration{version: v, name: base, sql: string(b)}
	}
	byVersion := shared
	for v, m := range specific {
		byVersion[v] = m
	}
	out := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	return out, nil
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := s.d.migrations()
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()

	if s.d == dialectPostgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockKey)); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		defer func() {
			_, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLockKey))
			if err != nil {
				// The lock dies with the session: drop the connection.
				s.log.Warn("release migration lock", "err", err)
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}

	// On SQLite every transaction here begins IMMEDIATE, which serializes
	// concurrent migrators on the database's write lock.
	err = s.migrationTx(ctx, conn, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}

	var newest sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&newest); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if len(ms) > 0 && newest.Valid && int(newest.Int64) > ms[len(ms)-1].version {
		return fmt.Errorf("database schema version %d is newer than this binary's %d", newest.Int64, ms[len(ms)-1].version)
	}

	for _, m := range ms {
		applied := false
		err := s.migrationTx(ctx, conn, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, s.d.rebind("SELECT COUNT(*) FROM schema_migrations WHERE version = ?"), m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, s.d.rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
				s.d.args([]any{m.version, m.name, time.Now()})...)
			applied = err == nil
			return err
		})
		if err != nil {
			return fmt.Errorf("apply %s: %w", m.name, err)
		}
		if applied {
			s.log.Info("applied migration", "dialect", s.d.String(), "version", m.version, "name", m.name)
		}
	}
	return nil
}

func (s *Store) migrationTx(ctx context.Context, conn *sql.Conn, fn func(*sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
