package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// This file holds every difference between the two SQL dialects. The rest of
// the package writes portable SQL with "?" placeholders and passes Go values;
// the dialect rebinds placeholders, converts time arguments, maps driver
// errors onto the store's sentinels, and adds row locks where the engine has
// them.

type dialect int

const (
	dialectSQLite dialect = iota + 1
	dialectPostgres
)

func (d dialect) String() string {
	switch d {
	case dialectSQLite:
		return "sqlite"
	case dialectPostgres:
		return "postgres"
	}
	return "unknown"
}

// sqliteTimeLayout is fixed-width so that text comparison orders like time.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// rebind turns "?" placeholders into "$1", "$2", … for PostgreSQL. Queries in
// this package never contain "?" inside string literals.
func (d dialect) rebind(query string) string {
	if d != dialectPostgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// args converts Go values into what the driver stores: times in UTC with
// microsecond precision (fixed-width text on SQLite, timestamptz on
// PostgreSQL) and nil *time.Time as NULL.
func (d dialect) args(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			out[i] = d.timeArg(v)
		case *time.Time:
			if v == nil {
				out[i] = nil
			} else {
				out[i] = d.timeArg(*v)
			}
		default:
			out[i] = a
		}
	}
	return out
}

func (d dialect) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if d == dialectSQLite {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// forUpdate is the row-lock suffix for a SELECT inside a write transaction.
// SQLite needs none: write transactions begin IMMEDIATE and so hold the
// database's single write lock from the start.
func (d dialect) forUpdate() string {
	if d == dialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// isConflict reports whether err is a unique or foreign-key violation.
func (d dialect) isConflict(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505", "23503": // unique_violation, foreign_key_violation
			return true
		}
		return false
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE,
			sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY,
			sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return true
		}
	}
	return false
}

// timeScan scans a timestamp column from either dialect into a UTC time.
type timeScan struct{ t *time.Time }

func (s timeScan) Scan(src any) error {
	t, err := parseTime(src)
	if err != nil {
		return err
	}
	*s.t = t
	return nil
}

// nullTimeScan scans a nullable timestamp column into a *time.Time.
type nullTimeScan struct{ t **time.Time }

func (s nullTimeScan) Scan(src any) error {
	if src == nil {
		*s.t = nil
		return nil
	}
	t, err := parseTime(src)
	if err != nil {
		return err
	}
	*s.t = &t
	return nil
}

func parseTime(src any) (time.Time, error) {
	switch v := src.(type) {
	case time.Time:
		return v.UTC().Truncate(time.Microsecond), nil
	case string:
		return parseTimeText(v)
	case []byte:
		return parseTimeText(string(v))
	}
	return time.Time{}, fmt.Errorf("scan time: unsupported type %T", src)
}

func parseTimeText(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("scan time: %w", err)
	}
	return t.UTC().Truncate(time.Microsecond), nil
}

// nullString stores "" as NULL (optional references).
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// stringScan scans a nullable text column, NULL becoming "".
type stringScan struct{ s *string }

func (s stringScan) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.s = ""
	case string:
		*s.s = v
	case []byte:
		*s.s = string(v)
	default:
		return fmt.Errorf("scan string: unsupported type %T", src)
	}
	return nil
}

// bytesScan scans a blob column; empty becomes nil on both dialects.
type bytesScan struct{ b *[]byte }

func (s bytesScan) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.b = nil
	case []byte:
		if len(v) == 0 {
			*s.b = nil
		} else {
			*s.b = append([]byte(nil), v...)
		}
	case string:
		if v == "" {
			*s.b = nil
		} else {
			*s.b = []byte(v)
		}
	default:
		return fmt.Errorf("scan bytes: unsupported type %T", src)
	}
	return nil
}

// blob stores nil as an empty blob in NOT NULL columns.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// wrapErr maps driver errors onto the store's sentinels.
func (d dialect) wrapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) ||
		errors.Is(err, store.ErrCycle) || errors.Is(err, store.ErrInvalidCursor) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if d.isConflict(err) {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var sqErr *sqlite.Error
	return errors.As(err, &sqErr) && sqErr.Code()&0xff == sqlite3.SQLITE_BUSY
}
