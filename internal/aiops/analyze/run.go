package analyze

import (
	"cmp"
	"slices"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// Analyzer is one deterministic rule over a Snapshot.
type Analyzer struct {
	// Name identifies it in a Finding and in Run's names, e.g. "crashloop".
	Name string
	// Description says in one line what it looks for.
	Description string
	// Run returns its findings over the snapshot, in no particular order.
	Run func(*Snapshot) []api.Finding

	run func(*index) []api.Finding
	// fallback: its findings about an object another analyzer of the
	// same run already reported on are dropped (they would repeat it).
	fallback bool
}

// analyzer makes an Analyzer of a rule over the shared index; its
// findings are held to their bounds.
func analyzer(name, description string, rule func(*index) []api.Finding) Analyzer {
	run := func(x *index) []api.Finding {
		fs := rule(x)
		for i := range fs {
			fs[i] = bounded(fs[i])
		}
		return fs
	}
	return Analyzer{Name: name, Description: description, run: run,
		Run: func(s *Snapshot) []api.Finding { return run(newIndex(s)) }}
}

// All returns every analyzer, in a stable order.
func All() []Analyzer {
	burst := analyzer("event-burst", "objects with a burst of Warning events (10 or more in 10 minutes) no other analyzer explains", eventBurst)
	burst.fallback = true
	return []Analyzer{
		analyzer("crashloop", "containers in CrashLoopBackOff, with their last exit", crashLoop),
		analyzer("restarts", "containers restarting repeatedly (5 or more restarts, the last within an hour)", restartStorms),
		analyzer("image-pull", "containers whose image cannot be pulled (ErrImagePull, ImagePullBackOff, InvalidImageName)", imagePull),
		analyzer("container-config", "containers that cannot be created or started: a missing ConfigMap, Secret or key, a bad command", containerConfig),
		analyzer("oomkilled", "containers killed for exceeding their memory limit (OOMKilled)", oomKilled),
		analyzer("unschedulable", "pods the scheduler cannot place, with its reason", unschedulable),
		analyzer("mounts", "pods waiting for a volume that cannot be mounted or attached", mounts),
		analyzer("probes", "pods whose readiness, liveness or startup probes fail", probes),
		analyzer("pod-failed", "pods that failed outside a Job, e.g. evicted", podFailed),
		analyzer("pod-terminating", "pods stuck terminating long after their deletion was due", podTerminating),
		analyzer("deployment-unavailable", "Deployments with unavailable replicas", deploymentUnavailable),
		analyzer("deployment-rollout", "Deployments whose rollout is stuck (progress deadline exceeded, no progress for 10 minutes) or paused", deploymentRollout),
		analyzer("statefulset", "StatefulSets with replicas not ready", statefulSetUnready),
		analyzer("job-failed", "Jobs that failed (backoff limit or deadline exceeded)", jobFailed),
		analyzer("job-backoff", "running Jobs retrying after failed attempts", jobBackoff),
		analyzer("cronjob-failing", "CronJobs that never succeeded or whose last runs all failed, from the platform's run history", cronJobFailing),
		analyzer("cronjob-missed", "CronJobs whose scheduled runs did not start", cronJobMissed),
		analyzer("cronjob-suspended", "suspended CronJobs", cronJobSuspended),
		analyzer("service-selector", "Services whose selector matches no pod", serviceSelector),
		analyzer("service-endpoints", "Services whose selector matches pods but that have no ready endpoint", serviceEndpoints),
		analyzer("ingress-backend", "Ingresses routing to a Service or port that does not exist", ingressBackend),
		analyzer("quota", "ResourceQuotas at (100%) or near (90%) a limit", quotaUsage),
		analyzer("quota-refusal", "workloads whose pods a ResourceQuota refused", quotaRefusal),
		analyzer("limitrange", "workloads whose pods a LimitRange refused", limitRangeRefusal),
		analyzer("admission-refusal", "workloads whose pods admission refused for another reason, e.g. Pod Security", admissionRefusal),
		analyzer("pvc-pending", "PersistentVolumeClaims pending or lost, with the provisioner's reason", pvcPending),
		analyzer("hpa", "HorizontalPodAutoscalers unable to scale, without metrics or at their maximum", hpaUnable),
		burst,
	}
}

// Names returns the names of All, in the same order.
func Names() []string {
	all := All()
	out := make([]string, len(all))
	for i, a := range all {
		out[i] = a.Name
	}
	return out
}

// Run runs the named analyzers (all of them when names is empty; unknown
// names are ignored: check them against Names first) over the snapshot.
// The findings are sorted by severity, critical first, then by the
// namespace, name and kind of their main object.
func Run(s *Snapshot, names ...string) api.Diagnosis {
	x := newIndex(s)
	d := api.Diagnosis{Findings: []api.Finding{}, Analyzers: []string{}, Skipped: append([]string{}, s.Skipped...),
		Objects: s.objects(), Namespaces: append([]string{}, s.Namespaces...)}
	var fallbacks []api.Finding
	for _, a := range All() {
		if len(names) > 0 && !slices.Contains(names, a.Name) {
			continue
		}
		d.Analyzers = append(d.Analyzers, a.Name)
		fs := a.run(x)
		if a.fallback {
			fallbacks = append(fallbacks, fs...)
			continue
		}
		d.Findings = append(d.Findings, fs...)
	}
	if len(fallbacks) > 0 {
		seen := map[ref]bool{}
		for _, f := range d.Findings {
			for _, o := range f.Objects {
				seen[ref{o.Kind, o.Namespace, o.Name}] = true
			}
		}
		for _, f := range fallbacks {
			if o := f.Objects[0]; !seen[ref{o.Kind, o.Namespace, o.Name}] {
				d.Findings = append(d.Findings, f)
			}
		}
	}
	sortFindings(d.Findings)
	slices.Sort(d.Skipped)
	return d
}

// severityRank orders severities, worst first.
func severityRank(s string) int {
	switch s {
	case api.SeverityCritical:
		return 0
	case api.SeverityWarning:
		return 1
	}
	return 2
}

func sortFindings(fs []api.Finding) {
	slices.SortStableFunc(fs, func(a, b api.Finding) int {
		if c := cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)); c != 0 {
			return c
		}
		var oa, ob api.FindingObject
		if len(a.Objects) > 0 {
			oa = a.Objects[0]
		}
		if len(b.Objects) > 0 {
			ob = b.Objects[0]
		}
		return cmp.Or(cmp.Compare(oa.Namespace, ob.Namespace), cmp.Compare(oa.Name, ob.Name), cmp.Compare(oa.Kind, ob.Kind),
			cmp.Compare(a.Analyzer, b.Analyzer), cmp.Compare(a.Title, b.Title))
	})
}

// worst is the worse of two severities.
func worst(a, b string) string {
	if severityRank(b) < severityRank(a) {
		return b
	}
	return a
}
