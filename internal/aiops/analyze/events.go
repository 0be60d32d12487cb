package analyze

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// A burst is burstCount or more Warning events about one object last seen
// within burstWindow, each counted as many times as it was observed.
const (
	burstCount  = 10
	burstWindow = 10 * time.Minute
)

// eventBurst: objects with a burst of Warning events, except objects
// since deleted. Run drops its findings about objects another analyzer
// reported on.
func eventBurst(x *index) []api.Finding {
	var keys []ref
	for k := range x.events {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b ref) int {
		return cmp.Or(cmp.Compare(a.ns, b.ns), cmp.Compare(a.name, b.name), cmp.Compare(a.kind, b.kind))
	})
	var out []api.Finding
	for _, k := range keys {
		if x.gone(k) {
			continue // a replaced pod's past says nothing of now
		}
		evs := x.recent(x.eventsOf(k, corev1.EventTypeWarning), burstWindow)
		total := 0
		byReason := map[string]int{}
		for _, e := range evs {
			n := eventCount(e)
			total += n
			byReason[e.Reason] += n
		}
		if total < burstCount {
			continue
		}
		reasons := make([]string, 0, len(byReason))
		for r := range byReason {
			reasons = append(reasons, r)
		}
		slices.SortFunc(reasons, func(a, b string) int { return cmp.Or(cmp.Compare(byReason[b], byReason[a]), cmp.Compare(a, b)) })
		parts := make([]string, len(reasons))
		for i, r := range reasons {
			parts[i] = r + " x" + strconv.Itoa(byReason[r])
		}
		ev := append([]string{"Warning events by reason: " + clip(strings.Join(parts, ", "))}, eventLines(x.s.Now, evs, 2)...)
		out = append(out, api.Finding{Analyzer: "event-burst", Severity: api.SeverityWarning, Objects: []api.FindingObject{k.wire()},
			Title:    fmt.Sprintf("%s had %d Warning events in the last %s", k, total, age(burstWindow)),
			Evidence: ev,
			Suggestion: "the most frequent is " + reasons[0] + ": act on what its message says; the whole sequence is in `kubectl -n " + k.ns +
				" describe " + strings.ToLower(k.kind) + " " + k.name + "`"})
	}
	return out
}
