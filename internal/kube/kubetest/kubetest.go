// Package kubetest is client-go's fake clientset with the optimistic
// concurrency of a real API server, for unit tests of the logic of
// workloads and cronjobs: every write gives the object a new
// resourceVersion, an update that carries another version than the stored
// one is refused with a Conflict, and the generation moves when the spec
// changes, as the API server does.
package kubetest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hexabase/hexabase-ai/internal/httpapi"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// NewClientset returns a fake clientset holding objs (each given a
// resourceVersion) that versions writes and refuses stale updates.
func NewClientset(objs ...runtime.Object) *fake.Clientset {
	var mu sync.Mutex
	next := 0
	bump := func(o runtime.Object) {
		if m, err := meta.Accessor(o); err == nil {
			next++
			m.SetResourceVersion(strconv.Itoa(next))
		}
	}
	for _, o := range objs {
		bump(o)
		if m, err := meta.Accessor(o); err == nil {
			m.SetGeneration(1)
		}
	}
	cs := fake.NewClientset(objs...)
	cs.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		obj := a.(k8stesting.CreateAction).GetObject()
		bump(obj)
		if m, err := meta.Accessor(obj); err == nil {
			m.SetGeneration(1)
		}
		return false, nil, nil
	})
	cs.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		obj := a.(k8stesting.UpdateAction).GetObject()
		m, err := meta.Accessor(obj)
		if err != nil {
			return false, nil, nil
		}
		stored, err := cs.Tracker().Get(a.GetResource(), a.GetNamespace(), m.GetName())
		if err != nil {
			return true, nil, err
		}
		sm, _ := meta.Accessor(stored)
		if m.GetResourceVersion() != "" && m.GetResourceVersion() != sm.GetResourceVersion() {
			return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), m.GetName(),
				errStale{want: m.GetResourceVersion(), have: sm.GetResourceVersion()})
		}
		bump(obj)
		m.SetGeneration(sm.GetGeneration())
		if a.GetSubresource() == "" && !sameSpec(obj, stored) {
			m.SetGeneration(sm.GetGeneration() + 1)
		}
		return false, nil, nil
	})
	return cs
}

// sameSpec reports whether two objects have the same spec.
func sameSpec(a, b runtime.Object) bool {
	ua, err := runtime.DefaultUnstructuredConverter.ToUnstructured(a)
	if err != nil {
		return false
	}
	ub, err := runtime.DefaultUnstructuredConverter.ToUnstructured(b)
	if err != nil {
		return false
	}
	return equality.Semantic.DeepEqual(ua["spec"], ub["spec"])
}

type errStale struct{ want, have string }

func (e errStale) Error() string {
	return "the object has been modified: resourceVersion " + e.want + " is not " + e.have
}

// JSONFields are the JSON member names of struct type t, with those of
// embedded structs and, as "name.member", of struct members (through
// pointers), sorted: a patch document and the spec it patches must name
// the same members.
func JSONFields(t reflect.Type) []string {
	var out []string
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case f.Anonymous && name == "":
			out = append(out, JSONFields(ft)...)
		case name == "" || name == "-":
		case ft.Kind() == reflect.Struct && ft.PkgPath() == t.PkgPath():
			for _, sub := range JSONFields(ft) {
				out = append(out, name+"."+sub)
			}
		default:
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// PatchRequest is a PATCH request with the merge patch body and, unless
// "", an If-Match header, and the patch read from it.
func PatchRequest(t testing.TB, body, ifMatch string) (*http.Request, httpapi.MergePatch) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPatch, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/merge-patch+json")
	if ifMatch != "" {
		r.Header.Set("If-Match", ifMatch)
	}
	p, err := httpapi.DecodeMergePatch(r)
	if err != nil {
		t.Fatal(err)
	}
	return r, p
}

// Status is the HTTP status of an API error, 0 for nil or an internal
// error.
func Status(err error) int {
	var he *httpapi.Error
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}
