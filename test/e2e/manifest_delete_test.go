package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/api"
)

// shopManifest is an application with a second Service, a ConfigMap, a
// Secret and a PodDisruptionBudget; extra is appended as more documents.
func shopManifest(extra string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers: [{name: c, image: 'busybox:1.36', command: [sleep, "3600"]}]
---
apiVersion: v1
kind: Service
metadata: {name: shop}
spec:
  selector: {app: shop}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: shop-admin}
spec:
  selector: {app: shop}
  ports: [{port: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shop-config}
data: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-secret}
stringData: {password: s3cret}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: shop-pdb}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: shop}}
` + extra
}

// TestDeletingAManifestApplicationLeavesNothing: an application created
// from a manifest of several kinds is deleted with every object the
// manifest created; kinds that delete would not remove are refused; a
// manifest cannot take over another application's object (or one made
// with kubectl), which the delete then leaves alone.
func TestDeletingAManifestApplicationLeavesNothing(t *testing.T) {
	w := newWorkloadsWorld(t)
	ctx := context.Background()
	apps := w.frontend + "/applications"
	kc, _ := userClient(t, w.s, w.a, w.wsPath)
	const ns = "frontend"

	keep := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: keep}\nspec:\n  selector: {matchLabels: {app: keep}}\n  template:\n    metadata: {labels: {app: keep}}\n" +
		"    spec:\n      containers: [{name: c, image: 'busybox:1.36', command: [sleep, \"3600\"]}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: keep-config}\ndata: {k: v}\n"
	w.a.must("POST", apps, api.CreateApplicationRequest{Manifest: keep}, http.StatusCreated, nil)
	if _, err := kc.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "loose"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	w.a.must("POST", apps, api.CreateApplicationRequest{Manifest: shopManifest("")}, http.StatusCreated, nil)

	// A PUT cannot take over another application's ConfigMap, nor one
	// made with kubectl.
	for _, name := range []string{"keep-config", "loose"} {
		claim := "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\ndata: {k: taken}\n"
		code, b, err := w.a.call("PUT", apps+"/shop", api.UpdateApplicationRequest{Manifest: shopManifest(claim)})
		if err != nil || code != http.StatusUnprocessableEntity || !strings.Contains(string(b), `is not part of application \"shop\"`) {
			t.Errorf("PUT shop claiming %s: %d %s %v", name, code, b, err)
		}
		cm, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || cm.Data["k"] != "v" || cm.Labels["hks.io/app"] == "shop" {
			t.Errorf("%s after a refused PUT: %+v %v", name, cm, err)
		}
	}
	// The application's own PUT is applied.
	w.a.must("PUT", apps+"/shop", api.UpdateApplicationRequest{Manifest: shopManifest("")}, http.StatusOK, nil)

	w.a.must("DELETE", apps+"/shop", nil, http.StatusNoContent, nil)
	problem(t, w.a, "GET", apps+"/shop", nil, http.StatusNotFound)
	gone := map[string]error{
		"Deployment shop":              getErr(kc.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})),
		"Service shop":                 getErr(kc.CoreV1().Services(ns).Get(ctx, "shop", metav1.GetOptions{})),
		"Service shop-admin":           getErr(kc.CoreV1().Services(ns).Get(ctx, "shop-admin", metav1.GetOptions{})),
		"ConfigMap shop-config":        getErr(kc.CoreV1().ConfigMaps(ns).Get(ctx, "shop-config", metav1.GetOptions{})),
		"Secret shop-secret":           getErr(kc.CoreV1().Secrets(ns).Get(ctx, "shop-secret", metav1.GetOptions{})),
		"PodDisruptionBudget shop-pdb": getErr(kc.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, "shop-pdb", metav1.GetOptions{})),
	}
	for what, err := range gone {
		if !apierrors.IsNotFound(err) {
			t.Errorf("%s is left after the delete: %v", what, err)
		}
	}
	// Its pods go as well (background deletion).
	eventually(t, 2*time.Minute, func() (bool, string) {
		pods, err := kc.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=shop"})
		if err != nil {
			return false, err.Error()
		}
		return len(pods.Items) == 0, "pods of shop are left"
	})
	// Another application's objects, and the kubectl one, stay.
	for _, name := range []string{"keep-config", "loose"} {
		if _, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("ConfigMap %s after deleting shop: %v", name, err)
		}
	}
	w.a.must("GET", apps+"/keep", nil, http.StatusOK, nil)

	// A kind the delete would not remove is refused, naming the
	// document, and nothing is created.
	job := "---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: shop-job}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: 'busybox:1.36'}]\n"
	if p := problem(t, w.a, "POST", apps, api.CreateApplicationRequest{Manifest: shopManifest(job)}, http.StatusUnprocessableEntity); !strings.Contains(p.Detail, "document 7 (Job shop-job): an application holds only") {
		t.Fatalf("a manifest with a Job: %+v", p)
	}
	if _, err := kc.AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a refused manifest created the Deployment: %v", err)
	}
}

// getErr is the error of a Get, whatever it read.
func getErr[T any](_ T, err error) error { return err }
