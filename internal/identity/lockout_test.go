package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/store"
)

// lockoutEnv is a Service whose IP lockout threshold is 8 (the email's
// stays at the default 5).
func lockoutEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, func(c *Config) {
		c.IPLockout = store.LockoutPolicy{Threshold: 8, Base: time.Minute, Max: time.Hour, Window: 24 * time.Hour}
	})
}

// fail records a wrong password for email from ip.
func fail(t *testing.T, l *lockout, email, ip string) {
	t.Helper()
	a, err := l.begin(t.Context(), "", email, ip, "")
	if err != nil {
		t.Fatalf("begin %s from %s: %v", email, ip, err)
	}
	a.failed(t.Context())
}

// wait reports how long email from ip is still refused (0: an attempt
// would be let through; it is taken back).
func wait(t *testing.T, l *lockout, email, ip string) time.Duration {
	t.Helper()
	a, err := l.begin(t.Context(), "", email, ip, "")
	var tm *TooManyAttemptsError
	switch {
	case errors.As(err, &tm):
		return tm.RetryAfter
	case err != nil:
		t.Fatal(err)
	}
	a.refund(t.Context())
	return 0
}

// TestLockoutBackoff: failures lock the (account, source) pair that made
// them, doubling, and not the account from elsewhere; a success from the
// source forgets them; many accounts from one source lock the source.
func TestLockoutBackoff(t *testing.T) {
	e := lockoutEnv(t)
	l := e.svc.lockout
	for range 4 {
		fail(t, l, "Alice@Example.com ", "192.0.2.1")
	}
	if w := wait(t, l, "alice@example.com", "192.0.2.1"); w != 0 {
		t.Fatalf("locked after 4 failures: %v", w)
	}
	fail(t, l, "alice@example.com", "192.0.2.1")
	if w := wait(t, l, "ALICE@example.com", "192.0.2.1"); w != time.Minute {
		t.Fatalf("after 5 failures: wait %v, want 1m in any case", w)
	}
	if w := wait(t, l, "alice@example.com", "192.0.2.9"); w != 0 {
		t.Fatalf("the account is locked from another source: %v", w)
	}
	e.clock.Advance(time.Minute)
	if w := wait(t, l, "alice@example.com", "192.0.2.1"); w != 0 {
		t.Fatalf("still locked after the lock ended: %v", w)
	}
	fail(t, l, "alice@example.com", "192.0.2.1")
	if w := wait(t, l, "alice@example.com", "192.0.2.1"); w != 2*time.Minute {
		t.Fatalf("the next failure locks for %v, want 2m (doubling)", w)
	}
	// Others are not affected; a success resets.
	if w := wait(t, l, "bob@example.com", "192.0.2.1"); w != 0 {
		t.Fatalf("another email locked: %v", w)
	}
	l.succeeded(t.Context(), "", "alice@example.com", "192.0.2.1", "")
	if w := wait(t, l, "alice@example.com", "192.0.2.1"); w != 0 {
		t.Fatalf("locked after a success: %v", w)
	}
	// Many emails from one IP lock the IP (threshold 8 here; 6 failures
	// came from it above).
	for i := range 2 {
		fail(t, l, "u"+strconv.Itoa(i)+"@example.com", "192.0.2.1")
	}
	if w := wait(t, l, "carol@example.com", "192.0.2.1"); w != time.Minute {
		t.Fatalf("IP with 8 failures: wait %v, want 1m", w)
	}
	if w := wait(t, l, "carol@example.com", "192.0.2.2"); w != 0 {
		t.Fatalf("another IP locked: %v", w)
	}
}

