// Command hello is a test function: it answers with the request's method,
// path and body and the GREETING variable.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

type request struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Body   string `json:"body"`
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		fmt.Fprintln(os.Stderr, "bad request:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "handling", req.Method, req.Path)
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"status":  201,
		"headers": map[string]any{"X-Fn": "hello", "X-Args": os.Args},
		"body":    fmt.Sprintf("%s %s %s %s", req.Method, req.Path, req.Body, os.Getenv("GREETING")),
	})
}
