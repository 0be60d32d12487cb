package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// TOTP enrolments, backup codes and second-factor challenges.

const mfaCols = "user_id, secret, enabled_at, last_step, created_at, updated_at"

func scanMFA(r rowScanner) (store.MFA, error) {
	var m store.MFA
	err := r.Scan(&m.UserID, bytesScan{&m.Secret}, nullTimeScan{&m.EnabledAt}, &m.LastStep, timeScan{&m.CreatedAt}, timeScan{&m.UpdatedAt})
	return m, err
}

func (s *Store) GetMFA(ctx context.Context, userID string) (store.MFA, error) {
	return get(ctx, s, "get mfa", scanMFA, "SELECT "+mfaCols+" FROM user_mfa WHERE user_id = ?", userID)
}

func (s *Store) PutPendingMFA(ctx context.Context, m store.MFA) error {
	return s.inTxAs(ctx, "put pending mfa", func(tx *sql.Tx) error {
		cur, err := getOne(ctx, s, tx, scanMFA, "SELECT "+mfaCols+" FROM user_mfa WHERE user_id = ?"+s.d.forUpdate(), m.UserID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			_, err = s.exec(ctx, tx, "INSERT INTO user_mfa ("+mfaCols+") VALUES (?, ?, NULL, 0, ?, ?)",
				m.UserID, blob(m.Secret), m.CreatedAt, m.UpdatedAt)
			return err
		case err != nil:
			return err
		case cur.EnabledAt != nil:
			return fmt.Errorf("%w: two-factor authentication is enabled", store.ErrConflict)
		}
		return s.execOne(ctx, tx, "UPDATE user_mfa SET secret = ?, last_step = 0, created_at = ?, updated_at = ? WHERE user_id = ? AND enabled_at IS NULL",
			blob(m.Secret), m.CreatedAt, m.UpdatedAt, m.UserID)
	})
}

func (s *Store) EnableMFA(ctx context.Context, userID string, step int64, codeHashes []string, now time.Time) error {
	return s.inTxAs(ctx, "enable mfa", func(tx *sql.Tx) error {
		cur, err := getOne(ctx, s, tx, scanMFA, "SELECT "+mfaCols+" FROM user_mfa WHERE user_id = ?"+s.d.forUpdate(), userID)
		if err != nil {
			return err
		}
		if cur.EnabledAt != nil {
			return fmt.Errorf("%w: two-factor authentication is enabled already", store.ErrConflict)
		}
		if err := s.execOne(ctx, tx, "UPDATE user_mfa SET enabled_at = ?, last_step = ?, updated_at = ? WHERE user_id = ? AND enabled_at IS NULL",
			now, step, now, userID); err != nil {
			return err
		}
		return s.replaceBackupCodes(ctx, tx, userID, codeHashes, now)
	})
}

func (s *Store) UseMFAStep(ctx context.Context, userID string, step int64) error {
	return s.consumeOnce(ctx, "use mfa step", "step already used", "SELECT 1 FROM user_mfa WHERE user_id = ?", userID,
		"UPDATE user_mfa SET last_step = ? WHERE user_id = ? AND last_step < ?", step, userID, step)
}

// consumeOnce runs update, which marks the row named by key as used and
// changes no row when it is used already: then the row is ErrNotFound when
// exists finds no row for key, and ErrConflict (with the message used) when
// it does. Errors are wrapped as op.
func (s *Store) consumeOnce(ctx context.Context, op, used, exists string, key any, update string, args ...any) error {
	res, err := s.exec(ctx, s.db, update, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	} else if n == 1 {
		return nil
	}
	ok, err := s.exists(ctx, s.db, exists, key)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if !ok {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return fmt.Errorf("%s: %w: %s", op, store.ErrConflict, used)
}

func (s *Store) DeleteMFA(ctx context.Context, userID string) error {
	return s.inTxAs(ctx, "delete mfa", func(tx *sql.Tx) error {
		if err := s.execOne(ctx, tx, "DELETE FROM user_mfa WHERE user_id = ?", userID); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, "DELETE FROM mfa_backup_codes WHERE user_id = ?", userID)
		return err
	})
}

