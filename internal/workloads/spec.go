package workloads

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
)

// Labels the platform puts on the objects of an application.
const (
	// LabelApp names the application on its Deployment, its pods and its
	// Service (the Service's selector).
	LabelApp = "hks.io/app"
	// annotationRestartedAt is what `kubectl rollout restart` sets.
	annotationRestartedAt = "kubectl.kubernetes.io/restartedAt"
)

// Limits of a spec, so that a request cannot ask for absurd objects.
const maxReplicas = 1000

func validName(field, name string) []api.FieldError {
	if name == "" {
		return []api.FieldError{httpapi.Field(field, "is required")}
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return []api.FieldError{httpapi.Field(field, "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters")}
	}
	return nil
}

func parseQuantity(field, v string) (resource.Quantity, []api.FieldError) {
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return q, []api.FieldError{httpapi.Field(field, fmt.Sprintf("%q is not a quantity (examples: 250m, 1, 512Mi, 2Gi)", v))}
	}
	if q.Sign() < 0 {
		return q, []api.FieldError{httpapi.Field(field, "must not be negative")}
	}
	return q, nil
}

func resourceList(rl api.ResourceList, field string) (corev1.ResourceList, []api.FieldError) {
	var errs []api.FieldError
	out := corev1.ResourceList{}
	if rl.CPU != "" {
		q, e := parseQuantity(field+".cpu", rl.CPU)
		errs = append(errs, e...)
		out[corev1.ResourceCPU] = q
	}
	if rl.Memory != "" {
		q, e := parseQuantity(field+".memory", rl.Memory)
		errs = append(errs, e...)
		out[corev1.ResourceMemory] = q
	}
	if len(out) == 0 {
		return nil, errs
	}
	return out, errs
}

// validateLabels checks user labels; the platform's own keys are refused.
func validateLabels(field string, labels map[string]string) []api.FieldError {
	var errs []api.FieldError
	if len(labels) > kube.MaxItems {
		return []api.FieldError{httpapi.Field(field, fmt.Sprintf("at most %d labels", kube.MaxItems))}
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if e := validation.IsQualifiedName(k); len(e) > 0 {
			errs = append(errs, httpapi.Field(field+"."+k, "not a valid label key: "+strings.Join(e, "; ")))
			continue
		}
		if k == LabelApp || k == kube.LabelManagedBy || strings.HasPrefix(k, "hks.io/") {
			errs = append(errs, httpapi.Field(field+"."+k, "is set by the platform"))
			continue
		}
		if e := validation.IsValidLabelValue(labels[k]); len(e) > 0 {
			errs = append(errs, httpapi.Field(field+"."+k, "not a valid label value: "+strings.Join(e, "; ")))
		}
	}
	return errs
}

// objects builds the Deployment and (with ports) the Service of an
// application, or the field errors of the spec.
func appObjects(s api.AppSpec, name, namespace string) (*appsv1.Deployment, *corev1.Service, []api.FieldError) {
	var errs []api.FieldError
	errs = append(errs, validName("name", name)...)
	switch {
	case strings.TrimSpace(s.Image) == "":
		errs = append(errs, httpapi.Field("image", "is required"))
	case len(s.Image) > 512 || strings.ContainsAny(s.Image, " \t\n"):
		errs = append(errs, httpapi.Field("image", "must be an image reference without spaces, at most 512 characters"))
	}
	replicas := int32(1)
	if s.Replicas != nil {
		replicas = *s.Replicas
		if replicas < 0 || replicas > maxReplicas {
			errs = append(errs, httpapi.Field("replicas", fmt.Sprintf("must be between 0 and %d", maxReplicas)))
		}
	}
	errs = append(errs, kube.ListLimits("command", s.Command)...)
	errs = append(errs, kube.ListLimits("args", s.Args)...)
	env, e := kube.EnvVars("env", s.Env)
	errs = append(errs, e...)
	var cports []corev1.ContainerPort
	var sports []corev1.ServicePort
	if len(s.Ports) > kube.MaxItems {
		errs = append(errs, httpapi.Field("ports", fmt.Sprintf("at most %d ports", kube.MaxItems)))
	}
	names := map[string]bool{}
	for i, p := range s.Ports {
		f := fmt.Sprintf("ports[%d]", i)
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			errs = append(errs, httpapi.Field(f+".container_port", "must be between 1 and 65535"))
		}
		sp := p.ServicePort
		if sp == 0 {
			sp = p.ContainerPort
		}
		if sp < 1 || sp > 65535 {
			errs = append(errs, httpapi.Field(f+".service_port", "must be between 1 and 65535"))
		}
		proto := corev1.Protocol(strings.ToUpper(p.Protocol))
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		if proto != corev1.ProtocolTCP && proto != corev1.ProtocolUDP && proto != corev1.ProtocolSCTP {
			errs = append(errs, httpapi.Field(f+".protocol", "must be TCP, UDP or SCTP"))
		}
		pn := p.Name
		if pn == "" {
			pn = fmt.Sprintf("p%d", p.ContainerPort)
		}
		if e := validation.IsValidPortName(pn); len(e) > 0 {
			errs = append(errs, httpapi.Field(f+".name", "must be a DNS-1123 label of at most 15 characters with a letter"))
		} else if names[pn] {
			errs = append(errs, httpapi.Field(f+".name", fmt.Sprintf("%s is used twice", pn)))
		}
		names[pn] = true
		cports = append(cports, corev1.ContainerPort{Name: pn, ContainerPort: p.ContainerPort, Protocol: proto})
		sports = append(sports, corev1.ServicePort{Name: pn, Port: sp, TargetPort: intstr.FromString(pn), Protocol: proto})
	}
	var res corev1.ResourceRequirements
	if s.Resources != nil {
		var e []api.FieldError
		res.Requests, e = resourceList(s.Resources.Requests, "resources.requests")
		errs = append(errs, e...)
		res.Limits, e = resourceList(s.Resources.Limits, "resources.limits")
		errs = append(errs, e...)
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okR := res.Requests[r]
			lim, okL := res.Limits[r]
			if okR && okL && req.Cmp(lim) > 0 {
				errs = append(errs, httpapi.Field("resources.requests."+string(r), "must not exceed the limit"))
			}
		}
	}
	errs = append(errs, validateLabels("labels", s.Labels)...)
	if len(errs) > 0 {
		return nil, nil, errs
	}
	labels := map[string]string{}
	maps.Copy(labels, s.Labels)
	labels[LabelApp] = name
	labels[kube.LabelManagedBy] = kube.ManagedBy
	selector := map[string]string{LabelApp: name}
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: s.Image, Command: s.Command, Args: s.Args, Env: env, Ports: cports, Resources: res,
				}}},
			},
		},
	}
	var svc *corev1.Service
	if len(sports) > 0 {
		svc = &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
			Spec:       corev1.ServiceSpec{Selector: selector, Ports: sports},
		}
	}
	return d, svc, nil
}
