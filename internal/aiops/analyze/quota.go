package analyze

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// Thresholds of the quota analyzers.
const (
	// nearQuota: a quota this full is near its limit.
	nearQuota = 0.9
	// refusalWindow: FailedCreate events last seen longer ago are over
	// (the cluster keeps events an hour).
	refusalWindow = time.Hour
)

// quotaUsage: ResourceQuotas at (critical) or near (warning) a limit.
func quotaUsage(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.ResourceQuotas {
		q := &x.s.ResourceQuotas[i]
		hard := q.Status.Hard
		if len(hard) == 0 {
			hard = q.Spec.Hard
		}
		keys := make([]string, 0, len(hard))
		for k := range hard {
			keys = append(keys, string(k))
		}
		slices.Sort(keys)
		var full, near, ev, flags []string
		for _, k := range keys {
			h, u := hard[corev1.ResourceName(k)], q.Status.Used[corev1.ResourceName(k)]
			if h.IsZero() {
				if u.Sign() > 0 {
					full = append(full, k)
					ev = append(ev, fmt.Sprintf("%s: %s used of 0", k, u.String()))
				}
				continue
			}
			ratio := u.AsApproximateFloat64() / h.AsApproximateFloat64()
			if ratio < nearQuota {
				continue
			}
			if ratio >= 1 {
				full = append(full, k)
			} else {
				near = append(near, k)
			}
			ev = append(ev, fmt.Sprintf("%s: %s used of %s (%d%%)", k, u.String(), h.String(), int(ratio*100)))
			if fl := quotaFlag(k); fl != "" && !slices.ContainsFunc(flags, func(s string) bool { return strings.HasPrefix(s, fl+" ") }) {
				flags = append(flags, fl+" "+double(h))
			}
		}
		if len(full)+len(near) == 0 {
			continue
		}
		self := ref{"ResourceQuota", q.Namespace, q.Name}
		f := api.Finding{Analyzer: "quota", Severity: api.SeverityWarning, Objects: []api.FindingObject{self.wire()}, Evidence: bound(ev)}
		if len(full) > 0 {
			f.Severity = api.SeverityCritical
			f.Title = "ResourceQuota " + q.Name + " is at its limit for " + strings.Join(full, ", ")
		} else {
			f.Title = "ResourceQuota " + q.Name + " is near its limit for " + strings.Join(near, ", ")
		}
		f.Suggestion = x.raiseQuota(q.Name, q.Namespace, flags, "new pods and objects that need more are refused: ")
		out = append(out, f)
	}
	return out
}

// raiseQuota says how to make room in a quota.
func (x *index) raiseQuota(name, ns string, flags []string, why string) string {
	free := "free some (scale down or delete workloads of " + ns + ")"
	if name == projectQuota && len(flags) > 0 {
		return why + free + " or raise the project's quota (a workspace admin): `hks project update " + ns + " " + strings.Join(flags, " ") + "`"
	}
	return why + free + " or have a workspace admin raise it: `kubectl -n " + ns + " edit resourcequota " + name + "`"
}

// refusal is a workload whose pods (or Jobs) admission refused, from its
// FailedCreate events.
type refusal struct {
	workload ref // the workload to act on: a Deployment, not its ReplicaSet
	creator  ref // the object the events are about
	events   []*corev1.Event
	what     string // what it could not create: "pods", "jobs.batch"
}

var forbiddenWhatRe = regexp.MustCompile(`(?:Error creating: )?([a-z0-9.]+) "[^"]*" is forbidden`)

// refusals returns the recent FailedCreate events of the objects that
// still lack what they could not create, grouped by object, for which
// classify answers true.
func (x *index) refusals(classify func(msg string) bool) []refusal {
	var keys []ref
	for k := range x.events {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b ref) int {
		return cmp.Or(cmp.Compare(a.ns, b.ns), cmp.Compare(a.kind, b.kind), cmp.Compare(a.name, b.name))
	})
	var out []refusal
	for _, k := range keys {
		var evs []*corev1.Event
		for _, e := range x.recent(x.eventsOf(k, corev1.EventTypeWarning, "FailedCreate"), refusalWindow) {
			if classify(e.Message) {
				evs = append(evs, e)
			}
		}
		if len(evs) == 0 || !x.stillShort(k, lastSeen(evs[0])) {
			continue
		}
		r := refusal{workload: k, creator: k, events: evs, what: "pods"}
		if k.kind == "ReplicaSet" {
			if o, ok := x.rsOwner[k]; ok && o.Kind == "Deployment" {
				r.workload = ref{"Deployment", k.ns, o.Name}
			}
		}
		if m := forbiddenWhatRe.FindStringSubmatch(evs[0].Message); m != nil {
			r.what = m[1]
		} else if k.kind == "CronJob" {
			r.what = "jobs"
		}
		out = append(out, r)
	}
	return out
}

