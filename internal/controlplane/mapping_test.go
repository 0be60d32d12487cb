package controlplane

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/hexabase/hexabase-ai/internal/authz"
	"github.com/hexabase/hexabase-ai/internal/issuer"
	"github.com/hexabase/hexabase-ai/internal/store"
)

var (
	pWeb     = store.Project{ID: "p-web", Name: "web", Quota: store.Quota{CPU: "2", Memory: "4Gi", Storage: "10Gi", Pods: 20}}
	pStaging = store.Project{ID: "p-staging", Name: "web-staging", ParentID: "p-web", Quota: store.Quota{CPU: "50m"}}
	pAPI     = store.Project{ID: "p-api", Name: "api"}
	projects = []store.Project{pWeb, pStaging, pAPI}
)

func TestDesiredNamespacesAndQuotas(t *testing.T) {
	st, err := Desired(Tenancy{Workspace: store.Workspace{ID: "ws", Plan: PlanShared}, Projects: projects})
	if err != nil {
		t.Fatal(err)
	}
	ns := map[string]map[string]string{}
	for _, n := range st.Namespaces {
		ns[n.Name] = n.Labels
	}
	wantNS := map[string]map[string]string{
		"web":         {LabelManagedBy: ManagedByValue, LabelProjectID: "p-web"},
		"web-staging": {LabelManagedBy: ManagedByValue, LabelProjectID: "p-staging", LabelParent: "web"},
		"api":         {LabelManagedBy: ManagedByValue, LabelProjectID: "p-api"},
	}
	for _, l := range wantNS { // TestDesiredPodSecurityLabels checks these
		l[LabelPodSecurityEnforce], l[LabelPodSecurityWarn], l[LabelPodSecurityAudit] = "baseline", "restricted", "restricted"
		for _, k := range []string{LabelPodSecurityEnforce, LabelPodSecurityWarn, LabelPodSecurityAudit} {
			l[k+VersionSuffix] = PodSecurityLatest
		}
	}
	if fmt.Sprint(ns) != fmt.Sprint(wantNS) {
		t.Fatalf("namespaces %v, want %v", ns, wantNS)
	}

	hard := map[string]string{}
	for _, q := range st.ResourceQuotas {
		if q.Name != QuotaName || q.Labels[LabelManagedBy] != ManagedByValue {
			t.Errorf("quota %s/%s labels %v", q.Namespace, q.Name, q.Labels)
		}
		hard[q.Namespace] = listString(q.Spec.Hard)
	}
	wantHard := map[string]string{ // api is unlimited: no quota
		"web":         "limits.cpu=2 limits.memory=4Gi pods=20 requests.cpu=2 requests.memory=4Gi requests.storage=10Gi",
		"web-staging": "limits.cpu=50m requests.cpu=50m",
	}
	if !maps.Equal(hard, wantHard) {
		t.Fatalf("quotas %v, want %v", hard, wantHard)
	}

	defaults := map[string]string{}
	for _, l := range st.LimitRanges {
		if len(l.Spec.Limits) != 1 || l.Spec.Limits[0].Type != corev1.LimitTypeContainer {
			t.Fatalf("limit range %s: %+v", l.Namespace, l.Spec)
		}
		defaults[l.Namespace] = "limit " + listString(l.Spec.Limits[0].Default) + " request " + listString(l.Spec.Limits[0].DefaultRequest)
	}
	wantDefaults := map[string]string{ // capped at the quota
		"web":         "limit cpu=500m memory=512Mi request cpu=100m memory=128Mi",
		"web-staging": "limit cpu=50m request cpu=50m",
	}
	if !maps.Equal(defaults, wantDefaults) {
		t.Fatalf("limit ranges %v, want %v", defaults, wantDefaults)
	}
}

func listString(l corev1.ResourceList) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		q := l[k]
		parts = append(parts, string(k)+"="+q.String())
	}
	return strings.Join(parts, " ")
}

func TestDesiredRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		project store.Project
		want    string
	}{
		{"reserved default", store.Project{ID: "x", Name: "default"}, `workspace ws: project x: name "default" is reserved`},
		{"reserved kube-", store.Project{ID: "x", Name: "kube-system"}, `workspace ws: project x: name "kube-system" is reserved`},
		{"not a label", store.Project{ID: "x", Name: "Bad_Name"}, `workspace ws: project x: name "Bad_Name" is not a valid namespace name`},
		{"injection", store.Project{ID: "x", Name: "a,b=c"}, `workspace ws: project x: name "a,b=c" is not a valid namespace name`},
		{"duplicate", store.Project{ID: "x", Name: "web"}, `workspace ws: project x: duplicate name "web"`},
		{"bad cpu", store.Project{ID: "x", Name: "x", Quota: store.Quota{CPU: "lots"}}, `workspace ws: project x: quota cpu "lots"`},
		{"negative memory", store.Project{ID: "x", Name: "x", Quota: store.Quota{Memory: "-1Gi"}}, `workspace ws: project x: quota memory "-1Gi" is negative`},
		{"negative pods", store.Project{ID: "x", Name: "x", Quota: store.Quota{Pods: -1}}, `workspace ws: project x: quota pods -1 is negative`},
		{"unknown parent", store.Project{ID: "x", Name: "x", ParentID: "nope"}, `workspace ws: project x: parent nope is not a project of the workspace`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Desired(Tenancy{Workspace: store.Workspace{ID: "ws", Plan: PlanShared}, Projects: []store.Project{pWeb, tc.project}})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err %v, want prefix %q", err, tc.want)
			}
		})
	}
}

