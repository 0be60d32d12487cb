package analyze

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// pendingClaim: a claim pending this long without a warning is stuck
// (provisioning takes seconds).
const pendingClaim = 5 * time.Minute

var missingClassRe = regexp.MustCompile(`storageclass\.storage\.k8s\.io "([^"]+)" not found`)

// pvcPending: claims pending with a provisioning or binding failure (or
// for long), and claims whose volume is lost.
func pvcPending(x *index) []api.Finding {
	var out []api.Finding
	for i := range x.s.PVCs {
		pvc := &x.s.PVCs[i]
		self := ref{"PersistentVolumeClaim", pvc.Namespace, pvc.Name}
		var users []string
		for j := range x.s.Pods {
			p := &x.s.Pods[j]
			if p.Namespace != pvc.Namespace {
				continue
			}
			for _, v := range p.Spec.Volumes {
				if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name && !slices.Contains(users, p.Name) {
					users = append(users, p.Name)
				}
			}
		}
		slices.Sort(users)
		class := "(none)"
		if pvc.Spec.StorageClassName != nil && *pvc.Spec.StorageClassName != "" {
			class = *pvc.Spec.StorageClassName
		}
		f := api.Finding{Analyzer: "pvc-pending", Objects: []api.FindingObject{self.wire()}}
		var ev []string
		switch pvc.Status.Phase {
		case corev1.ClaimLost:
			f.Severity = api.SeverityCritical
			f.Title = "PersistentVolumeClaim " + pvc.Name + " is lost"
			ev = append(ev, "phase Lost: its PersistentVolume "+pvc.Spec.VolumeName+" is gone")
			f.Suggestion = "its volume was deleted: restore the data from a backup into a new claim, and point the workload at it"
		case corev1.ClaimPending:
			warnings := x.recent(x.eventsOf(self, corev1.EventTypeWarning), refusalWindow)
			waiting := len(x.eventsOf(self, corev1.EventTypeNormal, "WaitForFirstConsumer")) > 0
			pendingFor := x.s.Now.Sub(pvc.CreationTimestamp.Time)
			if len(warnings) == 0 && (waiting || pendingFor < pendingClaim) {
				continue
			}
			f.Severity = api.SeverityWarning
			f.Title = "PersistentVolumeClaim " + pvc.Name + " is pending"
			size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
			ev = append(ev, fmt.Sprintf("phase Pending for %s; storage class %s; requests %s", age(pendingFor), class, size.String()))
			ev = append(ev, eventLines(x.s.Now, warnings, 2)...)
			msg := ""
			if len(warnings) > 0 {
				msg = warnings[0].Message
			}
			switch m := missingClassRe.FindStringSubmatch(msg); {
			case m != nil:
				f.Suggestion = "storage class " + m[1] + " does not exist: use one the workspace has (`kubectl get storageclass`); a claim's class cannot be changed, so delete and create the claim again"
			case pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" || strings.Contains(msg, "no storage class is set"):
				f.Suggestion = "no storage class and no matching PersistentVolume: set storageClassName to a class of the workspace (`kubectl get storageclass`) by creating the claim again"
			case len(warnings) > 0:
				f.Suggestion = "the provisioner of class " + class + " cannot make the volume: read its message above (size, zone, access mode) and create the claim again with what it accepts"
			default:
				f.Suggestion = "no volume was provisioned or bound: check that storage class " + class + " has a working provisioner (`kubectl describe storageclass " + class + "`)"
			}
		default:
			continue
		}
		if len(users) > 0 {
			ev = append(ev, "used by "+plural(len(users), "pod")+": "+names(users))
			for _, u := range users[:min(len(users), maxNames)] {
				f.Objects = append(f.Objects, ref{"Pod", pvc.Namespace, u}.wire())
			}
		}
		f.Evidence = bound(ev)
		out = append(out, f)
	}
	return out
}
