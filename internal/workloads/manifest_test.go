package workloads

import (
	"errors"
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/hexabase/hexabase-ai/internal/api"
	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// TestManifestRefusalDoesNotRepeatTheDetail: the cluster's refusal of a
// manifest's object is one problem whose errors[] name the manifest once
// and then the causes that name a field of the object; a cause without a
// field (an admission policy's denial) is in the detail already and does
// not come again as an entry with an empty field.
func TestManifestRefusalDoesNotRepeatTheDetail(t *testing.T) {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("apps/v1")
	obj.SetKind("Deployment")
	obj.SetName("web")
	m := manifestObject{doc: 1, obj: obj}
	const denial = `deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'hks-node-name' denied request: spec.template.spec.nodeName is not allowed`
	status := func(causes ...metav1.StatusCause) error {
		return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 422, Reason: metav1.StatusReasonInvalid,
			Message: denial, Details: &metav1.StatusDetails{Causes: causes}}}
	}
	detail := "document 1 (Deployment web): " + denial
	for _, tc := range []struct {
		name string
		err  error
		want []api.FieldError
	}{
		{"a cause without a field", status(metav1.StatusCause{Message: denial}),
			[]api.FieldError{{Field: "manifest", Message: detail}}},
		{"a cause naming a field", status(metav1.StatusCause{Field: "spec.template.spec.nodeName", Message: "is not allowed"}),
			[]api.FieldError{{Field: "manifest", Message: detail}, {Field: "spec.template.spec.nodeName", Message: "is not allowed"}}},
		{"a cause without a field that the detail lacks", status(metav1.StatusCause{Message: "something else"}),
			[]api.FieldError{{Field: "manifest", Message: detail}, {Field: "manifest", Message: "something else"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var he *httpapi.Error
			if !errors.As(inObject(m, tc.err), &he) || he.Status != http.StatusUnprocessableEntity || he.Detail != detail {
				t.Fatalf("inObject: %+v", he)
			}
			if len(he.Fields) != len(tc.want) {
				t.Fatalf("errors %+v, want %+v", he.Fields, tc.want)
			}
			for i := range tc.want {
				if he.Fields[i] != tc.want[i] {
					t.Errorf("errors[%d] = %+v, want %+v", i, he.Fields[i], tc.want[i])
				}
			}
		})
	}
}
