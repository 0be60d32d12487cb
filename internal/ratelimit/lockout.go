package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/store"
)

// Default lockout policies: five failures for one email lock it for a
// minute, doubling with each further failure up to an hour; fifty failures
// from one IP (any emails) lock that IP the same way. Failures are
// forgotten after a day without one.
var (
	DefaultEmailPolicy = store.LockoutPolicy{Threshold: 5, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}
	DefaultIPPolicy    = store.LockoutPolicy{Threshold: 50, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}
)

// LockoutConfig configures a Lockout. Zero policies take the defaults.
type LockoutConfig struct {
	Store  store.LimitStore
	Email  store.LockoutPolicy
	IP     store.LockoutPolicy
	Logger *slog.Logger
	Now    func() time.Time
}

// Lockout throttles password sign-in per email and per client IP.
type Lockout struct {
	st        store.LimitStore
	email, ip store.LockoutPolicy
	log       *slog.Logger
	now       func() time.Time
}

// NewLockout returns a Lockout.
func NewLockout(cfg LockoutConfig) (*Lockout, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("ratelimit: Store is required")
	case cfg.Logger == nil:
		return nil, errors.New("ratelimit: Logger is required")
	case cfg.Now == nil:
		return nil, errors.New("ratelimit: Now is required")
	}
	if cfg.Email == (store.LockoutPolicy{}) {
		cfg.Email = DefaultEmailPolicy
	}
	if cfg.IP == (store.LockoutPolicy{}) {
		cfg.IP = DefaultIPPolicy
	}
	for name, p := range map[string]store.LockoutPolicy{"Email": cfg.Email, "IP": cfg.IP} {
		if p.Threshold <= 0 || p.Base <= 0 || p.Max < p.Base || p.Window < p.Max {
			return nil, fmt.Errorf("ratelimit: %s policy: need Threshold > 0, 0 < Base <= Max <= Window", name)
		}
	}
	return &Lockout{st: cfg.Store, email: cfg.Email, ip: cfg.IP, log: cfg.Logger, now: cfg.Now}, nil
}

const maxKeyLen = 400

func emailKey(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	if len(e) > maxKeyLen {
		e = strings.ToValidUTF8(e[:maxKeyLen], "")
	}
	return "email:" + e
}

func ipKey(ip string) string { return "ip:" + ip }

// Check reports how long attempts for email from ip are still refused
// (0: allowed). It reads the same rows whether or not the email belongs to
// an account.
func (l *Lockout) Check(ctx context.Context, email, ip string) (time.Duration, error) {
	now := l.now()
	var wait time.Duration
	for _, key := range []string{emailKey(email), ipKey(ip)} {
		t, err := l.st.GetLoginThrottle(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("lockout: %w", err)
		}
		if locked, left := t.Locked(now); locked && left > wait {
			wait = left
		}
	}
	return wait, nil
}

// Failed records a failed attempt for email from ip.
func (l *Lockout) Failed(ctx context.Context, email, ip string) {
	now := l.now()
	for _, k := range []struct {
		key string
		p   store.LockoutPolicy
	}{{emailKey(email), l.email}, {ipKey(ip), l.ip}} {
		t, err := l.st.RecordLoginFailure(ctx, k.key, now, k.p)
		if err != nil {
			l.log.ErrorContext(ctx, "lockout: record failed login", "error", err)
			continue
		}
		if locked, left := t.Locked(now); locked {
			l.log.WarnContext(ctx, "sign-in locked after repeated failures", "key_kind", strings.SplitN(k.key, ":", 2)[0],
				"failures", t.Failures, "locked_for", left.String())
		}
	}
}

// Succeeded resets the email's failures (not the IP's: one good account
// must not clear an IP that is guessing at others).
func (l *Lockout) Succeeded(ctx context.Context, email string) {
	if err := l.st.ResetLoginThrottle(ctx, emailKey(email)); err != nil {
		l.log.ErrorContext(ctx, "lockout: reset after sign-in", "error", err)
	}
}
