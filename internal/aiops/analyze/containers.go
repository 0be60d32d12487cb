package analyze

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// Thresholds of the container analyzers.
const (
	// stormRestarts restarts, the last within stormWindow, are a restart
	// storm.
	stormRestarts = 5
	stormWindow   = time.Hour
	// oomWindow: an OOMKilled termination older than this is history.
	oomWindow = 24 * time.Hour
)

// exitHint says what an exit code usually means.
func exitHint(t *corev1.ContainerStateTerminated) string {
	if t == nil {
		return ""
	}
	switch t.ExitCode {
	case 0:
		return "it exits successfully (exit 0), but the container of a long-running workload must keep running: run a long-lived process, or make it a Job or CronJob; "
	case 126:
		return "exit 126: the command is not executable; "
	case 127:
		return "exit 127: the command was not found in the image: fix the command or the image; "
	case 137:
		return "exit 137: it was killed (SIGKILL), often by a failing liveness probe; "
	case 139:
		return "exit 139: it crashed (segmentation fault); "
	case 143:
		return "exit 143: it was stopped (SIGTERM); "
	}
	return fmt.Sprintf("exit %d: the program stops with an error; ", t.ExitCode)
}

// crashLoop: containers waiting in CrashLoopBackOff, except after an
// OOMKilled termination (oomkilled reports those).
func crashLoop(x *index) []api.Finding {
	var issues []podIssue
	for _, p := range x.livePods() {
		owner, _ := x.topOwner(p.Namespace, &p.ObjectMeta)
		for _, c := range containersOf(p) {
			w := c.st.State.Waiting
			if w == nil || w.Reason != "CrashLoopBackOff" {
				continue
			}
			last := c.st.LastTerminationState.Terminated
			if last != nil && last.Reason == "OOMKilled" {
				continue
			}
			ev := []string{fmt.Sprintf("%s waiting CrashLoopBackOff after %s", c.label(), plural(int(c.st.RestartCount), "restart"))}
			if last != nil {
				ev = append(ev, c.label()+" last terminated "+terminatedText(x.s.Now, last))
			}
			ev = append(ev, eventLines(x.s.Now, x.eventsOf(podRef(p), corev1.EventTypeWarning, "BackOff"), 1)...)
			issues = append(issues, podIssue{pod: p, group: c.name, severity: api.SeverityCritical,
				one: "is in CrashLoopBackOff" + c.inTitle(p), many: "are in CrashLoopBackOff" + c.inTitle(p), evidence: ev,
				suggestion: exitHint(last) + "read the log of the crashed run: " + x.logsHint(owner, p.Name, p.Namespace, c.name, true) +
					", and fix the command, configuration or dependency it stops on"})
		}
	}
	return x.podFindings("crashloop", issues)
}

// restartStorms: containers restarted often and lately that are neither
// in CrashLoopBackOff nor OOMKilled (their own analyzers say more).
func restartStorms(x *index) []api.Finding {
	var issues []podIssue
	for _, p := range x.livePods() {
		owner, _ := x.topOwner(p.Namespace, &p.ObjectMeta)
		for _, c := range containersOf(p) {
			last := c.st.LastTerminationState.Terminated
			if c.st.RestartCount < stormRestarts || last == nil || last.Reason == "OOMKilled" ||
				x.s.Now.Sub(last.FinishedAt.Time) > stormWindow ||
				(c.st.State.Waiting != nil && c.st.State.Waiting.Reason == "CrashLoopBackOff") {
				continue
			}
			ev := []string{fmt.Sprintf("%s restarted %d times, last terminated %s", c.label(), c.st.RestartCount, terminatedText(x.s.Now, last))}
			killed := false
			for _, e := range x.eventsOf(podRef(p), "", "Killing") {
				if strings.Contains(e.Message, "liveness probe") {
					ev = append(ev, eventLine(x.s.Now, e))
					killed = true
					break
				}
			}
			hint := exitHint(last)
			if killed {
				hint = "its liveness probe fails and the kubelet restarts it (see the probes finding); "
			}
			issues = append(issues, podIssue{pod: p, group: c.name, severity: api.SeverityWarning,
				one: "is restarting repeatedly" + c.inTitle(p), many: "are restarting repeatedly" + c.inTitle(p), evidence: ev,
				suggestion: hint + "read the log of the previous run: " + x.logsHint(owner, p.Name, p.Namespace, c.name, true)})
		}
	}
	return x.podFindings("restarts", issues)
}

