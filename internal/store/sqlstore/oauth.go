package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

func (s *Store) RevokeUserSessions(ctx context.Context, userID, exceptSessionID string, now time.Time) ([]string, error) {
	var ids []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		ids, err = getAll(ctx, s, tx, func(r rowScanner) (string, error) {
			var id string
			return id, r.Scan(&id)
		}, "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND id <> ? ORDER BY id", userID, exceptSessionID)
		if err != nil {
			return err
		}
		_, err = s.exec(ctx, tx, "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND id <> ?", now, userID, exceptSessionID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revoke user sessions: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}

func (s *Store) TouchSession(ctx context.Context, sessionID, ip string, now time.Time) error {
	return s.writeOne(ctx, "touch session", "UPDATE sessions SET last_ip = ?, last_seen_at = ? WHERE id = ?", ip, now, sessionID)
}

func (s *Store) ListSessionActivity(ctx context.Context, userID string) (map[string]store.SessionActivity, error) {
	type row struct {
		id string
		a  store.SessionActivity
	}
	rows, err := getAll(ctx, s, s.db, func(r rowScanner) (row, error) {
		var x row
		return x, r.Scan(&x.id, &x.a.LastIP, timeScan{&x.a.LastSeenAt})
	}, "SELECT id, last_ip, last_seen_at FROM sessions WHERE user_id = ? AND last_seen_at IS NOT NULL", userID)
	if err != nil {
		return nil, fmt.Errorf("list session activity: %w", err)
	}
	out := make(map[string]store.SessionActivity, len(rows))
	for _, r := range rows {
		out[r.id] = r.a
	}
	return out, nil
}

func (s *Store) RetireSigningKey(ctx context.Context, kid string, now time.Time) error {
	return s.writeOne(ctx, "retire signing key", "UPDATE signing_keys SET retired_at = COALESCE(retired_at, ?) WHERE id = ?", now, kid)
}

// Codes of the platform's own OAuth authorization server.

var _ store.OAuthCodeStore = (*Store)(nil)

const authCodeCols = "code_hash, client_id, redirect_uri, code_challenge, scope, user_id, session_id, created_at, expires_at, used_at, issued_session_id"

func scanAuthCode(r rowScanner) (store.AuthCode, error) {
	var c store.AuthCode
	err := r.Scan(&c.CodeHash, &c.ClientID, &c.RedirectURI, &c.CodeChallenge, &c.Scope, &c.UserID, &c.SessionID,
		timeScan{&c.CreatedAt}, timeScan{&c.ExpiresAt}, nullTimeScan{&c.UsedAt}, &c.IssuedSessionID)
	return c, err
}

func (s *Store) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	return s.write(ctx, "create auth code", "INSERT INTO oauth_auth_codes ("+authCodeCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		c.CodeHash, c.ClientID, c.RedirectURI, c.CodeChallenge, c.Scope, c.UserID, c.SessionID, c.CreatedAt, c.ExpiresAt, c.UsedAt, c.IssuedSessionID)
}

func (s *Store) UseAuthCode(ctx context.Context, codeHash string, now time.Time) (store.AuthCode, error) {
	return lockedRow(ctx, s, "use auth code", scanAuthCode, "SELECT "+authCodeCols+" FROM oauth_auth_codes WHERE code_hash = ?", codeHash,
		func(tx *sql.Tx, c store.AuthCode) error {
			if c.UsedAt != nil {
				return fmt.Errorf("%w: code already used", store.ErrConflict)
			}
			return s.execOne(ctx, tx, "UPDATE oauth_auth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL", now, codeHash)
		})
}

func (s *Store) SetAuthCodeSession(ctx context.Context, codeHash, sessionID string) error {
	return s.writeOne(ctx, "set auth code session", "UPDATE oauth_auth_codes SET issued_session_id = ? WHERE code_hash = ?", sessionID, codeHash)
}

func (s *Store) DeleteExpiredOAuthCodes(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"oauth_auth_codes", "oauth_device_codes"} {
			res, err := s.exec(ctx, tx, "DELETE FROM "+table+" WHERE expires_at < ?", before)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired oauth codes: %w", err)
	}
	return int(n), nil
}

const deviceCodeCols = "device_code_hash, user_code_hash, client_id, scope, status, user_id, poll_interval, created_at, expires_at, decided_at, last_polled_at"

func scanDeviceCode(r rowScanner) (store.DeviceCode, error) {
	var d store.DeviceCode
	err := r.Scan(&d.DeviceCodeHash, &d.UserCodeHash, &d.ClientID, &d.Scope, &d.Status, &d.UserID, &d.Interval,
		timeScan{&d.CreatedAt}, timeScan{&d.ExpiresAt}, nullTimeScan{&d.DecidedAt}, nullTimeScan{&d.LastPolledAt})
	return d, err
}

func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode) error {
	return s.write(ctx, "create device code", "INSERT INTO oauth_device_codes ("+deviceCodeCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.DeviceCodeHash, d.UserCodeHash, d.ClientID, d.Scope, d.Status, d.UserID, d.Interval, d.CreatedAt, d.ExpiresAt, d.DecidedAt, d.LastPolledAt)
}

func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash string) (store.DeviceCode, error) {
	return get(ctx, s, "get device code", scanDeviceCode, "SELECT "+deviceCodeCols+" FROM oauth_device_codes WHERE user_code_hash = ?", userCodeHash)
}

func (s *Store) DecideDeviceCode(ctx context.Context, userCodeHash string, approve bool, userID string, now time.Time) error {
	status := store.DeviceDenied
	if approve {
		status = store.DeviceApproved
	}
	_, err := lockedRow(ctx, s, "decide device code", scanDeviceCode, "SELECT "+deviceCodeCols+" FROM oauth_device_codes WHERE user_code_hash = ?", userCodeHash,
		func(tx *sql.Tx, d store.DeviceCode) error {
			if d.Status != store.DevicePending {
				return fmt.Errorf("%w: device authorization is %s", store.ErrConflict, d.Status)
			}
			return s.execOne(ctx, tx, "UPDATE oauth_device_codes SET status = ?, user_id = ?, decided_at = ? WHERE user_code_hash = ? AND status = ?",
				status, userID, now, userCodeHash, store.DevicePending)
		})
	return err
}

func (s *Store) PollDeviceCode(ctx context.Context, deviceCodeHash string, now time.Time, slack time.Duration) (store.DeviceCode, error) {
	d, err := lockedRow(ctx, s, "poll device code", scanDeviceCode, "SELECT "+deviceCodeCols+" FROM oauth_device_codes WHERE device_code_hash = ?", deviceCodeHash,
		func(tx *sql.Tx, d store.DeviceCode) error {
			if d.LastPolledAt != nil && now.Sub(*d.LastPolledAt) < time.Duration(d.Interval)*time.Second-slack {
				return s.execOne(ctx, tx, "UPDATE oauth_device_codes SET poll_interval = poll_interval + 5, last_polled_at = ? WHERE device_code_hash = ?", now, deviceCodeHash)
			}
			status := d.Status
			if status == store.DeviceApproved {
				status = store.DeviceConsumed
			}
			return s.execOne(ctx, tx, "UPDATE oauth_device_codes SET status = ?, last_polled_at = ? WHERE device_code_hash = ?", status, now, deviceCodeHash)
		})
	if err != nil {
		return store.DeviceCode{}, err
	}
	return d, nil
}
