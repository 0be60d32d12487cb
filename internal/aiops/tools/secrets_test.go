package tools

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// TestSecretsNeverLeave: through the tools, a Secret shows its keys and
// never its values (get_resource, list_resources, describe, a delete's
// plan; its last-applied annotation too); a ConfigMap holding a
// kubeconfig and a PEM block, and the kube-root-ca.crt ConfigMap, come
// out without their credentials and certificates. A viewer may not read
// Secrets at all: the cluster says so.
func TestSecretsNeverLeave(t *testing.T) {
	admin := startCluster(t)
	ctx := context.Background()
	const password, token = "hunter2-password-value", testJWT
	lastApplied, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db-creds", "namespace": "shop"},
		"stringData": map[string]string{"password": password}})
	if _, err := admin.CoreV1().Secrets("shop").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db-creds", Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": string(lastApplied)}},
		Data:       map[string][]byte{"password": []byte(password), "token": []byte(token), "ca.crt": []byte(testPEM)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	caData := base64.StdEncoding.EncodeToString([]byte(testPEM))
	kubeconfig := "apiVersion: v1\nkind: Config\nclusters:\n- name: ws\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: " + caData +
		"\nusers:\n- name: admin\n  user:\n    client-certificate-data: " + base64.StdEncoding.EncodeToString([]byte("client-cert-bytes-XYZ")) +
		"\n    client-key-data: " + base64.StdEncoding.EncodeToString([]byte("client-key-bytes-XYZ")) + "\n    token: s3cr3t-t0k3n-value\n"
	if _, err := admin.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "admin-kubeconfig"},
		Data:       map[string]string{"config": kubeconfig, "server.pem": testPEM + "\n" + testKey, "note": "plain value"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var rootCA *corev1.ConfigMap
	testutil.WaitFor(t, 30*time.Second, "kube-root-ca.crt in shop", func() bool {
		var err error
		rootCA, err = admin.CoreV1().ConfigMaps("shop").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err == nil
	})
	// A line of the body of the workspace's CA certificate.
	caLine := strings.Split(rootCA.Data["ca.crt"], "\n")[2]

	forbidden := []string{password, base64.StdEncoding.EncodeToString([]byte(password)), token, "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ", "MIIBszCCAVmgAwIBAgIUQ2hl",
		base64.StdEncoding.EncodeToString([]byte(testPEM))[:40], caData[:40], "MHcCAQEEIBkg4LVWM9nuwNSk3", "s3cr3t-t0k3n-value",
		base64.StdEncoding.EncodeToString([]byte("client-key-bytes-XYZ")), base64.StdEncoding.EncodeToString([]byte("client-cert-bytes-XYZ")), caLine, "BEGIN"}
	check := func(t *testing.T, what, text string, want ...string) {
		t.Helper()
		for _, f := range forbidden {
			if strings.Contains(text, f) {
				t.Errorf("%s lets %q out:\n%s", what, f, text)
			}
		}
		if err := contains(text, want...); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}

	r, err := NewRegistry(Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	dev := target(t, "admin", "shop", nil) // the admin role reads Secrets
	call := func(t *testing.T, tgt *Target, tool, args string) (Result, error) {
		t.Helper()
		return r.Call(ctx, tgt, tool, json.RawMessage(args))
	}
	for _, c := range []struct {
		name, tool, args string
		want             []string
	}{
		{"get a secret", "get_resource", `{"kind":"secret","name":"db-creds"}`, []string{"password: '<redacted: 22 bytes>'", "token: '<redacted: ", "ca.crt: '<redacted: ", "name: db-creds"}},
		{"describe a secret", "describe", `{"kind":"Secret","name":"db-creds"}`, []string{"password: '<redacted: 22 bytes>'", "Events: none"}},
		{"list secrets", "list_resources", `{"kind":"secrets"}`, []string{"db-creds", "Data=3"}},
		{"list secrets of the workspace", "list_resources", `{"kind":"secrets","project":""}`, []string{"db-creds"}},
		{"get a kubeconfig in a configmap", "get_resource", `{"kind":"cm","name":"admin-kubeconfig"}`,
			[]string{"note: plain value", "certificate-authority-data: <redacted", "client-key-data: <redacted>", "client-certificate-data: <redacted>", "token: <redacted>", "server: https://127.0.0.1:6443", "<redacted: PEM block>"}},
		{"describe a kubeconfig in a configmap", "describe", `{"kind":"configmap","name":"admin-kubeconfig"}`, []string{"token: <redacted>"}},
		{"the root CA", "get_resource", `{"kind":"configmaps","name":"kube-root-ca.crt"}`, []string{"ca.crt: |", "<redacted: PEM block>"}},
		{"list configmaps", "list_resources", `{"kind":"configmaps"}`, []string{"admin-kubeconfig", "kube-root-ca.crt"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := call(t, dev, c.tool, c.args)
			if err != nil {
				t.Fatal(err)
			}
			check(t, c.tool, res.Text, c.want...)
			b, _ := json.Marshal(res.Data)
			check(t, c.tool+"'s data", string(b))
		})
	}
	t.Run("a delete's plan", func(t *testing.T) {
		pr := propose(t, dev, "delete", `{"kind":"secret","name":"db-creds"}`)
		check(t, "the plan's before", pr.BeforeYAML, "password: '<redacted: 22 bytes>'")
		check(t, "the plan's diff", pr.Diff, "-  password: '<redacted: 22 bytes>'")
		check(t, "the proposal's before", string(pr.Before))
		check(t, "the proposal's body", string(pr.Body))
	})
	t.Run("the viewer", func(t *testing.T) {
		viewer := target(t, "viewer", "shop", nil)
		_, err := call(t, viewer, "get_resource", `{"kind":"secret","name":"db-creds"}`)
		var ce *ClusterError
		if !errors.As(err, &ce) || ce.Status != http.StatusForbidden {
			t.Fatalf("the viewer's get of a secret: %v, want a 403", err)
		}
		check(t, "the refusal", ErrorText(err), "forbidden")
	})
}

// TestKindsAndScope: kinds resolve as kubectl resolves them (plural,
// singular, short name, Kind, resource.group); a read without a project
// covers the projects the caller sees and nothing else.
func TestKindsAndScope(t *testing.T) {
	startCluster(t)
	deployment(t, "shop", "kinds-web", 1)
	deployment(t, "hidden", "hidden-web", 1)
	r, err := NewRegistry(Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	dev := target(t, "developer", "", nil)
	ctx := context.Background()
	for _, kind := range []string{"deploy", "deployment", "deployments", "Deployment", "deployments.apps", "deployments.v1.apps", "Deployment.apps"} {
		res, err := r.Call(ctx, dev, "list_resources", json.RawMessage(`{"kind":"`+kind+`"}`))
		if err != nil {
			t.Errorf("kind %s: %v", kind, err)
			continue
		}
		if !strings.Contains(res.Text, "kinds-web") || strings.Contains(res.Text, "hidden-web") {
			t.Errorf("kind %s, the whole workspace:\n%s", kind, res.Text)
		}
	}
	for _, kind := range []string{"po", "cj", "cronjobs.batch", "svc", "ev", "pvc"} {
		if _, err := r.Call(ctx, dev, "list_resources", json.RawMessage(`{"kind":"`+kind+`","project":"shop"}`)); err != nil {
			t.Errorf("kind %s: %v", kind, err)
		}
	}
	var ae *ArgError
	if _, err := r.Call(ctx, dev, "list_resources", json.RawMessage(`{"kind":"frobnicators"}`)); !errors.As(err, &ae) || ae.Field != "kind" {
		t.Errorf("an unknown kind: %v", err)
	}
	if _, err := r.Call(ctx, dev, "get_resource", json.RawMessage(`{"kind":"deploy","name":"kinds-web"}`)); !errors.As(err, &ae) || ae.Field != "project" {
		t.Errorf("get without a project in a workspace chat: %v, want an ArgError on project", err)
	}
	if _, err := r.Call(ctx, dev, "get_resource", json.RawMessage(`{"kind":"deploy","name":"hidden-web","project":"hidden"}`)); !errors.As(err, &ae) || ae.Field != "project" {
		t.Errorf("get in a hidden project: %v, want an ArgError on project", err)
	}
	res, err := r.Call(ctx, dev, "events", json.RawMessage(`{}`))
	if err != nil || strings.Contains(res.Text, "hidden-web") {
		t.Errorf("events of the workspace: %v\n%s", err, res.Text)
	}
}
