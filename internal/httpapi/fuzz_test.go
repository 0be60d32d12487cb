package httpapi

import (
	"errors"
	"testing"
)

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"name":"a"}`, `{"name":1}`, `{"x":1}`, `{`, `[]`, `""`, `{"name":"a"} x`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			Name  string            `json:"name"`
			Count int               `json:"count"`
			Tags  map[string]string `json:"tags"`
			List  []int             `json:"list"`
			Ptr   *struct{ A bool } `json:"ptr"`
		}
		err := DecodeJSONBytes(body, &v)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Status/100 != 4 || e.Detail == "" {
			t.Fatalf("decode error is not a 4xx with detail: %#v", err)
		}
	})
}
