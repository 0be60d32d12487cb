package workloads

import (
	"context"
	"reflect"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/hexabase/hexabase-ai/internal/kube/kubetest"
)

func TestAccessJudgesTheCallersRules(t *testing.T) {
	// The rules of the built-in "view" role (as the workspace's viewer
	// role binds it) and of "edit" (a developer's), in part.
	view := []authorizationv1.ResourceRule{
		{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{"apps"}, Resources: []string{"deployments", "deployments/scale", "replicasets"}},
		{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods", "pods/log", "events", "services"}},
		{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{"batch"}, Resources: []string{"cronjobs", "jobs"}},
		// A rule for named objects only grants nothing in general.
		{Verbs: []string{"delete"}, APIGroups: []string{"apps"}, Resources: []string{"deployments"}, ResourceNames: []string{"web"}},
		{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectrulesreviews"}},
	}
	edit := append(view[:3:3],
		authorizationv1.ResourceRule{Verbs: []string{"create", "update", "patch", "delete"}, APIGroups: []string{"apps"}, Resources: []string{"deployments", "*/scale"}},
		authorizationv1.ResourceRule{Verbs: []string{"*"}, APIGroups: []string{"batch"}, Resources: []string{"*"}},
	)
	for _, tc := range []struct {
		name  string
		rules []authorizationv1.ResourceRule
		want  map[string][]string
	}{
		{"viewer", view, map[string][]string{
			"deployments": {"get", "list", "watch"}, "deployments/scale": {"get"}, "cronjobs": {"get", "list", "watch"}, "jobs": {"get", "list", "watch"},
			"pods/log": {"get"}, "events": {"list", "watch"}}},
		{"developer", edit, map[string][]string{
			"deployments": {"get", "list", "watch", "create", "update", "patch", "delete"}, "deployments/scale": {"get", "update", "patch"},
			"cronjobs": {"get", "list", "watch", "create", "update", "patch", "delete"}, "jobs": {"get", "list", "watch", "create", "update", "patch", "delete"},
			"pods/log": {"get"}, "events": {"list", "watch"}}},
		{"nobody", nil, map[string][]string{"deployments": {}, "deployments/scale": {}, "cronjobs": {}, "jobs": {}, "pods/log": {}, "events": {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := kubetest.NewClientset()
			cs.PrependReactor("create", "selfsubjectrulesreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if ns := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectRulesReview).Spec.Namespace; ns != "frontend" {
					t.Errorf("rules asked in namespace %q", ns)
				}
				return true, &authorizationv1.SelfSubjectRulesReview{Status: authorizationv1.SubjectRulesReviewStatus{ResourceRules: tc.rules}}, nil
			})
			got, err := accessIn(context.Background(), cs, "frontend")
			if err != nil {
				t.Fatal(err)
			}
			for res, verbs := range tc.want {
				if !reflect.DeepEqual(got.Resources[res], verbs) {
					t.Errorf("%s: %v, want %v", res, got.Resources[res], verbs)
				}
			}
		})
	}
}

func TestAccessAsksEachCheckWhenTheRulesAreIncomplete(t *testing.T) {
	cs := kubetest.NewClientset()
	asked := 0
	cs.PrependReactor("create", "selfsubjectrulesreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, &authorizationv1.SelfSubjectRulesReview{Status: authorizationv1.SubjectRulesReviewStatus{Incomplete: true}}, nil
	})
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		asked++
		attrs := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview).Spec.ResourceAttributes
		return true, &authorizationv1.SelfSubjectAccessReview{Status: authorizationv1.SubjectAccessReviewStatus{
			Allowed: attrs.Resource == "cronjobs" && attrs.Verb == "create" && attrs.Namespace == "frontend"}}, nil
	})
	got, err := accessIn(context.Background(), cs, "frontend")
	if err != nil {
		t.Fatal(err)
	}
	if asked != len(accessChecks) {
		t.Errorf("%d access reviews, want one per check (%d)", asked, len(accessChecks))
	}
	if !reflect.DeepEqual(got.Resources["cronjobs"], []string{"create"}) || len(got.Resources["deployments"]) != 0 {
		t.Errorf("access %v", got.Resources)
	}
}
