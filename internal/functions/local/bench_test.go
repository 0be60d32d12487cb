package local

import (
	"context"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

var benchRuntimes = []string{engine.RuntimeNode, engine.RuntimePython, engine.RuntimeGo, engine.RuntimeWasm}

// BenchmarkColdStart times calls that each specialize a warm loader: the
// version is forgotten and the pool refilled between calls, off the clock.
func BenchmarkColdStart(b *testing.B) {
	e := newEngine(b, "", func(c *Config) { c.PoolSize = 2 })
	for _, rt := range benchRuntimes {
		b.Run(rt, func(b *testing.B) {
			v := version(b, rt, helloCode[rt], engine.Limits{})
			if err := e.Build(context.Background(), v); err != nil {
				b.Fatal(err)
			}
			req := engine.Request{Method: "GET", Path: "/"}
			for b.Loop() {
				b.StopTimer()
				e.Forget(v.Key)
				if p := e.pools[rt]; p != nil {
					testutil.WaitFor(b, 30*time.Second, "a full pool", func() bool { return p.readyCount() == e.cfg.PoolSize })
				}
				b.StartTimer()
				res, err := e.Invoke(context.Background(), v, req)
				if err != nil || res.ExitReason != "" || (rt != engine.RuntimeWasm && !res.ColdStart) {
					b.Fatalf("%+v %v", res, err)
				}
			}
		})
	}
}

// BenchmarkWarmInvoke times calls of a warm instance.
func BenchmarkWarmInvoke(b *testing.B) {
	e := newEngine(b, "", nil)
	for _, rt := range benchRuntimes {
		b.Run(rt, func(b *testing.B) {
			v := version(b, rt, helloCode[rt], engine.Limits{})
			req := engine.Request{Method: "GET", Path: "/"}
			if _, err := e.Invoke(context.Background(), v, req); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				res, err := e.Invoke(context.Background(), v, req)
				if err != nil || res.ExitReason != "" {
					b.Fatalf("%+v %v", res, err)
				}
			}
		})
	}
}