// pullReasons are the waiting reasons of a failed image pull.
var pullReasons = map[string]bool{"ErrImagePull": true, "ImagePullBackOff": true, "InvalidImageName": true,
	"ErrImageNeverPull": true, "RegistryUnavailable": true, "ErrImageInspect": true, "SignatureValidationFailed": true}

// imagePull: containers waiting on an image that cannot be pulled.
func imagePull(x *index) []api.Finding {
	var issues []podIssue
	for _, p := range x.livePods() {
		owner, hasOwner := x.topOwner(p.Namespace, &p.ObjectMeta)
		for _, c := range containersOf(p) {
			w := c.st.State.Waiting
			if w == nil || !pullReasons[w.Reason] {
				continue
			}
			image := c.st.Image
			if c.spec != nil {
				image = c.spec.Image
			}
			ev := []string{waitingLine(c)}
			var failed []*corev1.Event
			for _, e := range x.eventsOf(podRef(p), corev1.EventTypeWarning, "Failed") {
				if strings.Contains(e.Message, image) {
					failed = append(failed, e)
				}
			}
			ev = append(ev, eventLines(x.s.Now, failed, 1)...)
			text := strings.ToLower(w.Message)
			if len(failed) > 0 {
				text += " " + strings.ToLower(failed[0].Message)
			}
			set := x.setImageHint(owner, hasOwner, p.Namespace, c.name)
			var sug string
			switch {
			case w.Reason == "InvalidImageName":
				sug = fmt.Sprintf("the image reference %q is malformed: %s", image, set)
			case w.Reason == "ErrImageNeverPull":
				sug = fmt.Sprintf("imagePullPolicy is Never and image %q is not on the node: set imagePullPolicy to IfNotPresent, or %s", image, set)
			case containsAny(text, "unauthorized", "authentication required", "denied", "forbidden", "401", "403"):
				sug = fmt.Sprintf("the registry refused to serve %q: if the image is private, give the pod an imagePullSecret with valid registry credentials; if the name is wrong, %s", image, set)
			case containsAny(text, "not found", "manifest unknown", "404", "does not exist"):
				sug = fmt.Sprintf("image %q does not exist: check the name and tag, then %s", image, set)
			case containsAny(text, "no such host", "i/o timeout", "connection refused", "network is unreachable", "tls:"):
				sug = fmt.Sprintf("the registry of %q cannot be reached from the nodes: check the registry's host name, or use a registry they can reach: %s", image, set)
			default:
				sug = fmt.Sprintf("check the image name and tag of %q (%s) or the registry credentials (imagePullSecrets)", image, set)
			}
			issues = append(issues, podIssue{pod: p, group: c.name + "\x00" + image, severity: api.SeverityCritical,
				one: "cannot pull image " + image, many: "cannot pull image " + image, evidence: ev, suggestion: sug})
		}
	}
	return x.podFindings("image-pull", issues)
}

// configReasons are the waiting and terminated reasons of a container that
// could not be created or started.
var configReasons = map[string]bool{"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
	"PreCreateHookError": true, "PostStartHookError": true, "ContainerCannotRun": true, "StartError": true}

var (
	missingRefRe = regexp.MustCompile(`(secret|configmap|configMap) "([^"]+)" not found`)
	missingKeyRe = regexp.MustCompile(`couldn't find key (\S+) in (Secret|ConfigMap) ([^/\s]+)/(\S+)`)
)

