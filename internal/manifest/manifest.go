// Package manifest reads the Kubernetes manifests users hand to the
// platform (YAML or JSON, several documents or a v1 List) into objects,
// with errors that name the document. It is shared by the server, which
// applies them, and the CLI, which reads the name of the application from
// one before sending it.
package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/hexabase/hexabase-ai/internal/httpapi"
)

// MaxObjects bounds the objects of one manifest.
const MaxObjects = 50

// Decode splits a YAML or JSON manifest (several documents, or a
// v1 List) into objects. Errors name the document.
func Decode(text string) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader([]byte(text))))
	var out []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		b, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, Invalid(fmt.Sprintf("document %d: not YAML or JSON: %v", doc, err))
		}
		if len(bytes.TrimSpace(b)) == 0 || isOnlyComments(b) {
			continue
		}
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			return nil, Invalid(fmt.Sprintf("document %d: not YAML or JSON: %v", doc, err))
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue
		}
		var u unstructured.Unstructured
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, Invalid(fmt.Sprintf("document %d: not a Kubernetes object (apiVersion, kind and metadata are required): %v", doc, err))
		}
		if u.IsList() {
			l, err := u.ToList()
			if err != nil {
				return nil, Invalid(fmt.Sprintf("document %d: %v", doc, err))
			}
			for i := range l.Items {
				out = append(out, &l.Items[i])
			}
		} else {
			out = append(out, &u)
		}
		if len(out) > MaxObjects {
			return nil, Invalid(fmt.Sprintf("at most %d objects in one manifest", MaxObjects))
		}
	}
	if len(out) == 0 {
		return nil, Invalid("the manifest holds no object")
	}
	for i, u := range out {
		if u.GetName() == "" {
			return nil, Invalid(fmt.Sprintf("object %d (%s): metadata.name is required", i+1, u.GetKind()))
		}
	}
	return out, nil
}

func isOnlyComments(b []byte) bool {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}

// Invalid is the 422 of a manifest that cannot be used, on the field
// manifest.
func Invalid(msg string) *httpapi.Error {
	return httpapi.Invalid(httpapi.Field("manifest", msg))
}
