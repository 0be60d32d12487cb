package analyze

import (
	"fmt"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
)

func hpaCondition(h *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType) *autoscalingv2.HorizontalPodAutoscalerCondition {
	for i := range h.Status.Conditions {
		if h.Status.Conditions[i].Type == t {
			return &h.Status.Conditions[i]
		}
	}
	return nil
}

// hpaUnable: autoscalers whose target is missing, that cannot scale
// (AbleToScale=False) or compute a scale (ScalingActive=False), and, for
// the record, those held at their maximum.
func hpaUnable(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.HPAs {
		h := &x.s.HPAs[i]
		self := ref{"HorizontalPodAutoscaler", h.Namespace, h.Name}
		target := ref{h.Spec.ScaleTargetRef.Kind, h.Namespace, h.Spec.ScaleTargetRef.Name}
		f := api.Finding{Analyzer: "hpa", Severity: api.SeverityWarning, Objects: []api.FindingObject{self.wire(), target.wire()}}
		ev := []string{fmt.Sprintf("replicas: %d current, %d desired, %d to %d allowed", h.Status.CurrentReplicas, h.Status.DesiredReplicas, replicasOf(h.Spec.MinReplicas), h.Spec.MaxReplicas)}
		able, active, limited := hpaCondition(h, autoscalingv2.AbleToScale), hpaCondition(h, autoscalingv2.ScalingActive), hpaCondition(h, autoscalingv2.ScalingLimited)
		missing := false
		switch target.kind {
		case "Deployment":
			_, ok := x.deployments[target]
			missing = !ok && x.s.Listed(ResourceDeployments, h.Namespace)
		case "StatefulSet":
			_, ok := x.statefulSets[target]
			missing = !ok && x.s.Listed(ResourceStatefulSets, h.Namespace)
		}
		cond := func(c *autoscalingv2.HorizontalPodAutoscalerCondition) string {
			return conditionLine(string(c.Type), string(c.Status), c.Reason, c.Message)
		}
		switch {
		case missing:
			f.Title = "HorizontalPodAutoscaler " + h.Name + "'s target " + target.String() + " does not exist"
			if able != nil && able.Status == corev1.ConditionFalse {
				ev = append(ev, cond(able))
			}
			f.Suggestion = "point scaleTargetRef at an existing workload, or delete the autoscaler: `kubectl -n " + h.Namespace + " delete hpa " + h.Name + "`"
		case able != nil && able.Status == corev1.ConditionFalse:
			f.Title = "HorizontalPodAutoscaler " + h.Name + " cannot scale " + target.String() + ": " + able.Reason
			ev = append(ev, cond(able))
			f.Suggestion = "it cannot read or change the target's scale: check scaleTargetRef (kind, name, apiVersion)"
		case active != nil && active.Status == corev1.ConditionFalse:
			ev = append(ev, cond(active))
			f.Title = "HorizontalPodAutoscaler " + h.Name + " is not scaling " + target.String() + ": " + active.Reason
			msg := active.Message
			switch {
			case active.Reason == "ScalingDisabled":
				f.Severity = api.SeverityInfo
				f.Suggestion = "scaling is off while the target has 0 replicas: scale the target up to turn it back on"
			case strings.Contains(msg, "missing request for"):
				res := "cpu"
				if strings.Contains(msg, "missing request for memory") {
					res = "memory"
				}
				f.Suggestion = "a utilization target is a percentage of the request: set " + res + " requests on every container of " + target.String()
				if a := x.app(target); a != "" {
					f.Suggestion += ", e.g. `hks app update " + a + " --" + res + " " + map[string]string{"cpu": "100m", "memory": "128Mi"}[res] + " --project " + h.Namespace + "`"
				}
			case strings.Contains(msg, "unable to get metrics") || strings.Contains(msg, "unable to fetch metrics") || strings.Contains(msg, "the server could not find the requested resource"):
				f.Suggestion = "the metrics API answers nothing for the pods: the workspace needs a metrics server (metrics.k8s.io), and new pods report after a minute"
			default:
				f.Suggestion = "it cannot compute a replica count: fix what the condition's message names (metrics, selector)"
			}
		case limited != nil && limited.Status == corev1.ConditionTrue && limited.Reason == "TooManyReplicas" && h.Status.CurrentReplicas >= h.Spec.MaxReplicas:
			f.Severity = api.SeverityInfo
			f.Title = fmt.Sprintf("HorizontalPodAutoscaler %s holds %s at its maximum of %d replicas", h.Name, target, h.Spec.MaxReplicas)
			ev = append(ev, cond(limited))
			f.Suggestion = "the load asks for more replicas than maxReplicas: raise it if the quota allows (`kubectl -n " + h.Namespace + " edit hpa " + h.Name + "`)"
		default:
			continue
		}
		f.Evidence = bound(ev)
		out = append(out, f)
	}
	return out
}
