package workloads

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/hexabase/hexabase-ai/internal/controlplane/local/localtest"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
	"github.com/hexabase/hexabase-ai/internal/kube"
	"github.com/hexabase/hexabase-ai/internal/store"
	"github.com/hexabase/hexabase-ai/internal/tenancy"
)

// workspaceProject starts a real workspace cluster with the local
// provider (the pinned binaries; skipped with -short) and answers a
// project of it, namespace ns, as its administrator.
func workspaceProject(t *testing.T, ns string) kube.Project {
	t.Helper()
	rc := localtest.Workspace(t)
	ctx := context.Background()
	warnings := &kube.Warnings{}
	rc.WarningHandler, rc.WarningHandlerWithContext = nil, warnings
	c := &kube.Client{Kube: kubernetes.NewForConfigOrDie(rc), Dynamic: dynamic.NewForConfigOrDie(rc), Config: rc, Warnings: warnings}
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return kube.Project{Scope: tenancy.ProjectScope{Project: store.Project{Name: ns}}, C: c, NS: ns}
}

// TestManifestPutDoesNotTakeOverWhatAppearsAfterTheClaimCheck: objects
// created or relabelled with kubectl between a manifest PUT's claim check
// and its writes (a test hook runs in that window, against a real
// workspace API server) are not taken over: an object that appeared is
// a 409 naming it, left as it was, and what the PUT had created already
// is removed; an object that became another's is refused and keeps its
// labels. An unrelated change in the window (an annotation) is applied
// over after checking the object again.
func TestManifestPutDoesNotTakeOverWhatAppearsAfterTheClaimCheck(t *testing.T) {
	ac := workspaceProject(t, ns)
	s := &Service{cfg: Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}}
	ctx := context.Background()
	cms := ac.C.Kube.CoreV1().ConfigMaps(ns)
	shop := func(extra ...string) string {
		m := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop}\nspec:\n  selector: {matchLabels: {app: shop}}\n  template:\n    metadata: {labels: {app: shop}}\n" +
			"    spec:\n      containers: [{name: c, image: 'busybox:1.36'}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: shop-config}\ndata: {k: v}\n"
		for _, name := range extra {
			m += "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\ndata: {k: app}\n"
		}
		return m
	}
	if _, _, err := s.applyManifest(ctx, ac, shop(), "", false); err != nil {
		t.Fatal(err)
	}
	hook := func(f func()) {
		afterClaimCheck = func(context.Context) { f() }
		t.Cleanup(func() { afterClaimCheck = nil })
	}

	t.Run("an object created in the window", func(t *testing.T) {
		hook(func() {
			if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}, Data: map[string]string{"k": "kubectl"}}, metav1.CreateOptions{}); err != nil {
				t.Error(err)
			}
		})
		_, _, err := s.applyManifest(ctx, ac, shop("shop-extra", "late"), "shop", false)
		var he *httpapi.Error
		if !errors.As(err, &he) || he.Status != http.StatusConflict || !strings.Contains(he.Detail, "document 4 (ConfigMap late)") {
			t.Fatalf("PUT: %v, want a 409 naming document 4 (ConfigMap late)", err)
		}
		late, err := cms.Get(ctx, "late", metav1.GetOptions{})
		if err != nil || late.Data["k"] != "kubectl" || late.Labels[LabelApp] != "" {
			t.Errorf("late after the PUT: %+v %v", late, err)
		}
		if _, err := cms.Get(ctx, "shop-extra", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("shop-extra, created by the refused PUT, is left: %v", err)
		}
	})
	t.Run("an object relabelled in the window", func(t *testing.T) {
		hook(func() {
			patch := `{"metadata":{"labels":{"hks.io/app":"other"}}}`
			if _, err := cms.Patch(ctx, "shop-config", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				t.Error(err)
			}
		})
		_, _, err := s.applyManifest(ctx, ac, shop(), "shop", false)
		var he *httpapi.Error
		if !errors.As(err, &he) || he.Status != http.StatusUnprocessableEntity || !strings.Contains(he.Detail, `document 2 (ConfigMap shop-config): the object exists and is not part of application "shop"`) {
			t.Fatalf("PUT: %v, want a 422 naming document 2", err)
		}
		cm, err := cms.Get(ctx, "shop-config", metav1.GetOptions{})
		if err != nil || cm.Labels[LabelApp] != "other" {
			t.Errorf("shop-config after the PUT: %+v %v", cm, err)
		}
		// Give it back to shop.
		patch := `{"metadata":{"labels":{"hks.io/app":"shop"}}}`
		if _, err := cms.Patch(ctx, "shop-config", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an unrelated change in the window (control)", func(t *testing.T) {
		hook(func() {
			patch := `{"metadata":{"annotations":{"note":"x"}},"data":{"k":"changed"}}`
			if _, err := cms.Patch(ctx, "shop-config", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				t.Error(err)
			}
		})
		if _, _, err := s.applyManifest(ctx, ac, shop(), "shop", false); err != nil {
			t.Fatalf("PUT: %v", err)
		}
		cm, err := cms.Get(ctx, "shop-config", metav1.GetOptions{})
		if err != nil || cm.Data["k"] != "v" || cm.Labels[LabelApp] != "shop" {
			t.Errorf("shop-config after the PUT: %+v %v", cm, err)
		}
	})
}
