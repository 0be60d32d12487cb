package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/controlplane"
	"github.com/hexabase/hexabase-ai/internal/cronjobs"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// FieldManager is the field manager of the assistant's writes.
const FieldManager = "hks-assistant"

// annotationRestartedAt is what `kubectl rollout restart` (and the
// platform's restart route) sets on a pod template to roll its pods.
const annotationRestartedAt = "kubectl.kubernetes.io/restartedAt"

const maxReplicas = 1000

var (
	deployments  = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	statefulSets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	cronJobsGVR  = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}
	jobsGVR      = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
)

// writeQuery is the query of the assistant's creates and updates.
var writeQuery = "?" + url.Values{"fieldManager": {FieldManager}, "fieldValidation": {"Strict"}}.Encode()

func writeTools() []Tool {
	workload := enum("deployment (default) or statefulset", "deployment", "statefulset")
	return []Tool{
		{
			Name:        "scale",
			Description: "Plan to scale a Deployment or StatefulSet to a number of replicas. Makes a plan (dry run + diff) for the user to confirm; changes nothing by itself.",
			Effect:      Write,
			Schema: object(map[string]any{
				"kind":     workload,
				"name":     str("the Deployment's or StatefulSet's name"),
				"replicas": integer("the number of replicas", 0, maxReplicas),
				"project":  str(projectDesc),
			}, "name", "replicas"),
			Propose: proposeScale,
		},
		{
			Name:        "restart",
			Description: "Plan to restart a Deployment or StatefulSet (roll every pod, like kubectl rollout restart). Makes a plan for the user to confirm.",
			Effect:      Write,
			Schema: object(map[string]any{
				"kind":    workload,
				"name":    str("the Deployment's or StatefulSet's name"),
				"project": str(projectDesc),
			}, "name"),
			Propose: proposeRestart,
		},
		{
			Name:        "set_image",
			Description: "Plan to change the image of a Deployment's container. Makes a plan for the user to confirm.",
			Effect:      Write,
			Schema: object(map[string]any{
				"name":      str("the Deployment's name"),
				"container": str("the container (default: the only one)"),
				"image":     str("the image reference, e.g. nginx:1.27"),
				"project":   str(projectDesc),
			}, "name", "image"),
			Propose: proposeSetImage,
		},
		{
			Name:        "cronjob_create",
			Description: "Plan to create a CronJob running an image on a schedule. Makes a plan for the user to confirm.",
			Effect:      Write,
			Schema: object(map[string]any{
				"name":      str("the CronJob's name (a DNS-1123 label, at most 52 characters)"),
				"schedule":  str("5-field cron expression (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly"),
				"time_zone": str("IANA time zone of the schedule, e.g. Asia/Tokyo (default UTC)"),
				"image":     str("the image reference"),
				"command":   strList("the command (default: the image's)"),
				"project":   str(projectDesc),
			}, "name", "schedule", "image"),
			Propose: proposeCronJobCreate,
		},
		{
			Name:        "cronjob_suspend",
			Description: "Plan to suspend a CronJob (no new runs) or resume it. Makes a plan for the user to confirm.",
			Effect:      Write,
			Schema: object(map[string]any{
				"name":    str("the CronJob's name"),
				"suspend": boolean("true to suspend, false to resume"),
				"project": str(projectDesc),
			}, "name", "suspend"),
			Propose: proposeCronJobSuspend,
		},
		{
			Name:        "cronjob_trigger",
			Description: "Plan to run a CronJob now (a Job from its template, like kubectl create job --from=cronjob/NAME). Makes a plan for the user to confirm.",
			Effect:      Write,
			Schema: object(map[string]any{
				"name":    str("the CronJob's name"),
				"project": str(projectDesc),
			}, "name"),
			Propose: proposeCronJobTrigger,
		},
		{
			Name:        "delete",
			Description: "Plan to delete one object. Makes a plan for the user to confirm; the plan fails if the object changes before.",
			Effect:      Write,
			Schema: object(map[string]any{
				"kind":    str("the kind: a resource (deployments, pod) or a Kind (Deployment)"),
				"name":    str("the object's name"),
				"project": str(projectDesc + "; required for namespaced kinds"),
			}, "kind", "name"),
			Propose: proposeDelete,
		},
	}
}

