package local

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
)

// The loader protocol: frames of a 4-byte big-endian length and a JSON
// message, the engine's on the loader's fd 3, the loader's on its fd 4.
//
//	loader → engine  {"type":"started"}  (once warm)
//	engine → loader  {"type":"specialize","entry","env","concurrency"}
//	loader → engine  {"type":"ready"} or {"type":"ready","error"}
//	engine → loader  {"type":"invoke","id","request"}
//	loader → engine  {"type":"result","id","response"|"error","logs"}  (response.body base64)

// maxFrame bounds a loader's reply to what the largest response needs: a
// 6 MiB body, base64-encoded (8 MiB); 64 KiB of logs as a JSON string,
// each byte at worst escaped as \u00XX (384 KiB); and 1 MiB for the
// status, headers, error text and the JSON around them: 9.375 MiB
// (9,830,400 bytes). A larger frame ends the instance (crash).
const maxFrame = 4*(6<<20)/3 + 6*logCap + (1 << 20)

// logCap is the most of an invocation's output kept as its logs.
const logCap = 64 << 10

type message struct {
	Type        string            `json:"type"`
	ID          uint64            `json:"id,omitempty"`
	Entry       string            `json:"entry,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Concurrency int               `json:"concurrency,omitempty"`
	Request     *wireRequest      `json:"request,omitempty"`
	Response    *wireResponse     `json:"response,omitempty"`
	Error       string            `json:"error,omitempty"`
	Logs        string            `json:"logs,omitempty"`
}

// wireRequest is the request as every runtime's handler sees it.
type wireRequest struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   map[string][]string `json:"query"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

// wireResponse is a handler's response as the loaders send it: the body
// base64-encoded (so that a frame's size is bounded whatever the body's
// bytes, see maxFrame).
type wireResponse struct {
	Status  int                 `json:"status"`
	Headers map[string][]string `json:"headers"`
	Body    []byte              `json:"body"`
}

func toWire(r engine.Request) *wireRequest {
	w := &wireRequest{Method: r.Method, Path: r.Path, Query: r.Query, Headers: r.Headers, Body: string(r.Body)}
	if w.Method == "" {
		w.Method = "GET"
	}
	if w.Path == "" {
		w.Path = "/"
	}
	if w.Query == nil {
		w.Query = map[string][]string{}
	}
	if w.Headers == nil {
		w.Headers = map[string][]string{}
	}
	return w
}

func fromWire(w *wireResponse) engine.Response {
	r := engine.Response{Status: w.Status, Headers: w.Headers, Body: w.Body}
	if r.Status == 0 {
		r.Status = 200
	}
	return r
}

// frameWriter writes frames to a loader; safe for concurrent use.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (f *frameWriter) send(m *message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.w.Write(buf); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

var errFrameTooLarge = fmt.Errorf("reply larger than %d bytes", maxFrame)

// readFrame reads one frame from a loader.
func readFrame(r *bufio.Reader) (*message, error) {
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(head[:])
	if n > maxFrame {
		return nil, errFrameTooLarge
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	var m message
	if err := json.Unmarshal(buf, &m); err != nil {
		return nil, fmt.Errorf("decode frame: %w", err)
	}
	return &m, nil
}
