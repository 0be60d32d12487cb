package scriptedmodel

import (
	"fmt"
	"slices"
	"time"
)

// Latencies pairs the times answers' first content chunks were sent
// (FirstChunkSentAt) with the times their first token was seen further on
// (by the platform, the CLI or the browser, in the same order) and returns
// the differences: the time to the first token forwarded.
func Latencies(sent, received []time.Time) ([]time.Duration, error) {
	if len(sent) != len(received) {
		return nil, fmt.Errorf("latencies: %d first chunks sent, %d first tokens received", len(sent), len(received))
	}
	out := make([]time.Duration, len(sent))
	for i := range sent {
		out[i] = received[i].Sub(sent[i])
	}
	return out, nil
}

// Percentile returns the q-th percentile (0 < q ≤ 100) of ds by the
// nearest-rank method; 0 for no durations.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(q/100*float64(len(s)) + 0.999999999)
	return s[min(max(rank, 1), len(s))-1]
}