// TestAccountThrottleDelays: failures for one account from many sources
// slow the account's clients without a device token down with short,
// growing delays (1s doubling up to the configured max) before their
// passwords are checked; none is refused while the account's turns are
// free.
func TestAccountThrottleDelays(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.AccountThrottle = store.LockoutPolicy{Threshold: 10, Base: time.Second, Max: 4 * time.Second, Window: 24 * time.Hour}
	})
	e.delays.advance = true // a delay is time passing: each turn ends before the next attempt
	l := e.svc.lockout
	for i := range 9 {
		fail(t, l, "alice@example.com", "198.51.100."+strconv.Itoa(i))
	}
	if w := wait(t, l, "alice@example.com", "203.0.113.1"); w != 0 {
		t.Fatalf("9 failures from 9 sources: wait %v", w)
	}
	if d := e.delays.take(); len(d) != 0 {
		t.Fatalf("9 failures from 9 sources: delays %v, want none", d)
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		fail(t, l, "alice@example.com", "198.51.100."+strconv.Itoa(100+i))
		e.delays.take()
		if w := wait(t, l, "alice@example.com", "203.0.113.1"); w != 0 {
			t.Fatalf("failure %d across sources: refused for %v, want a delay only", 10+i, w)
		}
		if d := e.delays.take(); len(d) != 1 || d[0] != want {
			t.Fatalf("failure %d across sources: delays %v, want [%v]", 10+i, d, want)
		}
	}
}

// throttledAccount is an env with the default policies whose account
// alice@example.com (password "correct horse battery") signed in from
// home (198.51.100.200) and got device token tok, and has so many
// failures from strangers that the account-wide delay is at its max (5s).
func throttledAccount(t *testing.T) (e *env, h http.Handler, home, tok string) {
	t.Helper()
	e = newEnv(t)
	e.user(t, "alice@example.com")
	h = loginHandler(t, e.svc)
	home = "198.51.100.200"
	tok = deviceToken(t, h, home, "alice@example.com")
	l := e.svc.lockout
	for i := range DefaultAccountThrottle.Threshold + 3 {
		fail(t, l, "alice@example.com", fmt.Sprintf("2001:db8:ffff:%x::1", i))
	}
	e.delays.take()
	e.clock.Advance(time.Minute) // the turns of the last failures passed
	return e, h, home, tok
}

// TestDistributedGuessesSerializedPerAccount: past the account-wide
// threshold, 100 sources sending five wrong passwords each at once (the
// review's attack, which had all 500 checked in ~33 s) get at most one
// password checked per turn: two turns of 5 s fit in the 10 s an attempt
// may wait, so two are checked and the other 498 are refused with 429 and
// a Retry-After of their would-be wait; and guesses every second for five
// minutes get at most one check per 5 s.
func TestDistributedGuessesSerializedPerAccount(t *testing.T) {
	e, h, _, _ := throttledAccount(t)
	checks := countVerify(e)
	burst := func(round, sources, each int) (checked, refused int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for src := range sources {
			for range each {
				wg.Go(func() {
					w := doLogin(h, fmt.Sprintf("2001:db8:%x:%x::1", round, src), "alice@example.com", "guess")
					mu.Lock()
					defer mu.Unlock()
					switch {
					case w.Code == 401:
						checked++
					case w.Code == 429:
						ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
						if err != nil || ra < 1 || ra > 15 {
							t.Errorf("refused guess: Retry-After %q, want the wait of its turn, 1 to 15 s", w.Header().Get("Retry-After"))
						}
						refused++
					default:
						t.Errorf("guess: %d %s, want 401 or 429", w.Code, w.Body)
					}
				})
			}
		}
		wg.Wait()
		return checked, refused
	}
	checked, refused := burst(0, 100, 5)
	if checked != 2 || refused != 498 || checks.Load() != 2 {
		t.Fatalf("500 guesses at once from 100 sources: %d checked (%d hashes), %d refused; want 2 checked (one per 5s turn within 10s), 498 refused",
			checked, checks.Load(), refused)
	}
	if d := e.delays.take(); len(d) != 2 || d[0]+d[1] != 15*time.Second {
		t.Fatalf("the two admitted guesses waited %v, want 5s and 10s (their turns)", d)
	}
	// Five minutes of smaller bursts, one a second, from fresh sources:
	// they keep every turn taken.
	start := e.clock.Now()
	total := checked
	for round := 1; round <= 300; round++ {
		e.clock.Advance(time.Second)
		c, _ := burst(round, 10, 1)
		total += c
		e.delays.take()
	}
	elapsed := e.clock.Now().Sub(start)
	if limit := int(elapsed/DefaultAccountThrottle.Max) + 2; total > limit {
		t.Fatalf("bursts over %v: %d passwords checked, want at most %d (one per 5s turn)", elapsed, total, limit)
	}
	t.Logf("500 guesses at once, then guesses every second for %v: %d passwords checked", elapsed, total)
}

