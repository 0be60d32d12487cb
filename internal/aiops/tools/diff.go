package tools

import (
	"fmt"
	"strings"
)

// maxDiffCells bounds the LCS table of a diff; larger inputs are shown
// as a replacement of every line that differs between their common
// prefix and suffix.
const maxDiffCells = 4 << 20

// unifiedDiff is the unified diff (3 lines of context) of two texts, ""
// when they are equal.
func unifiedDiff(fromName, toName, a, b string) string {
	if a == b {
		return ""
	}
	al, bl := splitLines(a), splitLines(b)
	ops := diffLines(al, bl)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", fromName, toName)
	const ctx = 3
	// Hunks: changes less than 2*ctx equal lines apart go together,
	// with ctx equal lines around.
	var changed []int
	for i, o := range ops {
		if o.kind != ' ' {
			changed = append(changed, i)
		}
	}
	for c := 0; c < len(changed); {
		first, last := changed[c], changed[c]
		for c++; c < len(changed) && changed[c]-last <= 2*ctx+1; c++ {
			last = changed[c]
		}
		start, end := max(first-ctx, 0), min(last+ctx+1, len(ops))
		aStart, bStart, aN, bN := -1, -1, 0, 0
		for _, o := range ops[start:end] {
			if o.kind != '+' {
				if aStart < 0 {
					aStart = o.a
				}
				aN++
			}
			if o.kind != '-' {
				if bStart < 0 {
					bStart = o.b
				}
				bN++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(aStart, aN, ops[start].a), hunkRange(bStart, bN, ops[start].b))
		for _, o := range ops[start:end] {
			out.WriteByte(o.kind)
			out.WriteString(o.line)
			out.WriteByte('\n')
		}
	}
	return out.String()
}

func hunkRange(start, n, at int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", at)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// op is one line of a diff: kind ' ', '-' or '+', and the line's index
// in a (for ' ' and '-') and in b (for ' ' and '+'); for an insertion a
// is where it goes in a, and for a deletion b likewise.
type op struct {
	kind byte
	line string
	a, b int
}

// diffLines is a shortest edit script of a into b by longest common
// subsequence, after taking off the common prefix and suffix.
func diffLines(a, b []string) []op {
	var ops []op
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		ops = append(ops, op{' ', a[p], p, p})
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	am, bm := a[p:len(a)-s], b[p:len(b)-s]
	if len(am)*len(bm) > maxDiffCells {
		for i, l := range am {
			ops = append(ops, op{'-', l, p + i, p})
		}
		for j, l := range bm {
			ops = append(ops, op{'+', l, p + len(am), p + j})
		}
	} else {
		// lcs[i][j]: the LCS length of am[i:] and bm[j:].
		n, m := len(am), len(bm)
		lcs := make([][]int32, n+1)
		for i := range lcs {
			lcs[i] = make([]int32, m+1)
		}
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if am[i] == bm[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < n || j < m {
			switch {
			case i < n && j < m && am[i] == bm[j]:
				ops = append(ops, op{' ', am[i], p + i, p + j})
				i++
				j++
			case j < m && (i == n || lcs[i][j+1] > lcs[i+1][j]):
				ops = append(ops, op{'+', bm[j], p + i, p + j})
				j++
			default:
				ops = append(ops, op{'-', am[i], p + i, p + j})
				i++
			}
		}
	}
	for k := s; k > 0; k-- {
		ops = append(ops, op{' ', a[len(a)-k], len(a) - k, len(b) - k})
	}
	return ops
}
