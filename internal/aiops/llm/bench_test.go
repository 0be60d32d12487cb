package llm_test

import (
	"context"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/aiops/llm"
	"github.com/hexabase/hexabase-ai/internal/testutil/scriptedmodel"
)

// BenchmarkFirstDeltaForwarded measures the client's share of the issue's
// "first streamed token forwarded within 20 ms of the model sending it":
// from the scripted server flushing an answer's first content chunk to
// onDelta receiving it (loopback, SSE parsing, chunk decoding). ns/op is a
// whole streamed answer of five words in two chunks; first-delta-p50-µs and
// first-delta-p95-µs are the figures for the target.
func BenchmarkFirstDeltaForwarded(b *testing.B) {
	s := scriptedmodel.Start(b, scriptedmodel.Turn{Content: "Scaling web to five replicas.", Repeat: true})
	c := newClient(b, s.URL())
	req := llm.Request{Messages: []llm.Message{{Role: "system", Content: "You help with Kubernetes."}, {Role: "user", Content: "scale web to 5"}}}
	ctx := context.Background()
	var received []time.Time
	for b.Loop() {
		first := true
		if _, err := c.Stream(ctx, req, func(string) {
			if first {
				received = append(received, time.Now())
				first = false
			}
		}); err != nil {
			b.Fatal(err)
		}
	}
	ds, err := scriptedmodel.Latencies(s.FirstChunkSentAt(), received)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(scriptedmodel.Percentile(ds, 50).Nanoseconds())/1e3, "first-delta-p50-µs")
	b.ReportMetric(float64(scriptedmodel.Percentile(ds, 95).Nanoseconds())/1e3, "first-delta-p95-µs")
}
