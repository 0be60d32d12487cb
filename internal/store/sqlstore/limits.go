package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	return get(ctx, s, "get login throttle", scanLoginThrottle, "SELECT "+loginThrottleCols+" FROM login_throttles WHERE throttle_key = ?", key)
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

func (s *Store) ReserveLoginAttempt(ctx context.Context, now time.Time, keys []store.ThrottleKey) ([]store.LoginThrottle, bool, error) {
	now = now.UTC().Truncate(time.Microsecond)
	// Rows are locked in key order, so that two transactions on the same
	// keys cannot deadlock on PostgreSQL.
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(keys[a].Key, keys[b].Key) })
	var (
		states []store.LoginThrottle
		ok     bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		states, ok = make([]store.LoginThrottle, len(keys)), true
		for _, i := range order {
			// A concurrent reset may delete the row between the insert and
			// the locking read (PostgreSQL, read committed): insert again.
			var cur store.LoginThrottle
			for attempt := 0; ; attempt++ {
				if _, err := s.exec(ctx, tx, `INSERT INTO login_throttles (throttle_key, failures, last_failure_at, locked_until)
VALUES (?, 0, ?, NULL) ON CONFLICT (throttle_key) DO NOTHING`, keys[i].Key, now); err != nil {
					return err
				}
				var err error
				cur, err = getOne(ctx, s, tx, scanLoginThrottle, "SELECT "+loginThrottleCols+" FROM login_throttles WHERE throttle_key = ?"+s.d.forUpdate(), keys[i].Key)
				if errors.Is(err, store.ErrNotFound) && attempt < 5 {
					continue
				}
				if err != nil {
					return err
				}
				break
			}
			if cur.Failures == 0 {
				cur.LastFailureAt = time.Time{} // fresh or refunded row
			}
			states[i] = cur
			if locked, _ := cur.Locked(now); locked {
				ok = false
			}
		}
		if !ok {
			return nil // the inserted fresh rows (failures 0) do no harm
		}
		for i, k := range keys {
			out := k.Policy.Next(states[i], now)
			var locked *time.Time
			if !out.LockedUntil.IsZero() {
				l := out.LockedUntil.UTC().Truncate(time.Microsecond)
				out.LockedUntil, locked = l, &l
			}
			if err := s.execOne(ctx, tx, "UPDATE login_throttles SET failures = ?, last_failure_at = ?, locked_until = ? WHERE throttle_key = ?",
				out.Failures, out.LastFailureAt, locked, k.Key); err != nil {
				return err
			}
			states[i] = out
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("reserve login attempt: %w", err)
	}
	return states, ok, nil
}

func (s *Store) RefundLoginAttempt(ctx context.Context, key string) error {
	if _, err := s.exec(ctx, s.db, "UPDATE login_throttles SET failures = failures - 1, locked_until = NULL WHERE throttle_key = ? AND failures > 0", key); err != nil {
		return fmt.Errorf("refund login attempt: %w", err)
	}
	return nil
}

func (s *Store) ResetLoginThrottle(ctx context.Context, key string) error {
	if _, err := s.exec(ctx, s.db, "DELETE FROM login_throttles WHERE throttle_key = ?", key); err != nil {
		return fmt.Errorf("reset login throttle: %w", err)
	}
	return nil
}