// levelOfRole is what a bound ClusterRole allows, in authz terms.
var levelOfRole = map[string]authz.Level{"cluster-admin": authz.Admin, "admin": authz.Admin, "edit": authz.Develop, "view": authz.View}

// clusterLevel is the level the Desired RBAC grants a token with groups in
// namespace ns, and whether it may list namespaces.
func clusterLevel(st State, groups []string, ns string) (authz.Level, bool) {
	has := map[string]bool{}
	for _, g := range groups {
		has[GroupsPrefix+g] = true
	}
	l, list := authz.None, false
	for _, b := range st.ClusterRoleBindings {
		for _, s := range b.Subjects {
			if !has[s.Name] {
				continue
			}
			if b.RoleRef.Name == ClusterRoleNamespaceReader {
				list = true
			}
			if lv := levelOfRole[b.RoleRef.Name]; lv > l {
				l, list = lv, true
			}
		}
	}
	for _, b := range st.RoleBindings {
		if b.Namespace != ns {
			continue
		}
		for _, s := range b.Subjects {
			if has[s.Name] && levelOfRole[b.RoleRef.Name] > l {
				l = levelOfRole[b.RoleRef.Name]
			}
		}
	}
	return l, list
}

// TestRBACAgreesWithAuthz: for users with a range of accesses, the marker
// groups issuer.WorkspaceGroups puts in their token, bound by Desired,
// allow exactly the level authz computes in every project namespace.
func TestRBACAgreesWithAuthz(t *testing.T) {
	st, err := Desired(Tenancy{Workspace: store.Workspace{ID: "ws", Plan: PlanShared}, Projects: projects})
	if err != nil {
		t.Fatal(err)
	}
	chains := map[string][]string{"web": {"p-web"}, "web-staging": {"p-staging", "p-web"}, "api": {"p-api"}}
	for _, tc := range []struct {
		name     string
		acc      authz.WorkspaceAccess
		wantList bool
	}{
		{"org owner", authz.WorkspaceAccess{OrgRole: store.RoleOwner, Workspace: authz.Admin}, true},
		{"workspace developer", authz.WorkspaceAccess{Workspace: authz.Develop, Groups: []string{"eng"}}, true},
		{"workspace viewer, developer on web (inherited by web-staging), admin on api", authz.WorkspaceAccess{
			Workspace: authz.View, Projects: map[string]authz.Level{"p-web": authz.Develop, "p-api": authz.Admin}, Groups: []string{"eng", "web"},
		}, true},
		{"viewer on the child only", authz.WorkspaceAccess{Projects: map[string]authz.Level{"p-staging": authz.View}, Groups: []string{"auditors"}}, false},
		{"admin of web only", authz.WorkspaceAccess{Projects: map[string]authz.Level{"p-web": authz.Admin}}, false},
		{"nothing", authz.WorkspaceAccess{Groups: []string{"newcomers"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			groups := issuer.WorkspaceGroups(tc.acc, projects)
			for ns, chain := range chains {
				got, list := clusterLevel(st, groups, ns)
				if want := tc.acc.ProjectLevel(chain...); got != want {
					t.Errorf("groups %v: level in %s = %v, authz says %v", groups, ns, got, want)
				}
				if list != tc.wantList {
					t.Errorf("groups %v: may list namespaces = %v, want %v", groups, list, tc.wantList)
				}
			}
		})
	}
}

func TestQuotaDefaultsNeverExceedQuota(t *testing.T) {
	for _, cpu := range []string{"1m", "50m", "100m", "250m", "1", "64"} {
		for _, mem := range []string{"1Mi", "100Mi", "1Gi"} {
			t.Run(cpu+" "+mem, func(t *testing.T) {
				p := store.Project{ID: "p", Name: "p", Quota: store.Quota{CPU: cpu, Memory: mem}}
				_, lr, err := quotaObjects(p)
				if err != nil {
					t.Fatal(err)
				}
				item := lr.Spec.Limits[0]
				for res, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem} {
					limit, req, quota := item.Default[res], item.DefaultRequest[res], resource.MustParse(q)
					if limit.Cmp(quota) > 0 || req.Cmp(limit) > 0 {
						t.Errorf("quota %s=%s: default request %s limit %s", res, q, req.String(), limit.String())
					}
				}
			})
		}
	}
}
