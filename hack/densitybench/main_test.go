package main

import (
	"testing"
	"time"
)

// Of 20 samples the 95th percentile is the 19th, not the largest, and
// the median the 10th: nearest rank, never an index past it.
func TestPctsAreNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 20; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Second)
	}
	p := pcts(ds)
	if p.N != 20 || p.P50s != 10 || p.P95s != 19 || p.Maxs != 20 {
		t.Fatalf("pcts of 1..20 s = %+v, want n 20, p50 10, p95 19, max 20", *p)
	}
	if one := pcts([]time.Duration{3 * time.Second}); one.P50s != 3 || one.P95s != 3 {
		t.Fatalf("pcts of one sample = %+v", *one)
	}
	if pcts(nil) != nil {
		t.Fatal("pcts of nothing is not nil")
	}
}
