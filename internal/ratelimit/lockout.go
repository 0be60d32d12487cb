package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
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

func ipKey(ip string) string { return "ip:" + IPKey(ip) }

// EmailKey is the throttle key of the failures of an email (the rows of
// Lockout, for other guards of the same password).
func EmailKey(email string) string { return emailKey(email) }

// IPKey is the form of a client address that limits and lockouts count
// by: an IPv4 address as is, an IPv6 address as its /64 (one host usually
// holds a whole /64, so counting by full address would give it 2^64
// fresh counters). Anything else is returned unchanged.
func IPKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// Check reports how long attempts for email from ip are still refused
// (0: allowed). It reads the same rows whether or not the email belongs to
// an account. Check then Failed is not atomic (concurrent attempts all
// pass the check): guards of a password use Begin.
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

// Attempt is a reserved sign-in attempt (Lockout.Begin): it counts as a
// failure until Succeeded or Refund says otherwise.
type Attempt struct {
	l         *Lockout
	email, ip string
	done      bool
}

// Begin reserves one attempt for email from ip before the password is
// checked: if either is locked it answers how long still (and counts
// nothing); otherwise the attempt counts as a failure of both up front,
// atomically with the check, so that concurrent attempts cannot all slip
// under the threshold. Call Failed, Succeeded or Refund on the Attempt
// with the outcome.
func (l *Lockout) Begin(ctx context.Context, email, ip string) (*Attempt, time.Duration, error) {
	now := l.now()
	keys := []store.ThrottleKey{{Key: emailKey(email), Policy: l.email}, {Key: ipKey(ip), Policy: l.ip}}
	states, ok, err := l.st.ReserveLoginAttempt(ctx, now, keys)
	if err != nil {
		return nil, 0, fmt.Errorf("lockout: %w", err)
	}
	if !ok {
		var wait time.Duration
		for _, t := range states {
			if locked, left := t.Locked(now); locked && left > wait {
				wait = left
			}
		}
		return nil, max(wait, time.Second), nil
	}
	for i, t := range states {
		if locked, left := t.Locked(now); locked {
			l.log.WarnContext(ctx, "sign-in locked after repeated failures", "key_kind", strings.SplitN(keys[i].Key, ":", 2)[0],
				"failures", t.Failures, "locked_for", left.String())
		}
	}
	return &Attempt{l: l, email: email, ip: ip}, 0, nil
}

// Failed keeps the attempt counted (a wrong password).
func (a *Attempt) Failed() { a.done = true }

// Succeeded resets the email's failures and takes the attempt back from
// the IP (a sign-in that issued tokens).
func (a *Attempt) Succeeded(ctx context.Context) {
	if a.done {
		return
	}
	a.done = true
	a.l.Succeeded(ctx, a.email)
	a.l.refund(ctx, ipKey(a.ip))
}

// Refund takes the attempt back from both the email and the IP, without a
// reset: the password was not found wrong (a malformed request, an
// internal error, or a right password that still needs a second factor).
func (a *Attempt) Refund(ctx context.Context) {
	if a.done {
		return
	}
	a.done = true
	a.l.refund(ctx, emailKey(a.email))
	a.l.refund(ctx, ipKey(a.ip))
}

func (l *Lockout) refund(ctx context.Context, key string) {
	if err := l.st.RefundLoginAttempt(ctx, key); err != nil {
		l.log.ErrorContext(ctx, "lockout: refund attempt", "error", err)
	}
}

// Succeeded resets the email's failures (not the IP's: one good account
// must not clear an IP that is guessing at others).
func (l *Lockout) Succeeded(ctx context.Context, email string) {
	if err := l.st.ResetLoginThrottle(ctx, emailKey(email)); err != nil {
		l.log.ErrorContext(ctx, "lockout: reset after sign-in", "error", err)
	}
}