// current reads the object at path (GET) for a proposal: the object and
// its resourceVersion.
func current(ctx context.Context, t *Target, path string) (map[string]any, string, error) {
	b, err := t.do(ctx, "GET", path, nil, nil)
	if err != nil {
		return nil, "", err
	}
	obj, err := decodeObject(b)
	if err != nil {
		return nil, "", err
	}
	return obj, fieldString(obj, "metadata", "resourceVersion"), nil
}

// beforeOf is the JSON of an object as a plan shows it before: no
// managedFields, no last-applied annotation, scrubbed (ScrubData).
func beforeOf(obj map[string]any) []byte {
	c, err := deepCopy(obj)
	if err != nil {
		return nil
	}
	clean(c, false)
	b, _ := json.Marshal(ScrubData(c))
	return b
}

func deepCopy(obj map[string]any) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("copy object: %w", err)
	}
	return decodeObject(b)
}

// replace is the proposal of a PUT of obj (changed by change, which
// answers the summary or an error): the whole object with its
// resourceVersion, so that a change in between is refused (409).
func replace(ctx context.Context, t *Target, path string, change func(obj map[string]any) (string, error)) (Proposal, error) {
	obj, rv, err := current(ctx, t, path)
	if err != nil {
		return Proposal{}, err
	}
	before := beforeOf(obj)
	summary, err := change(obj)
	if err != nil {
		return Proposal{}, err
	}
	if md, ok := obj["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
	}
	delete(obj, "status")
	body, err := json.Marshal(obj)
	if err != nil {
		return Proposal{}, fmt.Errorf("encode object: %w", err)
	}
	return Proposal{Summary: summary, Method: "PUT", Path: path + writeQuery, Body: body, GuardPath: path, GuardResourceVersion: rv, Before: before}, nil
}

// workload resolves the kind argument of scale and restart.
func workload(kind string) (schema.GroupVersionResource, string, error) {
	switch kind {
	case "", "deployment":
		return deployments, "deployment", nil
	case "statefulset":
		return statefulSets, "statefulset", nil
	}
	return schema.GroupVersionResource{}, "", &ArgError{Field: "kind", Message: "must be deployment or statefulset"}
}

func proposeScale(ctx context.Context, t *Target, raw json.RawMessage) (Proposal, error) {
	var a struct {
		Kind     string `json:"kind"`
		Name     string `json:"name"`
		Replicas *int   `json:"replicas"`
		Project  string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Proposal{}, err
	}
	gvr, kind, err := workload(a.Kind)
	if err != nil {
		return Proposal{}, err
	}
	if err := objectName("name", a.Name); err != nil {
		return Proposal{}, err
	}
	if a.Replicas == nil {
		return Proposal{}, &ArgError{Field: "replicas", Message: "is required"}
	}
	if err := between("replicas", *a.Replicas, 0, maxReplicas); err != nil {
		return Proposal{}, err
	}
	ns, err := t.nsFor(a.Project)
	if err != nil {
		return Proposal{}, err
	}
	return replace(ctx, t, objectPath(gvr, ns, a.Name), func(obj map[string]any) (string, error) {
		spec, _ := obj["spec"].(map[string]any)
		if spec == nil {
			return "", fmt.Errorf("scale: %s %s has no spec", kind, a.Name)
		}
		from := int64(1)
		if n, ok := spec["replicas"].(float64); ok {
			from = int64(n)
		}
		if from == int64(*a.Replicas) {
			return "", &ArgError{Field: "replicas", Message: fmt.Sprintf("%s %s already has %d replicas", kind, a.Name, from)}
		}
		spec["replicas"] = *a.Replicas
		return fmt.Sprintf("scale %s %s in %s from %d to %d replicas", kind, a.Name, ns, from, *a.Replicas), nil
	})
}

