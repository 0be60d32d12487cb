package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

func TestError(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	cases := []struct {
		name   string
		err    error
		status int // 0: passed on as an internal error
	}{
		{"forbidden", apierrors.NewForbidden(gr, "web", errors.New("no")), http.StatusForbidden},
		{"not found", apierrors.NewNotFound(gr, "web"), http.StatusNotFound},
		{"conflict", apierrors.NewConflict(gr, "web", errors.New("changed")), http.StatusConflict},
		{"already exists", apierrors.NewAlreadyExists(gr, "web"), http.StatusConflict},
		{"invalid", apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "web", nil), http.StatusUnprocessableEntity},
		{"bad request", apierrors.NewBadRequest("no"), http.StatusBadRequest},
		{"busy", apierrors.NewTooManyRequests("slow down", 1), http.StatusServiceUnavailable},
		{"unreachable", fmt.Errorf("get: %w", &net.OpError{Op: "dial", Err: errors.New("refused")}), http.StatusServiceUnavailable},
		{"deadline", context.DeadlineExceeded, http.StatusServiceUnavailable},
		{"platform refused", apierrors.NewUnauthorized("who"), 0},
		{"other", errors.New("boom"), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var he *httpapi.Error
			got := Error(tc.err)
			if tc.status == 0 {
				if errors.As(got, &he) {
					t.Fatalf("%v became %d, want an internal error", tc.err, he.Status)
				}
				return
			}
			if !errors.As(got, &he) || he.Status != tc.status {
				t.Fatalf("%v became %v, want %d", tc.err, got, tc.status)
			}
		})
	}
	if Error(nil) != nil {
		t.Error("Error(nil) is not nil")
	}
}

func TestDiffers(t *testing.T) {
	one, zero := int32(1), int32(0)
	cases := []struct {
		name string
		a, b any
		want bool
	}{
		{"nil and empty list", []string(nil), []string{}, false},
		{"nil and empty map", map[string]string(nil), map[string]string{}, false},
		{"empty string", "", "", false},
		{"lists", []string{"a"}, []string{"b"}, true},
		{"list order", []api.EnvVar{{Name: "A"}, {Name: "B"}}, []api.EnvVar{{Name: "B"}, {Name: "A"}}, true},
		{"zero and unset", &zero, (*int32)(nil), true},
		{"equal values behind other pointers", &one, ptrTo(int32(1)), false},
		{"bools", true, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Differs(tc.a, tc.b); got != tc.want {
				t.Errorf("Differs(%v, %v) = %v", tc.a, tc.b, got)
			}
		})
	}
}

func TestSetEnvKeepsValueFrom(t *testing.T) {
	from := &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k"}}
	c := corev1.Container{Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "S", ValueFrom: from}, {Name: "T", ValueFrom: from}}}
	SetEnv(&c, []corev1.EnvVar{{Name: "S"}, {Name: "T", Value: "plain"}, {Name: "B", Value: "2"}})
	if len(c.Env) != 3 || c.Env[0].ValueFrom != from || c.Env[1].ValueFrom != nil || c.Env[1].Value != "plain" || c.Env[2].Name != "B" {
		t.Errorf("env %+v", c.Env)
	}
	SetEnv(&c, nil)
	if c.Env != nil {
		t.Errorf("env %+v, want none", c.Env)
	}
}

func TestSetResourcesKeepsOthers(t *testing.T) {
	c := corev1.Container{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}}}
	SetResources(&c, corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}})
	r := c.Resources.Requests
	if _, ok := r[corev1.ResourceCPU]; ok || r.Memory().String() != "64Mi" || r.StorageEphemeral().String() != "1Gi" || c.Resources.Limits != nil {
		t.Errorf("resources %v", c.Resources)
	}
}

func TestSetUserLabels(t *testing.T) {
	a := map[string]string{"hks.io/app": "web", "team": "web", "other": "x"}
	var b map[string]string
	SetUserLabels(map[string]string{"team": "web"}, map[string]string{"tier": "front"}, &a, &b)
	if len(a) != 3 || a["tier"] != "front" || a["hks.io/app"] != "web" || a["other"] != "x" || b["tier"] != "front" {
		t.Errorf("labels %v %v", a, b)
	}
	if got := UserLabels(a); len(got) != 2 || got["hks.io/app"] != "" {
		t.Errorf("UserLabels %v", got)
	}
}

func ptrTo[T any](v T) *T { return &v }
