package aiops

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// sseSink writes a turn as Server-Sent Events, each flushed at once (a
// delta reaches the client as soon as the model sent it).
type sseSink struct {
	mu sync.Mutex
	w  http.ResponseWriter
	f  http.Flusher
}

func startSSE(w http.ResponseWriter) (*sseSink, error) {
	f, ok := w.(http.Flusher)
	if !ok {
		if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
			f, ok = u.Unwrap().(http.Flusher)
		}
		if !ok {
			return nil, errors.New("event stream: the response writer cannot flush")
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &sseSink{w: w, f: f}, nil
}

func (s *sseSink) delta(text string) {
	if text == "" {
		return
	}
	s.event("delta", deltaOut{Text: text})
}

type deltaOut struct {
	Text string `json:"text"`
}

func (s *sseSink) event(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A client gone away is seen by the turn's context; a write error
	// here has nothing more to do.
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, b); err == nil {
		s.f.Flush()
	}
}