func proposeRestart(ctx context.Context, t *Target, raw json.RawMessage) (Proposal, error) {
	var a struct {
		Kind    string `json:"kind"`
		Name    string `json:"name"`
		Project string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Proposal{}, err
	}
	gvr, kind, err := workload(a.Kind)
	if err != nil {
		return Proposal{}, err
	}
	if err := objectName("name", a.Name); err != nil {
		return Proposal{}, err
	}
	ns, err := t.nsFor(a.Project)
	if err != nil {
		return Proposal{}, err
	}
	at := t.now().UTC().Format(time.RFC3339)
	return replace(ctx, t, objectPath(gvr, ns, a.Name), func(obj map[string]any) (string, error) {
		md, err := nested(obj, "spec", "template", "metadata")
		if err != nil {
			return "", fmt.Errorf("restart: %s %s: %w", kind, a.Name, err)
		}
		ann, _ := md["annotations"].(map[string]any)
		if ann == nil {
			ann = map[string]any{}
			md["annotations"] = ann
		}
		ann[annotationRestartedAt] = at
		return fmt.Sprintf("restart %s %s in %s (roll every pod)", kind, a.Name, ns), nil
	})
}

// nested answers the map at path in obj, making the maps that are
// missing.
func nested(obj map[string]any, path ...string) (map[string]any, error) {
	cur := obj
	for _, p := range path {
		switch next := cur[p].(type) {
		case map[string]any:
			cur = next
		case nil:
			m := map[string]any{}
			cur[p] = m
			cur = m
		default:
			return nil, fmt.Errorf("%s is not an object", p)
		}
	}
	return cur, nil
}

func proposeSetImage(ctx context.Context, t *Target, raw json.RawMessage) (Proposal, error) {
	var a struct {
		Name      string `json:"name"`
		Container string `json:"container"`
		Image     string `json:"image"`
		Project   string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Proposal{}, err
	}
	if err := objectName("name", a.Name); err != nil {
		return Proposal{}, err
	}
	if err := image("image", a.Image); err != nil {
		return Proposal{}, err
	}
	ns, err := t.nsFor(a.Project)
	if err != nil {
		return Proposal{}, err
	}
	return replace(ctx, t, objectPath(deployments, ns, a.Name), func(obj map[string]any) (string, error) {
		cs, _ := field(obj, "spec", "template", "spec", "containers").([]any)
		var names []string
		for _, c := range cs {
			if m, ok := c.(map[string]any); ok {
				names = append(names, fmt.Sprint(m["name"]))
			}
		}
		name := a.Container
		switch {
		case name == "" && len(names) == 1:
			name = names[0]
		case name == "":
			return "", &ArgError{Field: "container", Message: fmt.Sprintf("deployment %s has containers %s: name one", a.Name, strings.Join(names, ", "))}
		case !slices.Contains(names, name):
			return "", &ArgError{Field: "container", Message: fmt.Sprintf("deployment %s has no container %s (it has %s)", a.Name, name, strings.Join(names, ", "))}
		}
		c := cs[slices.Index(names, name)].(map[string]any)
		from, _ := c["image"].(string)
		if from == a.Image {
			return "", &ArgError{Field: "image", Message: fmt.Sprintf("container %s of deployment %s already runs %s", name, a.Name, a.Image)}
		}
		c["image"] = a.Image
		return fmt.Sprintf("set the image of container %s of deployment %s in %s from %s to %s", name, a.Name, ns, from, a.Image), nil
	})
}

// cronJobFields maps the CronJob API's field names onto the tool's.
var cronJobFields = map[string]string{"template.image": "image", "template.command": "command"}