// stillShort tells whether the object an event is about still lacks what
// it failed to create; objects no longer there are not.
func (x *index) stillShort(k ref, seen time.Time) bool {
	switch k.kind {
	case "ReplicaSet":
		rs, ok := x.replicaSets[k]
		return ok && rs.Status.Replicas < replicasOf(rs.Spec.Replicas)
	case "StatefulSet":
		st, ok := x.statefulSets[k]
		return ok && st.Status.Replicas < replicasOf(st.Spec.Replicas)
	case "Job":
		j, ok := x.jobs[k]
		return ok && !jobDone(j)
	case "CronJob":
		return slices.ContainsFunc(x.s.CronJobs, func(c batchv1.CronJob) bool { return c.Namespace == k.ns && c.Name == k.name })
	}
	return x.s.Now.Sub(seen) <= recentEvents
}

// finding starts the finding of a refusal.
func (r refusal) finding(analyzer, why string, now time.Time) api.Finding {
	f := api.Finding{Analyzer: analyzer, Severity: api.SeverityCritical, Objects: []api.FindingObject{r.workload.wire()},
		Title: r.workload.String() + " cannot create " + r.what + ": " + why}
	if r.creator != r.workload {
		f.Objects = append(f.Objects, r.creator.wire())
	}
	f.Evidence = eventLines(now, r.events, 2)
	return f
}

var (
	exceededQuotaRe = regexp.MustCompile(`exceeded quota: ([^,\s]+)`)
	limitedRe       = regexp.MustCompile(`limited: (.*)$`)
	failedQuotaRe   = regexp.MustCompile(`failed quota: ([^:\s]+): must specify (.+)$`)
)

func isQuotaRefusal(msg string) bool {
	return strings.Contains(msg, "exceeded quota:") || strings.Contains(msg, "failed quota:")
}

// quotaRefusal: workloads whose pods (or Jobs) a ResourceQuota refused,
// with the quota and the resources.
func quotaRefusal(x *index) []api.Finding {
	var out []api.Finding
	for _, r := range x.refusals(isQuotaRefusal) {
		msg := r.events[0].Message
		if m := failedQuotaRe.FindStringSubmatch(msg); m != nil {
			f := r.finding("quota-refusal", "ResourceQuota "+m[1]+" requires "+strings.TrimSuffix(m[2], ","), x.s.Now)
			f.Objects = append(f.Objects, ref{"ResourceQuota", r.workload.ns, m[1]}.wire())
			f.Suggestion = "the quota counts " + strings.TrimSuffix(m[2], ",") + ", so every container must declare them: set the containers' requests and limits in the pod template"
			if a := x.app(r.workload); a != "" {
				f.Suggestion += ", e.g. `hks app update " + a + " --cpu 100m --memory 128Mi --cpu-limit 500m --memory-limit 256Mi --project " + r.workload.ns + "`"
			}
			out = append(out, f)
			continue
		}
		name := "?"
		if m := exceededQuotaRe.FindStringSubmatch(msg); m != nil {
			name = m[1]
		}
		var res, flags []string
		if m := limitedRe.FindStringSubmatch(msg); m != nil {
			for _, kv := range strings.Split(m[1], ",") {
				k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
				res = append(res, k)
				if q, err := resource.ParseQuantity(v); err == nil && quotaFlag(k) != "" {
					fl := quotaFlag(k) + " " + double(q)
					if !slices.ContainsFunc(flags, func(s string) bool { return strings.HasPrefix(s, quotaFlag(k)+" ") }) {
						flags = append(flags, fl)
					}
				}
			}
		}
		why := "ResourceQuota " + name + " exceeded"
		if len(res) > 0 {
			why += " (" + strings.Join(res, ", ") + ")"
		}
		f := r.finding("quota-refusal", why, x.s.Now)
		f.Objects = append(f.Objects, ref{"ResourceQuota", r.workload.ns, name}.wire())
		f.Suggestion = x.raiseQuota(name, r.workload.ns, flags, "the quota has no room for another of its "+r.what+": ")
		out = append(out, f)
	}
	return out
}

var (
	limitRangeRe = regexp.MustCompile(`(maximum|minimum) (cpu|memory|ephemeral-storage) usage per (Container|Pod|PersistentVolumeClaim) is ([^,\s]+), but (limit|request) is ([^,\s\]]+)`)
	ratioRe      = regexp.MustCompile(`max limit to request ratio per (Container|Pod)`)
	overLimitRe  = regexp.MustCompile(`must be less than or equal to (cpu|memory) limit`)
)

