package ratelimit

import (
	"fmt"
	"sync"
	"time"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// Concurrency caps how many things per key are open at once: long-lived
// requests (watches, followed logs, upgraded connections) per user or per
// workspace. Unlike Limiter it counts in this process only: what it
// protects (the processes a workspace runs on this machine) is per
// machine too. It starts no goroutine, and a key's entry goes once its
// count is back to 0, so idle keys cost nothing. Safe for concurrent use.
type Concurrency struct {
	max  int
	mu   sync.Mutex
	open map[string]int
}

// NewConcurrency returns a Concurrency that admits up to max at once per
// key; max must be positive.
func NewConcurrency(max int) (*Concurrency, error) {
	if max <= 0 {
		return nil, fmt.Errorf("ratelimit: concurrency cap %d must be positive", max)
	}
	return &Concurrency{max: max, open: map[string]int{}}, nil
}

// Max is the cap per key.
func (c *Concurrency) Max() int { return c.max }

// Acquire counts one more open for key and returns the function that
// counts it closed (it may be called more than once; the first call
// counts). ok is false, and nothing is counted, when key has Max open
// already; release is then a no-op.
func (c *Concurrency) Acquire(key string) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[key] >= c.max {
		return func() {}, false
	}
	c.open[key]++
	var once sync.Once
	return func() { once.Do(func() { c.release(key) }) }, true
}

func (c *Concurrency) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.open[key] - 1; n > 0 {
		c.open[key] = n
	} else {
		delete(c.open, key)
	}
}

// Open is how many are open for key now.
func (c *Concurrency) Open(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open[key]
}

// tooManyOpenRetry is the Retry-After of TooManyOpen: streams end when
// their clients close them, so there is no better time to name.
const tooManyOpenRetry = 5 * time.Second

// TooManyOpen is the 429 problem (rate-limited, with Retry-After) for a
// request that key could not Acquire: how many what (say "long-lived
// requests of this user") are open and the cap.
func (c *Concurrency) TooManyOpen(key, what string) *httpapi.Error {
	return httpapi.TooManyRequests(tooManyOpenRetry,
		fmt.Sprintf("%d %s are open, and at most %d may be at once: close one, or retry later", c.Open(key), what, c.max))
}