func proposeCronJobCreate(_ context.Context, t *Target, raw json.RawMessage) (Proposal, error) {
	var a struct {
		Name     string   `json:"name"`
		Schedule string   `json:"schedule"`
		TimeZone string   `json:"time_zone"`
		Image    string   `json:"image"`
		Command  []string `json:"command"`
		Project  string   `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Proposal{}, err
	}
	if err := image("image", a.Image); err != nil {
		return Proposal{}, err
	}
	ns, err := t.Namespace(a.Project)
	if err != nil {
		return Proposal{}, err
	}
	spec := api.CronJobSpec{Schedule: a.Schedule, TimeZone: a.TimeZone, Template: api.JobTemplate{Image: a.Image, Command: a.Command}}
	cj, errs := cronjobs.CronJobObject(spec, a.Name, ns)
	if len(errs) > 0 {
		f := errs[0].Field
		base, rest, _ := strings.Cut(f, "[")
		if m, ok := cronJobFields[base]; ok {
			f = m
			if rest != "" {
				f += "[" + rest
			}
		}
		return Proposal{}, &ArgError{Field: f, Message: errs[0].Message}
	}
	if ns, err = t.nsFor(a.Project); err != nil {
		return Proposal{}, err
	}
	p, _ := t.project(ns)
	if p.PodSecurity == controlplane.PodSecurityRestricted {
		// As the CronJob API does: the pods are made to comply where the
		// spec says nothing (the image must run as a non-root user).
		kube.Restrict(&cj.Spec.JobTemplate.Spec.Template.Spec)
	}
	body, err := json.Marshal(cj)
	if err != nil {
		return Proposal{}, fmt.Errorf("encode cronjob: %w", err)
	}
	zone := a.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	return Proposal{
		Summary: fmt.Sprintf("create cronjob %s in %s: %q (%s) running %s", a.Name, ns, a.Schedule, zone, a.Image),
		Method:  "POST", Path: objectPath(cronJobsGVR, ns, "") + writeQuery, Body: body,
	}, nil
}

func proposeCronJobSuspend(ctx context.Context, t *Target, raw json.RawMessage) (Proposal, error) {
	var a struct {
		Name    string `json:"name"`
		Suspend *bool  `json:"suspend"`
		Project string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Proposal{}, err
	}
	if err := labelName("name", a.Name, 63); err != nil {
		return Proposal{}, err
	}
	if a.Suspend == nil {
		return Proposal{}, &ArgError{Field: "suspend", Message: "is required (true to suspend, false to resume)"}
	}
	ns, err := t.nsFor(a.Project)
	if err != nil {
		return Proposal{}, err
	}
	return replace(ctx, t, objectPath(cronJobsGVR, ns, a.Name), func(obj map[string]any) (string, error) {
		spec, _ := obj["spec"].(map[string]any)
		if spec == nil {
			return "", fmt.Errorf("cronjob %s has no spec", a.Name)
		}
		was, _ := spec["suspend"].(bool)
		if was == *a.Suspend {
			state := "running on its schedule"
			if was {
				state = "suspended"
			}
			return "", &ArgError{Field: "suspend", Message: fmt.Sprintf("cronjob %s is already %s", a.Name, state)}
		}
		spec["suspend"] = *a.Suspend
		if *a.Suspend {
			return fmt.Sprintf("suspend cronjob %s in %s (no new runs)", a.Name, ns), nil
		}
		return fmt.Sprintf("resume cronjob %s in %s", a.Name, ns), nil
	})
}

func proposeCronJobTrigger(ctx context.Context, t *Target, raw json.RawMessage) (Proposal, error) {
	var a struct {
		Name    string `json:"name"`
		Project string `json:"project"`
	}
	if err := decode(raw, &a); err != nil {
		return Proposal{}, err
	}
	if err := labelName("name", a.Name, 63); err != nil {
		return Proposal{}, err
	}
	ns, err := t.nsFor(a.Project)
	if err != nil {
		return Proposal{}, err
	}
	guard := objectPath(cronJobsGVR, ns, a.Name)
	b, err := t.do(ctx, "GET", guard, nil, nil)
	if err != nil {
		return Proposal{}, err
	}
	var cj batchv1.CronJob
	if err := json.Unmarshal(b, &cj); err != nil {
		return Proposal{}, fmt.Errorf("decode cronjob: %w", err)
	}
	job := cronjobs.ManualJob(&cj, t.now())
	body, err := json.Marshal(job)
	if err != nil {
		return Proposal{}, fmt.Errorf("encode job: %w", err)
	}
	return Proposal{
		Summary: fmt.Sprintf("run cronjob %s in %s now (job %s)", a.Name, ns, job.Name),
		Method:  "POST", Path: objectPath(jobsGVR, ns, "") + writeQuery, Body: body,
		GuardPath: guard, GuardResourceVersion: cj.ResourceVersion,
	}, nil
}

// platformKinds are the kinds whose objects labelled as the platform's
// the platform reconciles (quotas, RBAC, admission policies): a delete
// would be undone, so the tool refuses it.
var platformKinds = []string{"ResourceQuota", "LimitRange", "RoleBinding", "ClusterRoleBinding", "ClusterRole",
	"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}

func proposeDelete(ctx context.Context, t *Target, raw json.RawMessage) (Proposal, error) {
	var a objectArgs
	if err := decode(raw, &a); err != nil {
		return Proposal{}, err
	}
	if err := required("kind", a.Kind); err != nil {
		return Proposal{}, err
	}
	if err := objectName("name", a.Name); err != nil {
		return Proposal{}, err
	}
	if _, err := t.Namespace(a.Project); err != nil {
		return Proposal{}, err
	}
	mp, err := t.mapping("kind", a.Kind)
	if err != nil {
		return Proposal{}, err
	}
	kind := mp.GroupVersionKind.Kind
	if mp.GroupVersionKind.Group == "" && kind == "Namespace" {
		return Proposal{}, &ArgError{Field: "kind", Message: "a namespace is a project: delete projects with the platform (console or hks project delete)"}
	}
	ns := ""
	if namespaced(mp) {
		if ns, err = t.nsFor(a.Project); err != nil {
			return Proposal{}, err
		}
	}
	path := objectPath(mp.Resource, ns, a.Name)
	obj, rv, err := current(ctx, t, path)
	if err != nil {
		return Proposal{}, err
	}
	if labels, _ := field(obj, "metadata", "labels").(map[string]any); labels[controlplane.LabelManagedBy] == controlplane.ManagedByValue && slices.Contains(platformKinds, kind) {
		return Proposal{}, &ArgError{Field: "name", Message: fmt.Sprintf("%s %s is the platform's (project quotas, roles and policies are set in the platform)", kind, a.Name)}
	}
	uid := fieldString(obj, "metadata", "uid")
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{
		TypeMeta:          metav1.TypeMeta{APIVersion: "v1", Kind: "DeleteOptions"},
		Preconditions:     &metav1.Preconditions{ResourceVersion: &rv},
		PropagationPolicy: &bg,
	}
	if uid != "" {
		u := types.UID(uid)
		opts.Preconditions.UID = &u
	}
	body, err := json.Marshal(opts)
	if err != nil {
		return Proposal{}, fmt.Errorf("encode delete options: %w", err)
	}
	where := ""
	if ns != "" {
		where = " in " + ns
	}
	return Proposal{
		Summary: fmt.Sprintf("delete %s %s%s", strings.ToLower(kind), a.Name, where),
		Method:  "DELETE", Path: path, Body: body,
		GuardPath: path, GuardResourceVersion: rv, Before: beforeOf(obj),
	}, nil
}

// projectScope is the project of namespace ns for the kube helpers.
func (t *Target) projectScope(ns string) (kube.Project, bool) {
	p, ok := t.project(ns)
	if !ok {
		return kube.Project{}, false
	}
	return kube.Project{Scope: tenancy.ProjectScope{WorkspaceScope: t.Scope, Project: p}, C: t.Client, NS: ns}, true
}