// TestAccountQueueRefusalTakesNoTurn: an attempt refused because the
// account's turns are taken for longer than an attempt may wait does not
// take one, so refusals do not push the next attempt further back.
func TestAccountQueueRefusalTakesNoTurn(t *testing.T) {
	e, h, _, _ := throttledAccount(t)
	for i := range 2 {
		if w := doLogin(h, fmt.Sprintf("2001:db8:1:%x::1", i), "alice@example.com", "guess"); w.Code != 401 {
			t.Fatalf("guess %d with a turn free: %d %s", i, w.Code, w.Body)
		}
	}
	for i := range 50 {
		w := doLogin(h, fmt.Sprintf("2001:db8:2:%x::1", i), "alice@example.com", "guess")
		if w.Code != 429 || w.Header().Get("Retry-After") != "15" || !strings.Contains(w.Body.String(), "queue is full") {
			t.Fatalf("guess %d with the turns taken: %d Retry-After %q %s, want 429 after 15 s (its turn would end then)", i, w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	}
	e.delays.take()
	// One turn later an attempt has a turn again, ending 10 s away, as if
	// the 50 refusals had never been.
	e.clock.Advance(DefaultAccountThrottle.Max)
	if w := doLogin(h, "192.0.2.1", "alice@example.com", "correct horse battery"); w.Code != 200 {
		t.Fatalf("the owner from a new source one turn later: %d %s, want 200", w.Code, w.Body)
	}
	if d := e.delays.take(); len(d) != 1 || d[0] != 10*time.Second {
		t.Fatalf("the owner from a new source one turn later: delays %v, want [10s]", d)
	}
}

// TestOwnerSkipsAccountQueue: while the account's turns are all taken,
// its owner signs in at once with a device token (from anywhere) or
// without one from a source she signed in from before (home, on a new
// browser), and with neither is refused with a short Retry-After, not
// locked; known sources are per account.
func TestOwnerSkipsAccountQueue(t *testing.T) {
	e, h, home, tok := throttledAccount(t)
	e.user(t, "bob@example.com")
	for i := range 5 { // two take the turns, three are refused
		doLogin(h, fmt.Sprintf("2001:db8:1:%x::1", i), "alice@example.com", "guess")
	}
	e.delays.take()
	if w := doLoginDevice(h, "203.0.113.7", "alice@example.com", "correct horse battery", tok); w.Code != 200 {
		t.Fatalf("device token while the queue is full: %d %s, want 200", w.Code, w.Body)
	}
	if w := doLogin(h, home, "alice@example.com", "correct horse battery"); w.Code != 200 {
		t.Fatalf("known source, no device token, while the queue is full: %d %s, want 200", w.Code, w.Body)
	}
	if d := e.delays.take(); len(d) != 0 {
		t.Fatalf("device token and known source delayed %v, want none", d)
	}
	w := doLogin(h, "203.0.113.8", "alice@example.com", "correct horse battery")
	if ra, _ := strconv.Atoi(w.Header().Get("Retry-After")); w.Code != 429 || ra < 1 || ra > 15 {
		t.Fatalf("new source, no device token, while the queue is full: %d Retry-After %q %s, want 429 and at most 15 s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	// Known sources are per account, and expire 30 days after the last
	// sign-in from them.
	l := e.svc.lockout
	alice, err := e.st.GetUserByEmail(t.Context(), "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := e.st.GetUserByEmail(t.Context(), "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if l.known(t.Context(), bob.ID, home) || !l.known(t.Context(), alice.ID, home) {
		t.Fatal("alice's home is a known source of bob, or not of alice")
	}
	e.clock.Advance(knownSourceTTL + time.Second)
	if l.known(t.Context(), alice.ID, home) {
		t.Fatal("a source alice last signed in from 30 days ago is still known")
	}
}

// TestAccountThrottleDelayEndsWithTheRequest: the wait of the throttle
// ends when the request does; the attempt is then refunded (its slots
// freed, nothing counted) and no password is checked.
func TestAccountThrottleDelayEndsWithTheRequest(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.AccountThrottle = store.LockoutPolicy{Threshold: 5, Base: time.Second, Max: 4 * time.Second, Window: 24 * time.Hour}
	})
	e.user(t, "alice@example.com")
	l := e.svc.lockout
	for i := range 5 {
		fail(t, l, "alice@example.com", "198.51.100."+strconv.Itoa(i))
	}
	l.sleep = sleepCtx // the real wait
	n := countVerify(e)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := e.svc.PasswordSignIn(ctx, "alice@example.com", "correct horse battery", ClientMeta{IP: "203.0.113.1"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("sign-in whose request ended during the delay: %v, want context.Canceled", err)
	}
	if n.Load() != 0 {
		t.Fatalf("%d passwords checked after the request ended", n.Load())
	}
	st, _, err := e.st.BeginLoginAttempt(t.Context(), "probe", e.clock.Now(), time.Minute, []store.ThrottleKey{{Key: pairKey("alice@example.com", "203.0.113.1"), Policy: l.source}})
	if err != nil {
		t.Fatal(err)
	}
	if st[0].InFlight != 0 || st[0].Failures != 0 {
		t.Fatalf("the ended attempt left %+v, want its slot freed and no failure", st[0])
	}
	if th, err := e.st.GetLoginThrottle(t.Context(), accountKey("alice@example.com")); err != nil || th.Failures != 5 {
		t.Fatalf("account failures %+v %v, want the 5 before", th, err)
	}
}

// TestDistributedAttackCannotKeepOwnerOut: the review's simulation,
// against the serialized throttle. A distributed attacker (fresh IPv6
// /64s) keeps every turn of alice's account taken for a day, sending
// three guesses every 5 s (one turn). Every 37 s alice signs in: from
// her home (a known source, on a new browser) and with the device token
// of an earlier sign-in from a new network, she gets in every time at
// once; from a new device on a new network (neither) she gets in after
// waiting her turn or is refused with a Retry-After of at most 15 s,
// never a lock. The attacker gets at most one password checked per turn.
// (Here she tries just as a turn frees, before the attacker's next guesses,
// so she gets her turn; TestOwnerSkipsAccountQueue has her arrive while
// every turn is taken: 429 with Retry-After.)
func TestDistributedAttackCannotKeepOwnerOut(t *testing.T) {
	e, h, home, tok := throttledAccount(t)
	checks := countVerify(e)
	n := 0
	src := func() string {
		n++
		return fmt.Sprintf("2001:db8:%x:%x::1", n/65536, n%65536)
	}
	span := 24 * time.Hour
	if testing.Short() {
		span = 2 * time.Hour // keeps -short fast
	}
	start := e.clock.Now()
	end := start.Add(span)
	nextOwner := start
	tries, newIn, newRetry, ownerChecks := 0, 0, 0, 0
	for e.clock.Now().Before(end) {
		if !e.clock.Now().Before(nextOwner) {
			tries++
			nextOwner = nextOwner.Add(37 * time.Second)
			w := doLogin(h, fmt.Sprintf("2001:db8:ffff:%x::1", tries), "alice@example.com", "correct horse battery")
			switch ra, _ := strconv.Atoi(w.Header().Get("Retry-After")); {
			case w.Code == 200:
				newIn++
				ownerChecks++
			case w.Code == 429 && ra >= 1 && ra <= 15:
				newRetry++
			default:
				t.Fatalf("owner's try %d from a new device and network: %d Retry-After %q %s, want 200 or 429 within 15 s", tries, w.Code, w.Header().Get("Retry-After"), w.Body)
			}
			e.delays.take()
			if w := doLogin(h, home, "alice@example.com", "correct horse battery"); w.Code != 200 {
				t.Fatalf("owner's try %d from home: %d %s", tries, w.Code, w.Body)
			}
			if w := doLoginDevice(h, fmt.Sprintf("203.0.113.%d", tries%250), "alice@example.com", "correct horse battery", tok); w.Code != 200 {
				t.Fatalf("owner's try %d with her device token: %d %s", tries, w.Code, w.Body)
			}
			ownerChecks += 2
			if d := e.delays.take(); len(d) != 0 {
				t.Fatalf("owner's try %d from home or with her device token: delays %v, want none", tries, d)
			}
		}
		for range 3 {
			if w := doLogin(h, src(), "alice@example.com", "guess"); w.Code != 401 && w.Code != 429 {
				t.Fatalf("attacker's guess: %d %s", w.Code, w.Body)
			}
		}
		e.delays.take()
		e.clock.Advance(DefaultAccountThrottle.Max)
	}
	guessed := int(checks.Load()) - ownerChecks
	if limit := int(span/DefaultAccountThrottle.Max) + 2; guessed > limit {
		t.Fatalf("%v: %d of the attacker's %d guesses checked, want at most %d (one per turn)", span, guessed, n, limit)
	}
	t.Logf("%v: the owner signed in %d of %d times from home and with her device token; from a new device and network %d times, asked to retry (429, Retry-After ≤ 15 s) %d times; the attacker had %d of %d guesses checked",
		span, tries, tries, newIn, newRetry, guessed, n)
}

// TestLockoutIPv6Prefix: the addresses of one /64 share an IP lock.
func TestLockoutIPv6Prefix(t *testing.T) {
	l := lockoutEnv(t).svc.lockout
	for i := range 8 {
		fail(t, l, "u"+strconv.Itoa(i)+"@example.com", "2001:db8:0:1::"+strconv.Itoa(i+1))
	}
	if w := wait(t, l, "x@example.com", "2001:db8:0:1:abcd::99"); w != time.Minute {
		t.Fatalf("another address of the /64: wait %v, want 1m", w)
	}
	if w := wait(t, l, "x@example.com", "2001:db8:0:2::1"); w != 0 {
		t.Fatalf("another /64 locked: %v", w)
	}
}

func TestLockoutConfig(t *testing.T) {
	bad := store.LockoutPolicy{Threshold: 1, Base: time.Hour, Max: time.Minute, Window: time.Hour}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"source policy", func(c *Config) { c.SourceLockout = bad }, "identity: SourceLockout policy: need Threshold > 0, 0 < Base <= Max <= Window"},
		{"account policy", func(c *Config) { c.AccountThrottle = bad }, "identity: AccountThrottle policy"},
		{"ip policy", func(c *Config) {
			c.IPLockout = store.LockoutPolicy{Base: time.Minute, Max: time.Hour, Window: time.Hour}
		}, "identity: IPLockout policy"},
		{"window shorter than max", func(c *Config) {
			c.SourceLockout = store.LockoutPolicy{Threshold: 3, Base: time.Minute, Max: time.Hour, Window: time.Minute}
		}, "identity: SourceLockout policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			cfg := Config{Store: e.st, Sealer: e.sealer, Logger: testLogger(t), Now: e.clock.Now, Issuer: testIssuer, Audience: testAudience, Argon2: testArgon2}
			tc.mod(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// noAuth refuses every token; the routes under test are public.
type noAuth struct{}

func (noAuth) Authenticate(context.Context, string) (httpapi.Principal, error) {
	return httpapi.Principal{}, errors.New("no authentication in this test")
}

// loginHandler serves the Service's sign-in routes.
func loginHandler(t *testing.T, s *Service) http.Handler {
	t.Helper()
	a, err := httpapi.New(httpapi.Config{Logger: testLogger(t), Registry: prometheus.NewRegistry(), Auth: noAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	a.Mount(s.Routes()...)
	return a.Handler()
}

func doLogin(h http.Handler, ip, email, pw string) *httptest.ResponseRecorder {
	return doLoginDevice(h, ip, email, pw, "")
}

// doLoginDevice is doLogin with a device_token.
func doLoginDevice(h http.Handler, ip, email, pw, device string) *httptest.ResponseRecorder {
	b, _ := json.Marshal(api.LoginRequest{Email: email, Password: pw, DeviceToken: device})
	r := httptest.NewRequest("POST", "/auth/login", bytes.NewReader(b))
	r.RemoteAddr = net.JoinHostPort(ip, "1234")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestLoginLockoutHTTP: POST /auth/login refuses a locked (account,
// source) pair with 429 and Retry-After, even with the right password;
// the account from another source signs in at once; after the lock the
// right password signs in and resets the count.
func TestLoginLockoutHTTP(t *testing.T) {
	e := newEnv(t)
	e.user(t, "a@example.com")
	h := loginHandler(t, e.svc)
	for i := range 5 {
		if w := doLogin(h, "198.51.100.1", "a@example.com", "wrong"); w.Code != 401 {
			t.Fatalf("failure %d: %d %s", i, w.Code, w.Body)
		}
	}
	w := doLogin(h, "198.51.100.1", "a@example.com", "correct horse battery")
	if w.Code != 429 || w.Header().Get("Retry-After") != "60" || !strings.Contains(w.Body.String(), "too many failed sign-ins") {
		t.Fatalf("locked pair with the right password: %d Retry-After %q %s, want 429 and 60", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := doLogin(h, "198.51.100.2", "a@example.com", "correct horse battery"); w.Code != 200 {
		t.Fatalf("the account from another source: %d %s, want 200", w.Code, w.Body)
	}
	e.clock.Advance(time.Minute)
	if w := doLogin(h, "198.51.100.1", "a@example.com", "correct horse battery"); w.Code != 200 {
		t.Fatalf("after the lock: %d %s", w.Code, w.Body)
	}
	for i := range 4 {
		if w := doLogin(h, "198.51.100.1", "a@example.com", "wrong"); w.Code != 401 {
			t.Fatalf("success did not reset the counter: failure %d answered %d", i, w.Code)
		}
	}
	if w := doLogin(h, "198.51.100.1", "a@example.com", "correct horse battery"); w.Code != 200 {
		t.Fatalf("four failures after a reset: %d %s", w.Code, w.Body)
	}
}

// countVerify counts the password hash checks of e's Service.
func countVerify(e *env) *atomic.Int32 {
	var n atomic.Int32
	e.svc.onVerify = func() { n.Add(1) }
	return &n
}

// TestPasswordSignInConcurrent: concurrent guesses from one source hold a
// slot each before the password is checked, so no more than the threshold
// of passwords get checked; the slots are no failures, so as many right
// passwords at once all sign in.
func TestPasswordSignInConcurrent(t *testing.T) {
	e := newEnv(t)
	e.user(t, "victim@example.com")
	checks := countVerify(e)
	run := func(n int, pw string) []error {
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = e.svc.PasswordSignIn(t.Context(), "victim@example.com", pw, ClientMeta{IP: "198.51.100.7", UserAgent: "test"})
			})
		}
		wg.Wait()
		return errs
	}
	// Five right passwords at once: all sign in.
	for i, err := range run(5, "correct horse battery") {
		if err != nil {
			t.Fatalf("right password %d of 5 at once: %v", i, err)
		}
	}
	checks.Store(0)
	const n = 50
	checked, refused := 0, 0
	for _, err := range run(n, "wrong") {
		switch {
		case errors.Is(err, ErrInvalidCredentials):
			checked++
		case errors.Is(err, ErrTooManyAttempts):
			refused++
		default:
			t.Fatalf("unexpected answer %v", err)
		}
	}
	if got := int(checks.Load()); got > DefaultSourceLockout.Threshold || checked != got || checked+refused != n {
		t.Fatalf("%d concurrent guesses from one source, threshold %d: %d passwords checked, %d answered wrong, %d refused",
			n, DefaultSourceLockout.Threshold, got, checked, refused)
	}
}

// TestPasswordSignInMFARequired: a right password answered with a
// second-factor challenge neither resets the email's failures nor counts
// as one; the second factor, once right, resets them.
func TestPasswordSignInMFARequired(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	u, secret, _ := e.enrolled(t, "m@example.com")
	signIn := func(pw string) (SignInResult, error) {
		return e.svc.PasswordSignIn(ctx, u.Email, pw, testMeta)
	}
	for i := range 4 {
		if _, err := signIn("wrong"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
		if res, err := signIn("correct horse battery"); err != nil || !res.MFARequired {
			t.Fatalf("mfa_required %d: %+v %v", i, res, err)
		}
	}
	// A right second factor resets the four failures.
	res, err := signIn("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CompleteMFA(ctx, res.MFAToken, TOTPCode(secret, e.clock.Now()), testMeta); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := signIn("wrong"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d after the reset: %v", i, err)
		}
	}
	if _, err := signIn("correct horse battery"); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("after 5 failures with mfa_required answers between them: %v, want ErrTooManyAttempts (no reset)", err)
	}
}

// TestOneLockoutForEverySignIn: every check of a password consults the
// same lockout (the sign-in forms of the authorization server call
// PasswordSignIn; internal/server's TestAuthorize covers them over HTTP),
// with the configured policy: failures at one path lock the
// others, and a second factor completed after a password sign-in resets
// it for all of them.
func TestOneLockoutForEverySignIn(t *testing.T) {
	three := store.LockoutPolicy{Threshold: 3, Base: 2 * time.Minute, Max: time.Hour, Window: 24 * time.Hour}
	type path struct {
		name string
		try  func(e *env, u store.User, pw string) error
	}
	paths := []path{
		{"PasswordSignIn", func(e *env, u store.User, pw string) error {
			_, err := e.svc.PasswordSignIn(context.Background(), u.Email, pw, testMeta)
			return err
		}},
		{"Login", func(e *env, u store.User, pw string) error {
			_, err := e.svc.Login(context.Background(), u.Email, pw, testMeta)
			if errors.Is(err, ErrMFARequired) {
				return nil // the password was right
			}
			return err
		}},
		{"POST /auth/login", func(e *env, u store.User, pw string) error {
			w := doLogin(loginHandler(t, e.svc), testMeta.IP, u.Email, pw)
			switch w.Code {
			case 401:
				return ErrInvalidCredentials
			case 429:
				return ErrTooManyAttempts
			case 200:
				return nil
			}
			return errors.New(w.Body.String())
		}},
		{"DisableMFA password", func(e *env, u store.User, pw string) error {
			return e.svc.DisableMFA(context.Background(), u, "", pw, testMeta)
		}},
	}
	for _, failAt := range paths {
		for _, checkAt := range paths {
			t.Run(failAt.name+" locks "+checkAt.name, func(t *testing.T) {
				// A user with 2FA, so that every path checks the password.
				e := newEnv(t, func(c *Config) { c.SourceLockout = three })
				u, _, _ := e.enrolled(t, "one@example.com")
				for i := range 3 {
					if err := failAt.try(e, u, "wrong"); !errors.Is(err, ErrInvalidCredentials) {
						t.Fatalf("wrong password %d: %v", i, err)
					}
				}
				err := checkAt.try(e, u, "correct horse battery")
				var tm *TooManyAttemptsError
				if !errors.As(err, &tm) && !errors.Is(err, ErrTooManyAttempts) {
					t.Fatalf("right password after 3 failures: %v, want ErrTooManyAttempts", err)
				}
				if tm != nil && tm.RetryAfter != 2*time.Minute {
					t.Fatalf("locked for %v, want the configured 2m", tm.RetryAfter)
				}
			})
		}
	}
	t.Run("a completed second factor resets every path", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.SourceLockout = three })
		u, secret, _ := e.enrolled(t, "two@example.com")
		for range 2 {
			if _, err := e.svc.PasswordSignIn(context.Background(), u.Email, "wrong", testMeta); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatal(err)
			}
		}
		res, err := e.svc.PasswordSignIn(context.Background(), u.Email, "correct horse battery", testMeta)
		if err != nil || !res.MFARequired {
			t.Fatalf("%+v %v", res, err)
		}
		if _, err := e.svc.CompleteMFA(context.Background(), res.MFAToken, TOTPCode(secret, e.clock.Now()), testMeta); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := e.svc.DisableMFA(context.Background(), u, "", "wrong", testMeta); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("wrong password %d after the reset: %v", i, err)
			}
		}
		if res, err := e.svc.PasswordSignIn(context.Background(), u.Email, "correct horse battery", testMeta); err != nil || !res.MFARequired {
			t.Fatalf("two failures after the reset locked the sign-in: %+v %v", res, err)
		}
	})
}

// TestAttemptSlotOutlivesRequestTimeout: the slot of an attempt in flight
// is held as long as its request can run (RequestTimeout, here 2m, above
// the old fixed minute) plus a margin, so a source cannot get more than
// the threshold checked by attempts that wait long (for a hashing slot,
// or the throttle's delay); the slot of a process that died is freed
// after that.
func TestAttemptSlotOutlivesRequestTimeout(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RequestTimeout = 2 * time.Minute })
	l := e.svc.lockout
	var held []*attempt
	for range 5 {
		a, err := l.begin(t.Context(), "", "alice@example.com", "192.0.2.7", "")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, a)
	}
	e.clock.Advance(2 * time.Minute) // the requests may still be running
	if w := wait(t, l, "alice@example.com", "192.0.2.7"); w == 0 {
		t.Fatal("a 6th attempt was admitted while 5 may still be in flight")
	}
	e.clock.Advance(time.Minute) // request timeout plus the margin: dead
	if w := wait(t, l, "alice@example.com", "192.0.2.7"); w != 0 {
		t.Fatalf("the slots of attempts past their request's timeout still refuse: %v", w)
	}
	for _, a := range held {
		a.refund(t.Context())
	}
}

