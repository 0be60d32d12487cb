package ratelimit

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrencyCapsEachKeyApart: a key gets Max at once and no more;
// another key is not affected; releasing one admits one more; a release
// called twice counts once; and a key whose count is back to 0 has no
// entry left.
func TestConcurrencyCapsEachKeyApart(t *testing.T) {
	c, err := NewConcurrency(2)
	if err != nil {
		t.Fatal(err)
	}
	r1, ok1 := c.Acquire("user:a")
	r2, ok2 := c.Acquire("user:a")
	r3, ok3 := c.Acquire("user:a")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquires of one key: %v %v %v, want true true false", ok1, ok2, ok3)
	}
	r3() // a refusal's release is a no-op
	if n := c.Open("user:a"); n != 2 {
		t.Fatalf("open %d, want 2", n)
	}
	rb, okb := c.Acquire("user:b")
	if !okb {
		t.Fatal("another key was refused")
	}
	r1()
	r1() // counts once
	if n := c.Open("user:a"); n != 1 {
		t.Fatalf("after one release (called twice): open %d, want 1", n)
	}
	r4, ok4 := c.Acquire("user:a")
	if !ok4 {
		t.Fatal("refused after a release")
	}
	if _, ok := c.Acquire("user:a"); ok {
		t.Fatal("admitted beyond the cap after a release")
	}
	r2()
	r4()
	rb()
	if k := c.keys(); k != 0 {
		t.Fatalf("%d keys left with nothing open, want 0", k)
	}
}

func TestNewConcurrencyRejectsANonPositiveCap(t *testing.T) {
	for _, max := range []int{0, -1} {
		if _, err := NewConcurrency(max); err == nil {
			t.Errorf("NewConcurrency(%d) accepted", max)
		}
	}
}

// TestConcurrencyUnderContention (run with -race): many goroutines on a
// few keys never have more than Max of one key open at once, and every
// entry is gone once all is released.
func TestConcurrencyUnderContention(t *testing.T) {
	const max, keys, workers, rounds = 3, 4, 32, 200
	c, err := NewConcurrency(max)
	if err != nil {
		t.Fatal(err)
	}
	var open [keys]atomic.Int32
	var over atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				k := (w + i) % keys
				release, ok := c.Acquire("k" + strconv.Itoa(k))
				if !ok {
					continue
				}
				if open[k].Add(1) > max {
					over.Add(1)
				}
				open[k].Add(-1)
				release()
			}
		})
	}
	wg.Wait()
	if over.Load() != 0 {
		t.Fatalf("%d times more than %d of one key were open", over.Load(), max)
	}
	if k := c.keys(); k != 0 {
		t.Fatalf("%d keys left after every release, want 0", k)
	}
}

// keys is how many keys have an entry (for tests: idle keys have none).
func (c *Concurrency) keys() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.open)
}
