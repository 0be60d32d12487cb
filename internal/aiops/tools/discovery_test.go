package tools

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// isDiscovery tells a discovery request (/api, /apis, and the legacy
// /api/v1 and /apis/group/version) from a request for objects.
func isDiscovery(path string) bool {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch segs[0] {
	case "api":
		return len(segs) <= 2
	case "apis":
		return len(segs) <= 3
	}
	return false
}

func discoveryRequests(reqs []sent) (n int) {
	for _, r := range reqs {
		if isDiscovery(r.URL.Path) {
			n++
		}
	}
	return n
}

// TestDiscoveryCache: Targets of one workspace that share a DiscoveryCache
// ask for discovery once, with the first caller's own client; later
// Targets, whoever their caller, resolve kinds without a discovery request.
// A kind added since (a CRD) is found by asking again as the Target's own
// caller; so is everything once the entry is older than its TTL.
func TestDiscoveryCache(t *testing.T) {
	startCluster(t)
	ctx := context.Background()
	if _, err := env.kube.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "disco"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	reg, err := NewRegistry(Builtin()...)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := time.Now()
	cache := NewDiscoveryCache(time.Minute, func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	})
	// call runs a tool as user with the shared cache, and answers how many
	// discovery requests its own client sent, and how many in all.
	call := func(user, tool, args string) (int, int, error) {
		t.Helper()
		rec := &recorder{}
		tg := target(t, user, "shop", rec)
		tg.Discovery = cache
		_, err := reg.Call(ctx, tg, tool, json.RawMessage(args))
		return discoveryRequests(rec.requests()), len(rec.requests()), err
	}
	getCM := `{"kind":"configmap","name":"disco"}`
	// Whether the cluster lets a user read is its RBAC's business (a
	// refusal, 403, says the kind was resolved); no such kind is ours.
	noKind := func(err error) bool {
		var ae *ArgError
		return errors.As(err, &ae) && strings.Contains(ae.Message, "has no kind")
	}

	if d, _, err := call("developer", "get_resource", getCM); noKind(err) || d == 0 {
		t.Fatalf("the first Target: %d discovery requests, %v: want its own discovery", d, err)
	}
	for _, user := range []string{"admin", "developer"} {
		if d, n, err := call(user, "get_resource", getCM); noKind(err) || d != 0 || n != 1 {
			t.Errorf("a later Target of %s: %d discovery requests of %d, %v: want the cached discovery and one GET", user, d, n, err)
		}
	}

	// A kind added since: its Target asks again, as its own caller.
	dyn := dynamic.NewForConfigOrDie(env.admin)
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.disco.example.com"},
		"spec": map[string]any{"group": "disco.example.com", "scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}}}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(crds).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dyn.Resource(crds).Delete(context.Background(), "widgets.disco.example.com", metav1.DeleteOptions{})
	})
	testutil.WaitFor(t, time.Minute, "the CRD served", func() bool {
		_, err := env.kube.Discovery().ServerResourcesForGroupVersion("disco.example.com/v1")
		return err == nil
	})
	listWidgets := `{"kind":"widgets"}`
	if d, _, err := call("developer", "list_resources", listWidgets); noKind(err) || d == 0 {
		t.Fatalf("a new kind: %d discovery requests, %v: want the Target's own discovery to find it", d, err)
	}
	if d, _, err := call("admin", "list_resources", listWidgets); noKind(err) || d != 0 {
		t.Errorf("the new kind again: %d discovery requests, %v: want it from the cache", d, err)
	}
	// A kind that exists nowhere: asked again, then refused.
	if d, _, err := call("developer", "list_resources", `{"kind":"gadgets"}`); !noKind(err) || d == 0 {
		t.Errorf("an unknown kind: %d discovery requests, %v: want a fresh discovery, then no such kind", d, err)
	}

	mu.Lock()
	clock = clock.Add(2 * time.Minute)
	mu.Unlock()
	if d, _, err := call("admin", "get_resource", getCM); noKind(err) || d == 0 {
		t.Errorf("past the TTL: %d discovery requests, %v: want a fresh discovery", d, err)
	}
	if d, n, err := call("developer", "get_resource", getCM); err != nil || d != 0 || n != 1 {
		t.Errorf("after the refresh: %d discovery requests of %d, %v", d, n, err)
	}
}

// TestDiscoveryCacheDropsOldEntries: storing an entry drops the entries
// past their TTL, so the cache holds only the workspaces used lately.
func TestDiscoveryCacheDropsOldEntries(t *testing.T) {
	clock := time.Unix(1000, 0)
	c := NewDiscoveryCache(time.Minute, func() time.Time { return clock })
	c.put("a", nil, nil)
	clock = clock.Add(30 * time.Second)
	c.put("b", nil, nil)
	if _, ok := c.get("a"); !ok {
		t.Fatal("a fresh entry is not served")
	}
	clock = clock.Add(40 * time.Second)
	if _, ok := c.get("a"); ok {
		t.Error("an entry past its TTL is served")
	}
	c.put("c", nil, nil)
	if len(c.entries) != 2 {
		t.Errorf("entries %v: want b and c", c.entries)
	}
	if d := NewDiscoveryCache(0, nil); d.ttl != DefaultDiscoveryTTL || d.now == nil {
		t.Errorf("defaults: ttl %v", d.ttl)
	}
}
