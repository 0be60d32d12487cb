package wasm

import (
	"bytes"
	"encoding/json"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
)

// request is the JSON a module reads on stdin.
type request struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   map[string][]string `json:"query"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

func requestJSON(req engine.Request) ([]byte, error) {
	r := request{Method: req.Method, Path: req.Path, Query: req.Query, Headers: req.Headers, Body: string(req.Body)}
	if r.Query == nil {
		r.Query = map[string][]string{}
	}
	if r.Headers == nil {
		r.Headers = map[string][]string{}
	}
	return json.Marshal(r)
}

// parseResponse reads a module's stdout: a JSON object whose members are
// among status (an HTTP status), headers (values a string or a list of
// strings) and body (a string) is the response; anything else is the
// body of a 200.
func parseResponse(out []byte) engine.Response {
	if r, ok := responseObject(out); ok {
		return r
	}
	return engine.Response{Status: 200, Body: bytes.Clone(out)}
}

func responseObject(out []byte) (engine.Response, bool) {
	trimmed := bytes.TrimSpace(out)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return engine.Response{}, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(trimmed, &m) != nil || len(m) == 0 {
		return engine.Response{}, false
	}
	resp := engine.Response{Status: 200}
	for k, raw := range m {
		switch k {
		case "status":
			var s int
			if json.Unmarshal(raw, &s) != nil || s < 100 || s > 599 {
				return engine.Response{}, false
			}
			resp.Status = s
		case "headers":
			var hs map[string]json.RawMessage
			if json.Unmarshal(raw, &hs) != nil {
				return engine.Response{}, false
			}
			if len(hs) > 0 {
				resp.Headers = make(map[string][]string, len(hs))
			}
			for name, hv := range hs {
				var one string
				var many []string
				switch {
				case json.Unmarshal(hv, &one) == nil:
					resp.Headers[name] = []string{one}
				case json.Unmarshal(hv, &many) == nil:
					resp.Headers[name] = many
				default:
					return engine.Response{}, false
				}
			}
		case "body":
			var b string
			if json.Unmarshal(raw, &b) != nil {
				return engine.Response{}, false
			}
			resp.Body = []byte(b)
		default:
			return engine.Response{}, false
		}
	}
	return resp, true
}
