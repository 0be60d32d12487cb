// Package every runs periodic work in the background parts of the
// platform (sweepers, key rotation): Do calls a function at once and then
// once per interval until its context ends.
package every

import (
	"context"
	"time"
)

// Do calls fn(ctx) at once and then every interval until ctx ends; a call
// that overruns an interval delays the next rather than overlapping it.
// It returns nil when ctx ends, so that it fits an errgroup of background
// parts.
func Do(ctx context.Context, interval time.Duration, fn func(ctx context.Context)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		fn(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
