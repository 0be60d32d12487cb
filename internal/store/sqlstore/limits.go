package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// Login throttles.

func scanLoginThrottle(r rowScanner) (store.LoginThrottle, error) {
	var (
		t      store.LoginThrottle
		locked *time.Time
	)
	err := r.Scan(&t.Key, &t.Failures, timeScan{&t.LastFailureAt}, nullTimeScan{&locked})
	if locked != nil {
		t.LockedUntil = *locked
	}
	return t, err
}

const loginThrottleCols = "throttle_key, failures, last_failure_at, locked_until"

func (s *Store) GetLoginThrottle(ctx context.Context, key string) (store.LoginThrottle, error) {
	t, err := getOne(ctx, s, s.db, scanLoginThrottle, "SELECT "+loginThrottleCols+" FROM login_throttles WHERE throttle_key = ?", key)
	if err != nil {
		return store.LoginThrottle{}, fmt.Errorf("get login throttle: %w", err)
	}
	return t, nil
}

func (s *Store) RecordLoginFailure(ctx context.Context, key string, now time.Time, p store.LockoutPolicy) (store.LoginThrottle, error) {
	var out store.LoginThrottle
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Make sure the row exists, so that the locking read below
		// serializes concurrent failures on PostgreSQL too.
		if _, err := s.exec(ctx, tx, `INSERT INTO login_throttles (throttle_key, failures, last_failure_at, locked_until)
VALUES (?, 0, ?, NULL) ON CONFLICT (throttle_key) DO NOTHING`, key, now); err != nil {
			return err
		}
		cur, err := getOne(ctx, s, tx, scanLoginThrottle, "SELECT "+loginThrottleCols+" FROM login_throttles WHERE throttle_key = ?"+s.d.forUpdate(), key)
		if err != nil {
			return err
		}
		if cur.Failures == 0 {
			cur.LastFailureAt = time.Time{} // fresh row
		}
		out = p.Next(cur, now.UTC().Truncate(time.Microsecond))
		var locked *time.Time
		if !out.LockedUntil.IsZero() {
			l := out.LockedUntil.UTC().Truncate(time.Microsecond)
			out.LockedUntil, locked = l, &l
		}
		return s.execOne(ctx, tx, "UPDATE login_throttles SET failures = ?, last_failure_at = ?, locked_until = ? WHERE throttle_key = ?",
			out.Failures, out.LastFailureAt, locked, key)
	})
	if err != nil {
		return store.LoginThrottle{}, fmt.Errorf("record login failure: %w", err)
	}
	return out, nil
}

func (s *Store) ResetLoginThrottle(ctx context.Context, key string) error {
	if _, err := s.exec(ctx, s.db, "DELETE FROM login_throttles WHERE throttle_key = ?", key); err != nil {
		return fmt.Errorf("reset login throttle: %w", err)
	}
	return nil
}
