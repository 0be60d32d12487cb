package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCaptureWriter(t *testing.T) {
	for _, tc := range []struct {
		name         string
		keep         int
		write        func(w http.ResponseWriter)
		status, code int
		bytes        int64
		head         string
	}{
		{"nothing written", 4, func(http.ResponseWriter) {}, 0, 200, 0, ""},
		{"status only", 4, func(w http.ResponseWriter) { w.WriteHeader(204) }, 204, 204, 0, ""},
		{"body without a status", 4, func(w http.ResponseWriter) { _, _ = w.Write([]byte("hello")) }, 200, 200, 5, "hell"},
		{"first status wins", 100, func(w http.ResponseWriter) {
			w.WriteHeader(404)
			_, _ = w.Write([]byte("ab"))
			w.WriteHeader(500)
			_, _ = w.Write([]byte("cd"))
		}, 404, 404, 4, "abcd"},
		{"keep nothing", 0, func(w http.ResponseWriter) { _, _ = w.Write([]byte("hello")) }, 200, 200, 5, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			w := &CaptureWriter{ResponseWriter: rec, Keep: tc.keep}
			tc.write(w)
			if w.Status() != tc.status || w.Code() != tc.code || w.Bytes() != tc.bytes || string(w.Head()) != tc.head {
				t.Fatalf("status %d code %d bytes %d head %q, want %d %d %d %q", w.Status(), w.Code(), w.Bytes(), w.Head(), tc.status, tc.code, tc.bytes, tc.head)
			}
			if int64(rec.Body.Len()) != tc.bytes {
				t.Fatalf("passed %d bytes through, want %d", rec.Body.Len(), tc.bytes)
			}
		})
	}
}