type hangUpKey struct{}

// TestHangingUpInTheQueueCostsAGuess: an attempt whose request ends while
// it waits for its turn on a throttled account spent that turn, so it
// counts as a failure of its address (pair and source) though no password
// was checked. Else one address, never locked, could hold the account's
// queue by hanging up during each turn, and the owner on a new device and
// network would be refused every time.
func TestHangingUpInTheQueueCostsAGuess(t *testing.T) {
	e, h, _, _ := throttledAccount(t)
	l := e.svc.lockout
	l.sleep = func(ctx context.Context, d time.Duration) error {
		if ctx.Value(hangUpKey{}) != nil {
			return context.Canceled // the attacker hangs up during its turn
		}
		return nil
	}
	const attacker = "203.0.113.66" // one IPv4 address
	actx := context.WithValue(t.Context(), hangUpKey{}, true)
	in, refused := 0, 0
	for step := range 1800 { // 30 minutes in 1 s steps
		for range 3 {
			_, _ = e.svc.PasswordSignIn(actx, "alice@example.com", "guess", ClientMeta{IP: attacker})
		}
		if step%37 == 0 {
			if w := doLogin(h, fmt.Sprintf("2001:db8:eeee:%x::1", step), "alice@example.com", "correct horse battery"); w.Code == 200 {
				in++
			} else {
				refused++
			}
		}
		e.clock.Advance(time.Second)
	}
	th, err := e.st.GetLoginThrottle(t.Context(), pairKey("alice@example.com", attacker))
	if err != nil {
		t.Fatal(err)
	}
	if th.Failures < 5 {
		t.Errorf("the attacker's hang-ups counted %d failures on its address, want them counted (5 lock it)", th.Failures)
	}
	if in < refused {
		t.Errorf("owner on a new device and network: in %d, refused %d; one hanging-up address holds the queue", in, refused)
	}
}
