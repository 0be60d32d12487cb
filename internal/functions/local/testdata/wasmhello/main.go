// A wasm function for the engine's tests: it answers the request's method,
// path and body and the variable GREETING.
package main

import (
	"encoding/json"
	"io"
	"os"
)

func main() {
	var req struct {
		Method, Path, Body string
	}
	b, _ := io.ReadAll(os.Stdin)
	_ = json.Unmarshal(b, &req)
	json.NewEncoder(os.Stdout).Encode(map[string]any{"status": 200, "body": req.Method + " " + req.Path + " " + req.Body + " " + os.Getenv("GREETING")})
}
