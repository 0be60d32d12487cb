package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hexabase/hexabase-ai/internal/ratelimit"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// Default sign-in lockout policies (docs/protections.md, "Sign-in
// lockout"):
//
//   - DefaultSourceLockout: five failures for one account from one source
//     (client IP, an IPv6 client by its /64) lock that pair for a minute,
//     doubling with each further failure up to an hour. A stranger's
//     guesses lock the stranger out, not the account's owner. The same
//     policy counts the failures of a device token (its own key).
//   - DefaultIPLockout: fifty failures from one source, any accounts, lock
//     the source the same way, except for clients with a valid device
//     token of the account (their failures still count for the source).
//   - DefaultAccountThrottle: a hundred failures for one account from all
//     sources together (a distributed guessing attack) slow that account
//     down, never lock it. Every further attempt without a valid device
//     token of the account, and not from a known source (knownSourceTTL),
//     takes a turn on the account: turns follow each other, each as long
//     as the delay (a second, doubling with each further failure up to
//     its Max, 5 s by default), and the password is checked when the
//     attempt's turn ends. So all sources together get at most one
//     password checked per delay, however many attempts they send at
//     once. An attempt whose turn would end more than the policy's
//     MaxWait (twice the Max, within the request timeout) away is
//     refused with that wait to retry after, taking no turn; a device
//     token or a known source skips the queue.
//
// Failures are forgotten after a day without one.
var (
	DefaultSourceLockout   = store.LockoutPolicy{Threshold: 5, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}
	DefaultIPLockout       = store.LockoutPolicy{Threshold: 50, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}
	DefaultAccountThrottle = store.LockoutPolicy{Threshold: 100, Base: time.Second, Max: 5 * time.Second, Window: 24 * time.Hour, DelayOnly: true}
)

// MaxAccountDelay bounds the delay of the account-wide throttle
// (AccountThrottle.Max): a sign-in waits at most this long for it, well
// within a request's timeout.
const MaxAccountDelay = 10 * time.Second

// Known sources (docs/protections.md, "Sign-in lockout"): a source the
// account completed a sign-in from within knownSourceTTL skips the
// account-wide throttle; the last knownSourcesKept of each account are
// kept.
const (
	knownSourceTTL   = 30 * 24 * time.Hour
	knownSourcesKept = 10
)

// attemptSlotMargin is how much longer than an attempt can run (the
// request timeout: every wait of an attempt ends with its context) its
// slot is held at most (store.LimitStore.BeginLoginAttempt): an attempt
// whose process died frees it then, and no slot of a running attempt
// expires.
const attemptSlotMargin = time.Minute

