package analyze

import (
	"strings"
)

// Names the platform gives its objects (kept in step with the packages
// that own them by TestPlatformNames; this package imports neither).
const (
	// labelApp marks the Deployment of an hks application
	// (workloads.LabelApp): `hks app …` commands work on it.
	labelApp = "hks.io/app"
	// projectQuota is the ResourceQuota of a project's quota
	// (controlplane.QuotaName): `hks project update` changes it.
	projectQuota = "hks-quota"
	// projectLimitRange is the LimitRange of a project's default container
	// resources (controlplane.LimitRangeName).
	projectLimitRange = "hks-defaults"
)

// app returns the name of the hks application a workload is, "" when it
// is not one (not a Deployment, or not made by hks).
func (x *index) app(w ref) string {
	if w.kind != "Deployment" {
		return ""
	}
	if d, ok := x.deployments[w]; ok && d.Labels[labelApp] != "" {
		return d.Name
	}
	return ""
}

// kubectlName is kind/name as kubectl takes it: deployment/web.
func kubectlName(w ref) string { return strings.ToLower(w.kind) + "/" + w.name }

// logsHint is the command that prints the log of a pod's container, the
// previous (crashed) instance when previous.
func (x *index) logsHint(owner ref, pod, ns, container string, previous bool) string {
	if a := x.app(owner); a != "" && !previous {
		return "`hks app logs " + a + " --pod " + pod + " -c " + container + " --project " + ns + "`"
	}
	cmd := "`kubectl -n " + ns + " logs " + pod + " -c " + container
	if previous {
		cmd += " --previous"
	}
	return cmd + "`"
}

// setImageHint is the command that changes the image of a workload's
// container.
func (x *index) setImageHint(owner ref, hasOwner bool, ns, container string) string {
	if a := x.app(owner); a != "" {
		return "`hks app set image " + a + " IMAGE --project " + ns + "`"
	}
	if hasOwner && owner.kind != "ReplicaSet" && owner.kind != "Job" {
		return "`kubectl -n " + ns + " set image " + kubectlName(owner) + " " + container + "=IMAGE`"
	}
	return "fix the image in the manifest and apply it again"
}

// resourcesHint is the command that sets a resource of a workload's
// container; flag is the hks app flag (--memory-limit, --cpu-limit,
// --memory, --cpu), value the suggested quantity; an empty container
// stands for all of them.
func (x *index) resourcesHint(owner ref, hasOwner bool, ns, container, flag, value string) string {
	if a := x.app(owner); a != "" {
		return "`hks app update " + a + " " + flag + " " + value + " --project " + ns + "`"
	}
	if hasOwner && owner.kind != "ReplicaSet" && owner.kind != "Job" {
		kind, res, _ := strings.Cut(strings.TrimPrefix(flag, "--"), "-")
		which := "--requests"
		if res == "limit" {
			which = "--limits"
		}
		c := ""
		if container != "" {
			c = " -c " + container
		}
		return "`kubectl -n " + ns + " set resources " + kubectlName(owner) + c + " " + which + "=" + kind + "=" + value + "`"
	}
	return "set it in the manifest and apply it again"
}

// quotaFlag is the `hks project update` flag that changes a resource of
// the project quota, "" for a resource it does not manage.
func quotaFlag(resource string) string {
	switch resource {
	case "requests.cpu", "limits.cpu", "cpu":
		return "--cpu"
	case "requests.memory", "limits.memory", "memory":
		return "--memory"
	case "requests.storage":
		return "--storage"
	case "pods":
		return "--pods"
	}
	return ""
}