func isLimitRangeRefusal(msg string) bool {
	return !isQuotaRefusal(msg) && (strings.Contains(msg, "LimitRange") || limitRangeRe.MatchString(msg) || ratioRe.MatchString(msg) || overLimitRe.MatchString(msg))
}

// limitRangeRefusal: workloads whose pods a LimitRange refused, with the
// bound they crossed.
func limitRangeRefusal(x *index) []api.Finding {
	var out []api.Finding
	for _, r := range x.refusals(isLimitRangeRefusal) {
		var lrs []string
		for i := range x.s.LimitRanges {
			if lr := &x.s.LimitRanges[i]; lr.Namespace == r.workload.ns {
				lrs = append(lrs, lr.Name)
			}
		}
		slices.Sort(lrs)
		why := "refused by a LimitRange"
		if len(lrs) == 1 {
			why = "refused by LimitRange " + lrs[0]
		}
		f := r.finding("limitrange", why, x.s.Now)
		for _, n := range lrs[:min(len(lrs), maxNames)] {
			f.Objects = append(f.Objects, ref{"LimitRange", r.workload.ns, n}.wire())
		}
		msg := r.events[0].Message
		const hasOwner = true // resourcesHint knows which kinds kubectl can set
		switch m, om := limitRangeRe.FindStringSubmatch(msg), overLimitRe.FindStringSubmatch(msg); {
		case m != nil:
			flag := "--" + m[2]
			if m[5] == "limit" {
				flag += "-limit"
			}
			bound := "at most"
			if m[1] == "minimum" {
				bound = "at least"
			}
			f.Suggestion = fmt.Sprintf("the %s %s per %s must be %s %s (it is %s): ", m[2], m[5], m[3], bound, m[4], m[6])
			if m[3] == "Container" && (m[2] == "cpu" || m[2] == "memory") {
				f.Suggestion += "set it within bounds, e.g. " + x.resourcesHint(r.workload, hasOwner, r.workload.ns, "", flag, m[4]) + ", "
			} else {
				f.Suggestion += "set it within bounds in the pod template, "
			}
			f.Suggestion += "or have a workspace admin widen the LimitRange"
		case ratioRe.MatchString(msg):
			f.Suggestion = "the containers' limit is too many times their request for the LimitRange's maxLimitRequestRatio: raise the request or lower the limit"
		case om != nil:
			f.Suggestion = "the " + om[1] + " request the LimitRange gives by default is above the limit the container sets: set the request too, at most the limit, e.g. " +
				x.resourcesHint(r.workload, hasOwner, r.workload.ns, "", "--"+om[1], "LIMIT")
		default:
			f.Suggestion = "set the containers' requests and limits within the LimitRange's bounds (`kubectl -n " + r.workload.ns + " describe limitrange`), or have a workspace admin widen it"
		}
		out = append(out, f)
	}
	return out
}

var (
	podSecurityRe = regexp.MustCompile(`violates PodSecurity "([^"]+)"`)
	missingSARe   = regexp.MustCompile(`serviceaccount "([^"]+)" not found`)
)

// admissionRefusal: workloads whose pods were refused for another reason:
// Pod Security, a missing service account, an admission webhook.
func admissionRefusal(x *index) []api.Finding {
	var out []api.Finding
	for _, r := range x.refusals(func(msg string) bool { return !isQuotaRefusal(msg) && !isLimitRangeRefusal(msg) }) {
		msg := r.events[0].Message
		var f api.Finding
		switch m, sa := podSecurityRe.FindStringSubmatch(msg), missingSARe.FindStringSubmatch(msg); {
		case m != nil:
			level, _, _ := strings.Cut(m[1], ":")
			f = r.finding("admission-refusal", "violates Pod Security "+m[1], x.s.Now)
			f.Suggestion = "make the pod template meet the project's Pod Security level " + level +
				" (the message lists what to change: e.g. allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities drop ALL, seccompProfile RuntimeDefault)," +
				" or have an admin relax the level: `hks project update " + r.workload.ns + " --pod-security baseline`"
		case sa != nil:
			f = r.finding("admission-refusal", "service account "+sa[1]+" not found", x.s.Now)
			f.Suggestion = "create the service account (`kubectl -n " + r.workload.ns + " create serviceaccount " + sa[1] + "`) or fix serviceAccountName in the pod template"
		default:
			f = r.finding("admission-refusal", "refused by the API server", x.s.Now)
			f.Suggestion = "fix the pod template as the message says so the API server admits it"
		}
		out = append(out, f)
	}
	return out
}
