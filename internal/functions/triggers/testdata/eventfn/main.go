// Command eventfn is a test function (a WASI module): it answers with the
// event's topic and body, and fails (exit 1) when the body says "fail".
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

type request struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Headers map[string][]string `json:"headers"`
	Body    string              `json:"body"`
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "bad request:", err)
		os.Exit(1)
	}
	if strings.Contains(req.Body, "fail") {
		fmt.Fprintln(os.Stderr, "asked to fail")
		os.Exit(1)
	}
	topic := ""
	for k, v := range req.Headers {
		if strings.EqualFold(k, "X-Hks-Topic") && len(v) > 0 {
			topic = v[0]
		}
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"status": 200, "body": fmt.Sprintf("%s %s %s %s", req.Method, req.Path, topic, req.Body)})
}