// containerConfig: containers that cannot be created or started.
func containerConfig(x *index) []api.Finding {
	var issues []podIssue
	for _, p := range x.livePods() {
		for _, c := range containersOf(p) {
			var reason, message, line string
			if w := c.st.State.Waiting; w != nil && configReasons[w.Reason] {
				reason, message, line = w.Reason, w.Message, waitingLine(c)
			} else if t := c.st.State.Terminated; t != nil && configReasons[t.Reason] {
				reason, message, line = t.Reason, t.Message, c.label()+" terminated "+terminatedText(x.s.Now, t)
			} else {
				continue
			}
			ev := []string{line}
			ev = append(ev, eventLines(x.s.Now, x.eventsOf(podRef(p), corev1.EventTypeWarning, "Failed"), 1)...)
			var sug string
			if m := missingRefRe.FindStringSubmatch(message); m != nil {
				kind := "Secret"
				create := "`kubectl -n " + p.Namespace + " create secret generic " + m[2] + " --from-literal=KEY=VALUE`"
				if strings.EqualFold(m[1], "configmap") {
					kind = "ConfigMap"
					create = "`kubectl -n " + p.Namespace + " create configmap " + m[2] + " --from-literal=KEY=VALUE`"
				}
				sug = fmt.Sprintf("the %s %q it refers to does not exist in %s: create it (%s) or fix the reference in the pod template", kind, m[2], p.Namespace, create)
			} else if m := missingKeyRe.FindStringSubmatch(message); m != nil {
				sug = fmt.Sprintf("the %s %s/%s has no key %s: add the key or fix the key the pod template refers to", m[2], m[3], m[4], m[1])
			} else if containsAny(message, "executable file not found", "no such file or directory") {
				sug = "the command does not exist in the image: fix the command (or args) or the image"
			} else if strings.Contains(message, "runAsNonRoot") {
				sug = "the pod must run as non-root but the image runs as root: set securityContext.runAsUser to a non-zero user id, or use an image that runs as a non-root user"
			} else {
				sug = "fix the container's configuration as the message says"
			}
			issues = append(issues, podIssue{pod: p, group: c.name + "\x00" + reason, severity: api.SeverityCritical,
				one: "cannot start " + c.label() + ": " + reason, many: "cannot start " + c.label() + ": " + reason, evidence: ev, suggestion: sug})
		}
	}
	return x.podFindings("container-config", issues)
}

// oomKilled: containers whose current or last run was OOMKilled (the
// last within oomWindow); critical when it keeps them crash-looping.
func oomKilled(x *index) []api.Finding {
	var issues []podIssue
	for _, p := range x.livePods() {
		owner, hasOwner := x.topOwner(p.Namespace, &p.ObjectMeta)
		for _, c := range containersOf(p) {
			t := c.st.State.Terminated
			if t == nil || t.Reason != "OOMKilled" {
				t = c.st.LastTerminationState.Terminated
				if t == nil || t.Reason != "OOMKilled" || (!t.FinishedAt.IsZero() && x.s.Now.Sub(t.FinishedAt.Time) > oomWindow) {
					continue
				}
			}
			sev := api.SeverityWarning
			if w := c.st.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
				sev = api.SeverityCritical
			}
			ev := []string{fmt.Sprintf("%s terminated %s, %s", c.label(), terminatedText(x.s.Now, t), plural(int(c.st.RestartCount), "restart"))}
			if w := c.st.State.Waiting; w != nil {
				ev = append(ev, c.label()+" now waiting "+w.Reason)
			}
			var sug string
			if c.spec != nil {
				if lim, ok := c.spec.Resources.Limits[corev1.ResourceMemory]; ok {
					ev = append(ev, fmt.Sprintf("%s memory limit %s", c.label(), lim.String()))
					sug = "the program needs more memory than its limit " + lim.String() + ": raise the limit above its peak use, e.g. " +
						x.resourcesHint(owner, hasOwner, p.Namespace, c.name, "--memory-limit", double(lim)) + ", or make it use less memory"
				}
			}
			if sug == "" {
				ev = append(ev, c.label()+" has no memory limit")
				sug = "without a memory limit it was killed because the node ran out of memory: set a memory request close to its real use so it is placed where there is room, and a limit, e.g. " +
					x.resourcesHint(owner, hasOwner, p.Namespace, c.name, "--memory-limit", "512Mi")
			}
			issues = append(issues, podIssue{pod: p, group: c.name, severity: sev,
				one: "was OOMKilled" + c.inTitle(p), many: "were OOMKilled" + c.inTitle(p), evidence: ev, suggestion: sug})
		}
	}
	return x.podFindings("oomkilled", issues)
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
