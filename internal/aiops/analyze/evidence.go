package analyze

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// Bounds of what a finding quotes.
const (
	// maxText is the length (in bytes) past which a quoted message is cut.
	maxText = 300
	// maxEvidence is the number of evidence lines of a finding.
	maxEvidence = 8
	// maxNames is the number of names listed in one evidence line or in a
	// finding's objects besides its main ones.
	maxNames = 5
)

// clip folds the whitespace of a message (newlines included) and cuts it
// at maxText bytes, on a character boundary, marking the cut.
func clip(s string) string { return clipTo(s, maxText) }

// clipTo is clip at n bytes.
func clipTo(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Bounds of a whole finding, past the bounds of what its parts quote:
// a title, an evidence line (a quoted message and what introduces it), a
// suggestion (a sentence or two and a command).
const (
	maxTitle      = maxText
	maxLine       = maxText + 150
	maxSuggestion = 2 * maxText
)

// bounded holds a finding to its bounds.
func bounded(f api.Finding) api.Finding {
	f.Title = clipTo(f.Title, maxTitle)
	f.Suggestion = clipTo(f.Suggestion, maxSuggestion)
	f.Evidence = bound(f.Evidence)
	for i, e := range f.Evidence {
		f.Evidence[i] = clipTo(e, maxLine)
	}
	return f
}

// age writes a duration the way kubectl does, roughly: 45s, 12m, 5h, 3d.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// ago is age(now - t) + " ago".
func ago(now, t time.Time) string { return age(now.Sub(t)) + " ago" }

// eventLine quotes an event: `event Warning BackOff (x12, last 2m ago):
// Back-off restarting failed container`.
func eventLine(now time.Time, e *corev1.Event) string {
	when := ago(now, lastSeen(e))
	if n := eventCount(e); n > 1 {
		when = "x" + strconv.Itoa(n) + ", last " + when
	}
	line := "event " + e.Type + " " + e.Reason + " (" + when + ")"
	if m := clip(e.Message); m != "" {
		line += ": " + m
	}
	return line
}

// eventLines quotes at most n of the events.
func eventLines(now time.Time, evs []*corev1.Event, n int) []string {
	var out []string
	for i, e := range evs {
		if i == n {
			break
		}
		out = append(out, eventLine(now, e))
	}
	return out
}

// conditionLine quotes a condition: `condition Available=False
// MinimumReplicasUnavailable: Deployment does not have minimum
// availability.`
func conditionLine(typ, status, reason, message string) string {
	line := "condition " + typ + "=" + status
	if reason != "" {
		line += " " + reason
	}
	if m := clip(message); m != "" {
		line += ": " + m
	}
	return line
}

// terminatedText is a container termination: `Error (exit 1) 2m ago`.
func terminatedText(now time.Time, t *corev1.ContainerStateTerminated) string {
	reason := t.Reason
	if reason == "" {
		reason = "terminated"
	}
	out := fmt.Sprintf("%s (exit %d)", reason, t.ExitCode)
	if t.Signal != 0 {
		out = fmt.Sprintf("%s (exit %d, signal %d)", reason, t.ExitCode, t.Signal)
	}
	if !t.FinishedAt.IsZero() {
		out += " " + ago(now, t.FinishedAt.Time)
	}
	if m := clip(t.Message); m != "" {
		out += ": " + m
	}
	return out
}

// names lists names, sorted, at most maxNames of them and how many more.
func names(list []string) string {
	list = append([]string(nil), list...)
	sort.Strings(list)
	if len(list) > maxNames {
		return strings.Join(list[:maxNames], ", ") + fmt.Sprintf(" (+%d more)", len(list)-maxNames)
	}
	return strings.Join(list, ", ")
}

// plural is "1 pod", "3 pods".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// bound keeps a finding's evidence within maxEvidence lines.
func bound(lines []string) []string {
	if len(lines) > maxEvidence {
		return lines[:maxEvidence]
	}
	if lines == nil {
		return []string{}
	}
	return lines
}

// double is twice a quantity, in its own format: 128Mi → 256Mi.
func double(q resource.Quantity) string {
	d := q.DeepCopy()
	d.Add(q)
	return d.String()
}

// selectorText writes a Service's selector: app=web,tier=front.
func selectorText(sel map[string]string) string {
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + sel[k]
	}
	return strings.Join(parts, ",")
}