// lockout throttles password sign-in per (account, source), per device
// token, per source and per account, and second factors per user
// (MFAFailurePolicy). The Service holds one, and every check of a password
// goes through it: PasswordSignIn (POST /auth/login and the sign-in forms of
// the authorization server) and the password that disables 2FA. Its state
// lives in the database (store.LimitStore), so every replica shares it.
type lockout struct {
	st                  store.LimitStore
	source, ip, account store.LockoutPolicy
	log                 *slog.Logger
	now                 func() time.Time
	// slotTTL is how long a slot is held at most: the longest an
	// attempt runs plus attemptSlotMargin.
	slotTTL time.Duration
	// sleep waits d, or less if ctx ends first (its error then); tests
	// replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

func newLockout(st store.LimitStore, source, ip, account store.LockoutPolicy, attemptTimeout time.Duration, log *slog.Logger, now func() time.Time) (*lockout, error) {
	if source == (store.LockoutPolicy{}) {
		source = DefaultSourceLockout
	}
	if ip == (store.LockoutPolicy{}) {
		ip = DefaultIPLockout
	}
	if account == (store.LockoutPolicy{}) {
		account = DefaultAccountThrottle
	}
	account.DelayOnly = true
	if account.MaxWait == 0 {
		// Two turns at the longest delay, and well within the
		// request's timeout (Max is at most half of it, see config).
		account.MaxWait = max(account.Max, min(2*account.Max, attemptTimeout*3/4))
	}
	for _, p := range []struct {
		name string
		p    store.LockoutPolicy
	}{{"SourceLockout", source}, {"IPLockout", ip}, {"AccountThrottle", account}} {
		if p.p.Threshold <= 0 || p.p.Base <= 0 || p.p.Max < p.p.Base || p.p.Window < p.p.Max {
			return nil, fmt.Errorf("%s policy: need Threshold > 0, 0 < Base <= Max <= Window", p.name)
		}
	}
	if account.Max > MaxAccountDelay {
		return nil, fmt.Errorf("AccountThrottle policy: Max %s is above %s", account.Max, MaxAccountDelay)
	}
	if attemptTimeout <= 0 {
		return nil, errors.New("AttemptTimeout must be positive")
	}
	if account.MaxWait < account.Max || account.MaxWait >= attemptTimeout {
		return nil, fmt.Errorf("AccountThrottle policy: MaxWait %s must be from Max %s to below the request timeout %s", account.MaxWait, account.Max, attemptTimeout)
	}
	return &lockout{st: st, source: source, ip: ip, account: account, log: log, now: now,
		slotTTL: attemptTimeout + attemptSlotMargin, sleep: sleepCtx}, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// window is the longest Window of the lockout's policies: state without
// a failure for that long, and not locked, is of no use any more.
func (l *lockout) window() time.Duration {
	return max(l.source.Window, l.ip.Window, l.account.Window, MFAFailurePolicy.Window)
}

// sweep deletes the lockout state of no use any more
// (store.LimitStore.SweepLoginThrottles).
func (l *lockout) sweep(ctx context.Context) (int, error) {
	return l.st.SweepLoginThrottles(ctx, l.now(), l.window())
}

const maxKeyLen = 400

// account is the key form of an email: trimmed, lower case, bounded.
func account(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	if len(e) > maxKeyLen {
		e = strings.ToValidUTF8(e[:maxKeyLen], "")
	}
	return e
}

// source is the key form of a client IP: an IPv6 client by its /64
// (ratelimit.IPKey); "-" when there is none.
func source(ip string) string {
	if ip == "" {
		return "-"
	}
	return ratelimit.IPKey(ip)
}

// Keys of the sign-in lockout.
func pairKey(email, ip string) string { return "pair:" + source(ip) + " " + account(email) }
func accountKey(email string) string  { return "account:" + account(email) }
func ipKey(ip string) string          { return "ip:" + source(ip) }
func deviceKey(id string) string      { return "device:" + id }

// attempt is a begun attempt (lockout.begin): it holds a slot on the
// keys it was admitted by, which is not a failure, until it is settled.
type attempt struct {
	l  *lockout
	id string
	// userID and ip become a known source of the user on success.
	userID, ip string
	// keys count a failure; reset are the keys a success forgets.
	keys  []store.ThrottleKey
	reset []string
	done  bool
}

// passwordKeys are the keys of a password attempt for email from ip:
// gate admit it (each may refuse it, but the account's, a DelayOnly
// throttle, only delays it), count record its failure and reset are
// forgotten by its success.
//
// A client without a valid device token of the account (deviceID "") is
// admitted and counted for the account from its source, for the account
// from all sources and for its source; a success forgets the first. One
// from a known source of the account (known) is counted the same way but
// not admitted by the account-wide throttle (it skips the queue). A
// client with one is admitted by its device token alone and counted for
// it and for its source (so that a stranger's failures from the same
// source do not refuse it, and its own still count there); a success
// forgets the device token's failures. Neither success forgets the
// source's failures (one good account must not clear a source guessing at
// others) nor the account's (its owner signing in must not give a
// distributed attack a fresh allowance).
func (l *lockout) passwordKeys(email, ip, deviceID string, known bool) (gate, count []store.ThrottleKey, reset []string) {
	src := store.ThrottleKey{Key: ipKey(ip), Policy: l.ip}
	if deviceID != "" {
		dev := store.ThrottleKey{Key: deviceKey(deviceID), Policy: l.source}
		return []store.ThrottleKey{dev}, []store.ThrottleKey{dev, src}, []string{dev.Key}
	}
	pair := store.ThrottleKey{Key: pairKey(email, ip), Policy: l.source}
	keys := []store.ThrottleKey{pair, {Key: accountKey(email), Policy: l.account}, src}
	if known {
		return []store.ThrottleKey{pair, src}, keys, []string{pair.Key}
	}
	return keys, keys, []string{pair.Key}
}

// begin begins a password attempt for email from ip by the user userID
// ("": none, an unknown email), with the id of the client's valid device
// token for the account or "" (see passwordKeys and reserve). From a
// known source of the user the attempt skips the account-wide throttle,
// and its success makes ip a known source. Past the account-wide
// throttle's threshold, any other attempt without a device token waits
// for its turn (store.LockoutPolicy.Admission) before it is answered: an
// error only if ctx ends first.
func (l *lockout) begin(ctx context.Context, userID, email, ip, deviceID string) (*attempt, error) {
	gate, count, reset := l.passwordKeys(email, ip, deviceID, deviceID == "" && l.known(ctx, userID, ip))
	a, err := l.reserve(ctx, "password", gate, count, reset)
	if a != nil {
		a.userID, a.ip = userID, ip
	}
	return a, err
}

// known reports whether userID completed a sign-in from ip's source
// within knownSourceTTL; no (and a logged error) if that cannot be read.
func (l *lockout) known(ctx context.Context, userID, ip string) bool {
	if userID == "" || ip == "" {
		return false
	}
	k, err := l.st.KnownSource(ctx, userID, source(ip), l.now().Add(-knownSourceTTL))
	if err != nil {
		l.log.ErrorContext(ctx, "lockout: known source", "error", err)
		return false
	}
	return k
}

// remember makes ip a known source of userID (a completed sign-in).
func (l *lockout) remember(ctx context.Context, userID, ip string) {
	if userID == "" || ip == "" {
		return
	}
	if err := l.st.RecordKnownSource(context.WithoutCancel(ctx), userID, source(ip), l.now(), knownSourcesKept); err != nil {
		l.log.ErrorContext(ctx, "lockout: record known source", "error", err)
	}
}

// reserve begins one attempt on the gate keys before the secret (field: a
// "password" or a second-factor "code") is checked. If a key is locked, or
// has as many attempts in flight as failures are still allowed before its
// lock (store.LockoutPolicy.Admits), it answers a *TooManyAttemptsError
// with the time left (a second for a full key); otherwise the attempt
// holds a slot on every gate key, atomically with the check, so that
// concurrent attempts cannot check more secrets than a threshold allows.
// A DelayOnly key past its threshold gives the attempt a turn
// (store.LockoutPolicy.Admission): it waits until its turn ends, holding
// its slots, and is refunded if ctx ends meanwhile (its turn is not given
// back); if the turn would end more than MaxWait away the attempt is
// refused with a *TooManyAttemptsError (Queued) to retry after that
// wait, and takes no turn. The slot is no failure: settle the attempt with failed (it counts for
// every key of count), succeeded (it forgets reset) or refund.
func (l *lockout) reserve(ctx context.Context, field string, gate, count []store.ThrottleKey, reset []string) (*attempt, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	now := l.now()
	states, ok, err := l.st.BeginLoginAttempt(ctx, id, now, l.slotTTL, gate)
	if err != nil {
		return nil, fmt.Errorf("lockout: %w", err)
	}
	if !ok {
		var wait time.Duration
		var kinds []string
		queued := true
		for i, t := range states {
			if gate[i].Policy.Admits(t, now) {
				continue
			}
			kinds = append(kinds, strings.SplitN(gate[i].Key, ":", 2)[0])
			if locked, left := t.Locked(now); locked {
				wait = max(wait, left)
			}
			if gate[i].Policy.DelayOnly {
				at, _ := gate[i].Policy.Admission(t, now)
				wait = max(wait, at.Sub(now))
			} else {
				queued = false
			}
		}
		wait = max(wait, time.Second)
		l.log.WarnContext(ctx, "attempt refused: locked after repeated failures, too many in flight, or the account's queue is full", "field", field, "key_kinds", kinds, "retry_after", wait.String())
		return nil, &TooManyAttemptsError{Field: field, RetryAfter: wait, Queued: queued}
	}
	a := &attempt{l: l, id: id, keys: count, reset: reset}
	var delay time.Duration
	for i, t := range states {
		at, _ := gate[i].Policy.Admission(t, now)
		delay = max(delay, at.Sub(now))
	}
	if delay > 0 {
		l.log.InfoContext(ctx, "attempt delayed: its turn on the account, many failures for it from all sources", "field", field, "delay", delay.String())
		if err := l.sleep(ctx, delay); err != nil {
			a.abandoned(ctx)
			return nil, fmt.Errorf("lockout: delayed attempt: %w", err)
		}
	}
	return a, nil
}

// end settles the attempt once; it outlives the request's cancellation so
// that a client hanging up cannot take back its failure.
func (a *attempt) end(ctx context.Context, failed []store.ThrottleKey, reset []string) {
	if a.done {
		return
	}
	a.done = true
	if err := a.l.st.EndLoginAttempt(context.WithoutCancel(ctx), a.id, a.l.now(), failed, reset); err != nil {
		a.l.log.ErrorContext(ctx, "lockout: settle attempt", "error", err)
	}
}

// failed counts the attempt as a failure of every key (a wrong secret).
func (a *attempt) failed(ctx context.Context) { a.end(ctx, a.keys, nil) }

// abandoned settles an attempt whose request ended while it waited for
// its turn on the account: the turn is spent, so it costs what a guess
// costs on the keys that lock (pair, source, device token), else one
// address could hold the account's queue by hanging up, never locked.
func (a *attempt) abandoned(ctx context.Context) {
	var locking []store.ThrottleKey
	for _, k := range a.keys {
		if !k.Policy.DelayOnly {
			locking = append(locking, k)
		}
	}
	a.end(ctx, locking, nil)
}

// succeeded forgets the failures of the keys it should and frees the
// attempt's slots (a right secret: a sign-in that issued tokens, a right
// code).
func (a *attempt) succeeded(ctx context.Context) {
	a.end(ctx, nil, a.reset)
	a.l.remember(ctx, a.userID, a.ip)
}

// refund frees the attempt's slots and counts nothing: the secret was not
// found wrong (an internal error, or a right password that still needs a
// second factor).
func (a *attempt) refund(ctx context.Context) { a.end(ctx, nil, nil) }

// settle ends a with the outcome of a password check: a wrong password
// (ErrInvalidCredentials) counts as a failure, issued tokens are a
// success, anything else is refunded.
func (a *attempt) settle(ctx context.Context, err error, issued bool) {
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		a.failed(ctx)
	case err == nil && issued:
		a.succeeded(ctx)
	default:
		a.refund(ctx)
	}
}

// succeeded forgets the failures a sign-in completed by a second factor
// forgets (see passwordKeys): of email from ip, or of the device token
// deviceID; and makes ip a known source of userID.
func (l *lockout) succeeded(ctx context.Context, userID, email, ip, deviceID string) {
	l.remember(ctx, userID, ip)
	_, _, reset := l.passwordKeys(email, ip, deviceID, false)
	if err := l.st.EndLoginAttempt(context.WithoutCancel(ctx), "", l.now(), nil, reset); err != nil {
		l.log.ErrorContext(ctx, "lockout: reset after success", "error", err)
	}
}
