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
		t             store.LoginThrottle
		locked, admit *time.Time
	)
	err := r.Scan(&t.Key, &t.Failures, timeScan{&t.LastFailureAt}, nullTimeScan{&locked}, nullTimeScan{&admit})
	if locked != nil {
		t.LockedUntil = *locked
	}
	if admit != nil {
		t.NextAdmission = *admit
	}
	return t, err
}

const loginThrottleCols = "throttle_key, failures, last_failure_at, locked_until, next_admission_at"

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

// lockThrottle makes sure key's row exists and locks it for the rest of
// tx (on PostgreSQL; SQLite serializes write transactions), so that
// concurrent attempts on key are serialized.
func (s *Store) lockThrottle(ctx context.Context, tx *sql.Tx, key string, now time.Time) (store.LoginThrottle, error) {
	// A concurrent reset may delete the row between the insert and the
	// locking read (PostgreSQL, read committed): insert again.
	for attempt := 0; ; attempt++ {
		if _, err := s.exec(ctx, tx, `INSERT INTO login_throttles (throttle_key, failures, last_failure_at, locked_until)
VALUES (?, 0, ?, NULL) ON CONFLICT (throttle_key) DO NOTHING`, key, now); err != nil {
			return store.LoginThrottle{}, err
		}
		cur, err := getOne(ctx, s, tx, scanLoginThrottle, "SELECT "+loginThrottleCols+" FROM login_throttles WHERE throttle_key = ?"+s.d.forUpdate(), key)
		if errors.Is(err, store.ErrNotFound) && attempt < 5 {
			continue
		}
		if err != nil {
			return store.LoginThrottle{}, err
		}
		if cur.Failures == 0 {
			cur.LastFailureAt = time.Time{} // fresh or reset row
		}
		return cur, nil
	}
}

// sortedKeys are the indexes of keys in key order: rows are locked in that
// order, so that two transactions on the same keys cannot deadlock on
// PostgreSQL.
func sortedKeys(keys []string) []int {
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	return order
}

func (s *Store) BeginLoginAttempt(ctx context.Context, id string, now time.Time, ttl time.Duration, keys []store.ThrottleKey) ([]store.LoginThrottle, bool, error) {
	now = now.UTC().Truncate(time.Microsecond)
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Key
	}
	var (
		states []store.LoginThrottle
		ok     bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		states, ok = make([]store.LoginThrottle, len(keys)), true
		for _, i := range sortedKeys(names) {
			cur, err := s.lockThrottle(ctx, tx, keys[i].Key, now)
			if err != nil {
				return err
			}
			if _, err := s.exec(ctx, tx, "DELETE FROM login_attempts WHERE throttle_key = ? AND expires_at <= ?", keys[i].Key, now); err != nil {
				return err
			}
			if err := tx.QueryRowContext(ctx, s.d.rebind("SELECT COUNT(*) FROM login_attempts WHERE throttle_key = ?"), keys[i].Key).Scan(&cur.InFlight); err != nil {
				return s.d.wrapErr(err)
			}
			states[i] = cur
			if !keys[i].Policy.Admits(cur, now) {
				ok = false
			}
		}
		if !ok {
			// Roll back: a refused attempt leaves no rows behind (not
			// even the fresh ones of keys it named).
			return errRefused
		}
		for i, k := range keys {
			// The attempt's turn on a throttle past its threshold.
			if at, _ := k.Policy.Admission(states[i], now); k.Policy.DelayOnly && at.After(now) {
				if err := s.execOne(ctx, tx, "UPDATE login_throttles SET next_admission_at = ? WHERE throttle_key = ?", at.UTC().Truncate(time.Microsecond), k.Key); err != nil {
					return err
				}
			}
			if _, err := s.exec(ctx, tx, "INSERT INTO login_attempts (attempt_id, throttle_key, expires_at) VALUES (?, ?, ?)", id, k.Key, now.Add(ttl)); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errRefused) {
		return states, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("begin login attempt: %w", err)
	}
	return states, ok, nil
}

// errRefused rolls back the transaction of a refused BeginLoginAttempt.
var errRefused = errors.New("attempt refused")

func (s *Store) SweepLoginThrottles(ctx context.Context, now time.Time, window time.Duration) (int, error) {
	now = now.UTC().Truncate(time.Microsecond)
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `DELETE FROM login_throttles
WHERE (locked_until IS NULL OR locked_until <= ?) AND (failures = 0 OR last_failure_at <= ?)`, now, now.Add(-window))
		if err != nil {
			return err
		}
		m, err := res.RowsAffected()
		if err != nil {
			return err
		}
		n = int(m)
		_, err = s.exec(ctx, tx, "DELETE FROM login_attempts WHERE expires_at <= ?", now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sweep login throttles: %w", err)
	}
	return n, nil
}

func (s *Store) EndLoginAttempt(ctx context.Context, id string, now time.Time, failed []store.ThrottleKey, reset []string) error {
	now = now.UTC().Truncate(time.Microsecond)
	// Failed and reset keys are visited in one key order (see sortedKeys).
	names := append([]string{}, reset...)
	for _, k := range failed {
		names = append(names, k.Key)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, i := range sortedKeys(names) {
			if i < len(reset) {
				if _, err := s.exec(ctx, tx, "DELETE FROM login_throttles WHERE throttle_key = ?", reset[i]); err != nil {
					return err
				}
				continue
			}
			k := failed[i-len(reset)]
			cur, err := s.lockThrottle(ctx, tx, k.Key, now)
			if err != nil {
				return err
			}
			out := k.Policy.Next(cur, now)
			var locked *time.Time
			if !out.LockedUntil.IsZero() {
				l := out.LockedUntil.UTC().Truncate(time.Microsecond)
				locked = &l
			}
			if err := s.execOne(ctx, tx, "UPDATE login_throttles SET failures = ?, last_failure_at = ?, locked_until = ? WHERE throttle_key = ?",
				out.Failures, out.LastFailureAt, locked, k.Key); err != nil {
				return err
			}
		}
		_, err := s.exec(ctx, tx, "DELETE FROM login_attempts WHERE attempt_id = ?", id)
		return err
	})
	if err != nil {
		return fmt.Errorf("end login attempt: %w", err)
	}
	return nil
}

func (s *Store) ResetLoginThrottle(ctx context.Context, key string) error {
	if _, err := s.exec(ctx, s.db, "DELETE FROM login_throttles WHERE throttle_key = ?", key); err != nil {
		return fmt.Errorf("reset login throttle: %w", err)
	}
	return nil
}

func (s *Store) RecordKnownSource(ctx context.Context, userID, source string, now time.Time, keep int) error {
	now = now.UTC().Truncate(time.Microsecond)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, `INSERT INTO login_sources (user_id, source, last_sign_in_at) VALUES (?, ?, ?)
ON CONFLICT (user_id, source) DO UPDATE SET last_sign_in_at = excluded.last_sign_in_at`, userID, source, now); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, `DELETE FROM login_sources WHERE user_id = ? AND source NOT IN
(SELECT source FROM login_sources WHERE user_id = ? ORDER BY last_sign_in_at DESC, source LIMIT ?)`, userID, userID, max(keep, 1))
		return err
	})
	if err != nil {
		return fmt.Errorf("record known source: %w", err)
	}
	return nil
}

func (s *Store) KnownSource(ctx context.Context, userID, source string, since time.Time) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.d.rebind("SELECT COUNT(*) FROM login_sources WHERE user_id = ? AND source = ? AND last_sign_in_at >= ?"),
		s.d.args([]any{userID, source, since})...).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("known source: %w", s.d.wrapErr(err))
	}
	return n > 0, nil
}
