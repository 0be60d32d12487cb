package every

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestDo(t *testing.T) {
	t.Run("at once, then every interval, until the context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var calls atomic.Int32
		done := make(chan error)
		go func() {
			done <- Do(ctx, 20*time.Millisecond, func(context.Context) {
				if calls.Add(1) == 3 {
					cancel()
				}
			})
		}()
		select {
		case err := <-done:
			if err != nil || calls.Load() != 3 {
				t.Fatalf("Do = %v after %d calls, want nil after 3", err, calls.Load())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Do did not return after its context ended")
		}
	})
	t.Run("first call without waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		var first time.Duration
		_ = Do(ctx, time.Hour, func(context.Context) { first = time.Since(start); cancel() })
		if first > time.Second {
			t.Fatalf("first call after %v", first)
		}
	})
	t.Run("an ended context calls nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := Do(ctx, time.Millisecond, func(context.Context) { t.Fatal("called") }); err != nil {
			t.Fatal(err)
		}
	})
}