func (s *Store) ReplaceBackupCodes(ctx context.Context, userID string, codeHashes []string, now time.Time) error {
	if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.replaceBackupCodes(ctx, tx, userID, codeHashes, now) }); err != nil {
		return fmt.Errorf("replace backup codes: %w", err)
	}
	return nil
}

func (s *Store) replaceBackupCodes(ctx context.Context, tx *sql.Tx, userID string, codeHashes []string, now time.Time) error {
	if _, err := s.exec(ctx, tx, "DELETE FROM mfa_backup_codes WHERE user_id = ?", userID); err != nil {
		return err
	}
	for _, h := range codeHashes {
		if _, err := s.exec(ctx, tx, "INSERT INTO mfa_backup_codes (user_id, code_hash, created_at, used_at) VALUES (?, ?, ?, NULL)",
			userID, h, now); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) UseBackupCode(ctx context.Context, userID, codeHash string, now time.Time) error {
	return s.writeOne(ctx, "use backup code", "UPDATE mfa_backup_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL",
		now, userID, codeHash)
}

func (s *Store) CountBackupCodes(ctx context.Context, userID string) (int, error) {
	return s.count(ctx, "count backup codes", "SELECT COUNT(*) FROM mfa_backup_codes WHERE user_id = ? AND used_at IS NULL", userID)
}

const mfaChallengeCols = "token_hash, user_id, method, fingerprint, attempts, created_at, expires_at, used_at"

func scanMFAChallenge(r rowScanner) (store.MFAChallenge, error) {
	var c store.MFAChallenge
	err := r.Scan(&c.TokenHash, &c.UserID, &c.Method, &c.Fingerprint, &c.Attempts,
		timeScan{&c.CreatedAt}, timeScan{&c.ExpiresAt}, nullTimeScan{&c.UsedAt})
	return c, err
}

func (s *Store) CreateMFAChallenge(ctx context.Context, c store.MFAChallenge) error {
	return s.write(ctx, "create mfa challenge", "INSERT INTO mfa_challenges ("+mfaChallengeCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		c.TokenHash, c.UserID, c.Method, c.Fingerprint, c.Attempts, c.CreatedAt, c.ExpiresAt, c.UsedAt)
}

func (s *Store) TakeMFAChallengeAttempt(ctx context.Context, tokenHash string, max int, now time.Time) (store.MFAChallenge, error) {
	c, err := lockedRow(ctx, s, "take mfa challenge attempt", scanMFAChallenge, "SELECT "+mfaChallengeCols+" FROM mfa_challenges WHERE token_hash = ?", tokenHash,
		func(tx *sql.Tx, c store.MFAChallenge) error {
			switch {
			case c.UsedAt != nil:
				return fmt.Errorf("%w: challenge used", store.ErrConflict)
			case !now.Before(c.ExpiresAt):
				return fmt.Errorf("%w: challenge expired", store.ErrConflict)
			case c.Attempts >= max:
				return fmt.Errorf("%w: too many attempts", store.ErrConflict)
			}
			err := s.execOne(ctx, tx, "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE token_hash = ? AND used_at IS NULL AND attempts < ?",
				tokenHash, max)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: challenge changed", store.ErrConflict)
			}
			return err
		})
	if err != nil {
		return store.MFAChallenge{}, err
	}
	c.Attempts++
	return c, nil
}

func (s *Store) ConsumeMFAChallenge(ctx context.Context, tokenHash string, now time.Time) error {
	return s.consumeOnce(ctx, "consume mfa challenge", "used already", "SELECT 1 FROM mfa_challenges WHERE token_hash = ?", tokenHash,
		"UPDATE mfa_challenges SET used_at = ? WHERE token_hash = ? AND used_at IS NULL", now, tokenHash)
}

func (s *Store) DeleteExpiredMFAChallenges(ctx context.Context, now time.Time) (int, error) {
	res, err := s.exec(ctx, s.db, "DELETE FROM mfa_challenges WHERE expires_at < ?", now)
	if err != nil {
		return 0, fmt.Errorf("delete expired mfa challenges: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired mfa challenges: %w", err)
	}
	return int(n), nil
}
