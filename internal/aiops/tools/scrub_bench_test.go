package tools

import (
	"fmt"
	"strings"
	"testing"
)

// adversarialShapes are inputs of about n bytes made to slow a scrubber
// down: each repeats a fragment the patterns or the YAML pass look at.
func adversarialShapes(n int) map[string]string {
	rep := func(head, unit string) string {
		var b strings.Builder
		b.WriteString(head)
		for b.Len() < n {
			b.WriteString(unit)
		}
		return b.String()
	}
	return map[string]string{
		"data lines":       rep("kind: Secret\n", "data:\n"),
		"nested secrets":   rep("", "- kind: Secret\n  data:\n    k: dg==\n  items:\n  - kind: Secret\n    stringData:\n      p: x\n"),
		"deep indentation": rep("kind: Secret\n", "data:\n"+strings.Repeat(" ", 40)+"x: y\n"),
		"long line":        rep("kind: Secret\ndata: ", "a"),
		"pem begin":        rep("", "-----BEGIN X-----\n"),
		"pem base64":       rep("", "LS0tLS1CRUdJTi "),
		"jwt prefixes":     rep("", "eyJab.eyJ"),
		"env names":        rep("", "- name: DB_PASSWORD\n"),
		"json secret":      rep(`{"kind":"Secret","data":{`, `"data":{`),
		"url userinfo":     rep("", "postgres://u:"),
		"headless pem":     rep("", "QUJD\n-----END PRIVATE KEY-----\n"),
		"env json":         rep("", `{"value":"x","name":"DB_PASSWORD"`),
	}
}

// BenchmarkScrubAdversarial scrubs each adversarial shape at 64 KiB and
// 1 MiB: the time per byte must not grow with the size.
func BenchmarkScrubAdversarial(b *testing.B) {
	for _, n := range []int{64 << 10, 1 << 20} {
		for name, in := range adversarialShapes(n) {
			b.Run(fmt.Sprintf("%s/%dKiB", strings.ReplaceAll(name, " ", "_"), n>>10), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				for i := 0; i < b.N; i++ {
					Scrub(in)
				}
			})
		}
	}
}

// TestScrubGrowsLinearly scrubs every adversarial shape at two sizes and
// compares the allocations: twice the text may cost about twice as many,
// not four times (the YAML pass once parsed the whole mapping around
// every data: line again).
func TestScrubGrowsLinearly(t *testing.T) {
	small, large := adversarialShapes(4<<10), adversarialShapes(8<<10)
	for name := range small {
		t.Run(name, func(t *testing.T) {
			a := testing.AllocsPerRun(1, func() { Scrub(small[name]) })
			b := testing.AllocsPerRun(1, func() { Scrub(large[name]) })
			if b > 3*a+50 {
				t.Errorf("Scrub of %s: %.0f allocations at 4 KiB, %.0f at 8 KiB: it grows faster than the text", name, a, b)
			}
		})
	}
}

// TestScrubAdversarialLarge scrubs more than MaxScrubInput of every
// adversarial shape: the text is cut with a mark and nothing of a
// Secret's values is left.
func TestScrubAdversarialLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("scrubs megabytes")
	}
	for name, in := range adversarialShapes(MaxScrubInput + 64<<10) {
		t.Run(name, func(t *testing.T) {
			out := Scrub(in)
			if !strings.Contains(out, "[truncated: ") {
				t.Errorf("Scrub of %d bytes: no truncation mark", len(in))
			}
			if len(out) > MaxScrubInput+1<<20 {
				t.Errorf("Scrub of %d bytes: %d bytes out", len(in), len(out))
			}
			for _, leak := range []string{"dg==", "-----BEGIN", "QUJD\n-----END"} {
				if strings.Contains(out, leak) {
					t.Errorf("Scrub of %s left %q", name, leak)
				}
			}
		})
	}
}
