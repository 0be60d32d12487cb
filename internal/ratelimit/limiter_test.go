package ratelimit

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/messaging"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// twoConns starts an embedded NATS listening on loopback and returns two
// separate connections to it, as two replicas would have.
func twoConns(t *testing.T) (a, b *messaging.Conn) {
	t.Helper()
	a, err := messaging.StartEmbedded(messaging.EmbeddedConfig{StoreDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err = messaging.Connect(ctx, messaging.ConnectConfig{URL: a.ClientURL(), Name: "replica-2", Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Shutdown(context.Background()) })
	return a, b
}

func newLimiter(t *testing.T, c *messaging.Conn, clk *clock, rate float64, burst, retries int) *Limiter {
	t.Helper()
	l, err := New(t.Context(), Config{JS: c.JetStream(), Bucket: "test_rl", Rate: rate, Burst: burst, Retries: retries, Logger: discard(), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLimiterSharedAcrossReplicas(t *testing.T) {
	a, b := twoConns(t)
	clk := newClock()
	la := newLimiter(t, a, clk, 1, 5, 0)
	lb := newLimiter(t, b, clk, 1, 5, 0)
	ctx := t.Context()
	allowed := 0
	for i := range 10 {
		l := la
		if i%2 == 1 {
			l = lb
		}
		if l.Allow(ctx, "ip:192.0.2.1").Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("two replicas allowed %d requests, want the shared burst of 5", allowed)
	}
	d := lb.Allow(ctx, "ip:192.0.2.1")
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Second {
		t.Fatalf("empty bucket: %+v, want refusal with RetryAfter in (0, 1s]", d)
	}
	// Another key has its own budget.
	if !la.Allow(ctx, "ip:192.0.2.2").Allowed {
		t.Fatal("another key was refused")
	}
	// Tokens come back at Rate.
	clk.add(2 * time.Second)
	if !la.Allow(ctx, "ip:192.0.2.1").Allowed || !lb.Allow(ctx, "ip:192.0.2.1").Allowed {
		t.Fatal("refilled tokens refused")
	}
	if lb.Allow(ctx, "ip:192.0.2.1").Allowed {
		t.Fatal("more than the refill allowed")
	}
}

func TestLimiterConcurrentReplicas(t *testing.T) {
	a, b := twoConns(t)
	clk := newClock()
	ls := []*Limiter{newLimiter(t, a, clk, 0.001, 20, 1000), newLimiter(t, b, clk, 0.001, 20, 1000)}
	var n atomic.Int64
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			if ls[i%2].Allow(t.Context(), "user:u1").Allowed {
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if n.Load() != 20 {
		t.Fatalf("%d concurrent requests on two replicas were allowed, want exactly the burst of 20", n.Load())
	}
}

func TestLimiterFailsOpen(t *testing.T) {
	_, b := twoConns(t)
	var logs bytes.Buffer
	clk := newClock()
	l, err := New(t.Context(), Config{JS: b.JetStream(), Bucket: "test_rl", Rate: 1, Burst: 1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Allow(t.Context(), "k").Allowed {
		t.Fatal("first request refused")
	}
	if l.Allow(t.Context(), "k").Allowed {
		t.Fatal("second request allowed with burst 1")
	}
	if err := b.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Second) // past the refusal, which the fast path keeps locally
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if !l.Allow(ctx, "k").Allowed {
		t.Fatal("with NATS unreachable the limiter refused; it must fail open")
	}
	if !strings.Contains(logs.String(), "rate limiter unavailable") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("failing open was not logged as an error: %s", logs.String())
	}
}

func TestLimiterConfig(t *testing.T) {
	a, _ := twoConns(t)
	clk := newClock()
	good := Config{JS: a.JetStream(), Bucket: "b", Rate: 1, Burst: 1, Logger: discard(), Now: clk.now}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no JS", func(c *Config) { c.JS = nil }, "JS is required"},
		{"no logger", func(c *Config) { c.Logger = nil }, "Logger is required"},
		{"no clock", func(c *Config) { c.Now = nil }, "Now is required"},
		{"no bucket", func(c *Config) { c.Bucket = "" }, "Bucket is required"},
		{"zero rate", func(c *Config) { c.Rate = 0 }, "Rate must be positive"},
		{"negative burst", func(c *Config) { c.Burst = -1 }, "Burst must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			if _, err := New(t.Context(), c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New(t.Context(), good); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLimiterAllow measures one decision (a KV read and a CAS write)
// against the embedded NATS, connected in-process as the platform is.
func BenchmarkLimiterAllow(b *testing.B) {
	c, err := messaging.StartEmbedded(messaging.EmbeddedConfig{StoreDir: b.TempDir(), Logger: discard()})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Shutdown(context.Background()) }()
	l, err := New(context.Background(), Config{JS: c.JetStream(), Bucket: "bench", Rate: 1e6, Burst: 1e6, Logger: discard(), Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if !l.Allow(ctx, "ip:192.0.2."+strconv.Itoa(i%200)).Allowed {
			b.Fatal("refused")
		}
	}
}

// TestLimiterBurstWithinBudget: a parallel burst from one process well under
// the bucket's capacity is allowed in full, with the default retries (a
// regression: losing compare-and-swap races to this process's own requests
// used to refuse them).
func TestLimiterBurstWithinBudget(t *testing.T) {
	a, _ := twoConns(t)
	l := newLimiter(t, a, newClock(), 1, 1000, 0)
	var wg sync.WaitGroup
	var refused atomic.Int64
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !l.Allow(context.Background(), "10.0.0.1").Allowed {
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := refused.Load(); n != 0 {
		t.Fatalf("%d of 200 requests refused with a burst of 1000", n)
	}
}
