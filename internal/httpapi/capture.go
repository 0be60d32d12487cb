package httpapi

import (
	"bytes"
	"net/http"
)

// CaptureWriter passes an answer through to the ResponseWriter it wraps
// and remembers its status, its size and the first Keep bytes of its body,
// for middleware that logs, measures or records answers.
type CaptureWriter struct {
	http.ResponseWriter
	// Keep is how many bytes of the body Head keeps (0: none).
	Keep   int
	status int
	n      int64
	head   bytes.Buffer
}

func (w *CaptureWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *CaptureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if room := w.Keep - w.head.Len(); room > 0 {
		w.head.Write(b[:min(room, len(b))])
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Status is the status written, 0 if nothing was written yet.
func (w *CaptureWriter) Status() int { return w.status }

// Code is the status of the answer: 200 when the handler wrote nothing
// (which net/http answers with 200).
func (w *CaptureWriter) Code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Bytes is the size of the body written.
func (w *CaptureWriter) Bytes() int64 { return w.n }

// Head is the start of the body, at most Keep bytes.
func (w *CaptureWriter) Head() []byte { return w.head.Bytes() }

func (w *CaptureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *CaptureWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
