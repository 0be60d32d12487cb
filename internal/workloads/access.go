package workloads

import (
	"context"
	"net/http"
	"slices"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/kube"
)

// accessCheck is one question the console asks of the cluster's RBAC.
type accessCheck struct {
	group, resource, sub, verb string
}

func (c accessCheck) key() string {
	if c.sub != "" {
		return c.resource + "/" + c.sub
	}
	return c.resource
}

// accessChecks are the verbs the application and CronJob pages need. The
// list is fixed: it says what the console may show, not what exists.
var accessChecks = func() []accessCheck {
	var out []accessCheck
	add := func(group, resource, sub string, verbs ...string) {
		for _, v := range verbs {
			out = append(out, accessCheck{group, resource, sub, v})
		}
	}
	rw := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	add("apps", "deployments", "", rw...)
	add("apps", "deployments", "scale", "get", "update", "patch")
	add("", "services", "", "get", "list", "create", "update", "delete")
	add("", "pods", "", "get", "list", "watch", "delete")
	add("", "pods", "log", "get")
	add("", "events", "", "list", "watch")
	add("batch", "cronjobs", "", rw...)
	add("batch", "jobs", "", rw...)
	return out
}()

// access answers what the caller may do in the project, asked of the
// workspace cluster as the caller.
func (s *Service) access(r *http.Request) (any, error) {
	ac, err := s.apps.Project(r)
	if err != nil {
		return nil, err
	}
	return accessIn(r.Context(), ac.C.Kube, ac.NS)
}

// accessIn asks the cluster, as the client's user, for its rules in the
// namespace (one SelfSubjectRulesReview) and judges every check by them;
// when the cluster says its rules are incomplete (an authorizer that
// cannot list rules), each check is asked with a SelfSubjectAccessReview.
func accessIn(ctx context.Context, c kubernetes.Interface, ns string) (api.ProjectAccess, error) {
	out := api.ProjectAccess{Resources: map[string][]string{}}
	for _, ch := range accessChecks {
		if _, ok := out.Resources[ch.key()]; !ok {
			out.Resources[ch.key()] = []string{}
		}
	}
	rr, err := c.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{
		Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}}, metav1.CreateOptions{})
	if err != nil {
		return out, kube.Error(err)
	}
	for _, ch := range accessChecks {
		ok := allowedBy(rr.Status.ResourceRules, ch)
		if !ok && rr.Status.Incomplete {
			ar, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: ns, Verb: ch.verb, Group: ch.group, Resource: ch.resource, Subresource: ch.sub}}}, metav1.CreateOptions{})
			if err != nil {
				return out, kube.Error(err)
			}
			ok = ar.Status.Allowed
		}
		if ok {
			out.Resources[ch.key()] = append(out.Resources[ch.key()], ch.verb)
		}
	}
	return out, nil
}

// allowedBy tells whether one of the rules grants the check for every
// object of its resource (a rule limited to resourceNames does not), with
// RBAC's wildcards: "*" verb, group or resource, "*/sub" and "res/*".
func allowedBy(rules []authorizationv1.ResourceRule, ch accessCheck) bool {
	for _, r := range rules {
		if len(r.ResourceNames) > 0 {
			continue
		}
		if !has(r.Verbs, ch.verb) || !has(r.APIGroups, ch.group) {
			continue
		}
		for _, res := range r.Resources {
			if res == "*" || res == ch.key() ||
				(ch.sub != "" && (res == "*/"+ch.sub || res == ch.resource+"/*")) {
				return true
			}
		}
	}
	return false
}

func has(list []string, v string) bool {
	return slices.Contains(list, v) || slices.Contains(list, "*")
}
