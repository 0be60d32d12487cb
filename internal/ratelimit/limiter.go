package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hexabase/hexabase-ai/internal/required"
)

// Config configures a Limiter.
type Config struct {
	// JS is the JetStream API whose key-value store holds the buckets.
	JS jetstream.JetStream
	// Bucket names the key-value bucket ("hks_ratelimit_ip"). Limiters
	// with different rates must use different buckets.
	Bucket string
	// Rate is how many requests per second a key earns; Burst how many it
	// may spend at once (the bucket's capacity). Both must be positive.
	Rate  float64
	Burst int
	// Retries bounds compare-and-swap attempts under contention (8).
	Retries int
	Logger  *slog.Logger
	Now     func() time.Time
}

// Limiter is a token-bucket rate limiter shared through NATS KV. It is safe
// for concurrent use, and by several processes sharing one NATS.
type Limiter struct {
	kv    jetstream.KeyValue
	local localCache
	// locks serialize decisions on one key within this process, so that
	// compare-and-swap conflicts only come from other replicas.
	locks   [64]sync.Mutex
	rate    float64
	burst   float64
	retries int
	log     *slog.Logger
	now     func() time.Time
}

// Decision is the outcome of Allow.
type Decision struct {
	Allowed bool
	// RetryAfter is when the next request would be allowed (refusals).
	RetryAfter time.Duration
	// Remaining tokens after this request.
	Remaining int
}

// state is what the bucket stores per key.
type state struct {
	Tokens float64 `json:"t"`
	At     int64   `json:"at"` // unix nanoseconds of the last update
}

// New creates (or updates) the key-value bucket and returns a Limiter.
func New(ctx context.Context, cfg Config) (*Limiter, error) {
	if err := required.Fields("ratelimit", cfg, "JS", "Logger", "Now", "Bucket"); err != nil {
		return nil, err
	}
	switch {
	case !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0):
		return nil, errors.New("ratelimit: Rate must be positive")
	case cfg.Burst <= 0:
		return nil, errors.New("ratelimit: Burst must be positive")
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 8
	}
	// An idle key is full again after Burst/Rate; keep it a little longer
	// so that expiry never hands out more than a full bucket.
	ttl := time.Duration(float64(cfg.Burst)/cfg.Rate*float64(time.Second)) + time.Minute
	kv, err := cfg.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "hks rate limit token buckets",
		TTL:         ttl,
		History:     1,
		Storage:     jetstream.MemoryStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("ratelimit: key-value bucket %s: %w", cfg.Bucket, err)
	}
	return &Limiter{kv: kv, rate: cfg.Rate, burst: float64(cfg.Burst), retries: cfg.Retries, log: cfg.Logger, now: cfg.Now,
		local: localCache{m: map[string]localEntry{}, max: localCacheMax}}, nil
}

// localCacheMax bounds the local fast path's memory.
const localCacheMax = 50_000

// localCache is the fast path: the last state this process wrote for a
// key, with its revision, so that the next decision can try the
// compare-and-swap without reading first (a conflict means another
// replica wrote since: read and retry); and refusals, which hold until
// their RetryAfter whatever other replicas do, as they can only spend
// tokens, never add them.
type localCache struct {
	mu  sync.Mutex
	m   map[string]localEntry
	max int
}

type localEntry struct {
	st           state
	rev          uint64
	refusedUntil int64 // unix nanoseconds; 0: not refused
}

func (c *localCache) get(k string) (localEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	return e, ok
}

func (c *localCache) put(k string, e localEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[k] = e
}

func (c *localCache) drop(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

// kvKey maps any key onto a valid KV key without leaking it.
func kvKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "k." + hex.EncodeToString(sum[:16])
}

// Allow spends one token of key's bucket. When the key-value store fails,
// it allows the request and logs the error (fail open).
func (l *Limiter) Allow(ctx context.Context, key string) Decision {
	d, err := l.allow(ctx, key)
	if err != nil {
		l.log.ErrorContext(ctx, "rate limiter unavailable; allowing the request", "error", err)
		return Decision{Allowed: true}
	}
	return d
}

func (l *Limiter) allow(ctx context.Context, key string) (Decision, error) {
	k := kvKey(key)
	h := fnv.New32a()
	_, _ = h.Write([]byte(k))
	mu := &l.locks[h.Sum32()%uint32(len(l.locks))]
	mu.Lock()
	defer mu.Unlock()
	now := l.now()
	lastTokens := 0.0
	cached, haveCached := l.local.get(k)
	if haveCached && now.UnixNano() < cached.refusedUntil {
		return Decision{Allowed: false, RetryAfter: time.Duration(cached.refusedUntil - now.UnixNano())}, nil
	}
	for attempt := range l.retries {
		var (
			st  state
			rev uint64
		)
		now = l.now()
		var (
			e   jetstream.KeyValueEntry
			err error
		)
		if attempt == 0 && haveCached && cached.rev > 0 {
			st, rev = cached.st, cached.rev // optimistic: try the CAS on what we wrote last
		} else {
			e, err = l.kv.Get(ctx, k)
		}
		switch {
		case rev > 0:
		case errors.Is(err, jetstream.ErrKeyNotFound):
			st = state{Tokens: l.burst, At: now.UnixNano()}
		case err != nil:
			return Decision{}, fmt.Errorf("get %s: %w", k, err)
		default:
			rev = e.Revision()
			if err := json.Unmarshal(e.Value(), &st); err != nil {
				// A corrupt value: start over with a full bucket.
				l.log.WarnContext(ctx, "rate limiter: bad value; resetting", "key", k, "error", err)
				st = state{Tokens: l.burst, At: now.UnixNano()}
			}
		}
		if elapsed := now.UnixNano() - st.At; elapsed > 0 {
			st.Tokens = math.Min(l.burst, st.Tokens+float64(elapsed)/float64(time.Second)*l.rate)
			st.At = now.UnixNano()
		}
		if st.Tokens < 1 {
			wait := time.Duration((1 - st.Tokens) / l.rate * float64(time.Second))
			if attempt == 0 && haveCached && cached.rev > 0 {
				// Decided on the cached state: others may only have
				// spent more, so the refusal stands; but read once
				// to learn the current revision for later.
				l.local.drop(k)
			}
			l.local.put(k, localEntry{refusedUntil: now.UnixNano() + int64(wait)})
			return Decision{Allowed: false, RetryAfter: wait}, nil
		}
		lastTokens = st.Tokens
		st.Tokens--
		b, _ := json.Marshal(st)
		var newRev uint64
		if rev == 0 {
			newRev, err = l.kv.Create(ctx, k, b)
		} else {
			newRev, err = l.kv.Update(ctx, k, b, rev)
		}
		if err == nil {
			l.local.put(k, localEntry{st: st, rev: newRev})
			return Decision{Allowed: true, Remaining: int(st.Tokens)}, nil
		}
		l.local.drop(k)
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // another request or replica updated the key first
		}
		return Decision{}, fmt.Errorf("update %s: %w", k, err)
	}
	// Lost every race to other replicas: decide on the last state read,
	// which had a token to spare, rather than refuse a request the
	// budget allows.
	if lastTokens >= 1 {
		return Decision{Allowed: true, Remaining: int(lastTokens - 1)}, nil
	}
	return Decision{Allowed: false, RetryAfter: time.Second}, nil
}
