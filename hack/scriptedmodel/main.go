// Command scriptedmodel runs the scripted OpenAI-compatible model server of
// internal/testutil/scriptedmodel as a separate process: a test double (no
// model weights run on these machines) for the end-to-end tests that drive
// the built binary and for the browser test.
//
//	go run ./hack/scriptedmodel -script turns.json [-addr 127.0.0.1:0]
//
// It prints one line, `listening http://127.0.0.1:PORT/v1`, on stdout once
// it accepts connections, and runs until SIGINT or SIGTERM. The script is a
// JSON array of turns (see scriptedmodel.ParseScript), e.g.
//
//	[{"when": {"last_user_contains": "scale"},
//	  "tool_calls": [{"name": "scale", "arguments": {"name": "web", "replicas": 5}}]},
//	 {"when": {"last_tool_contains": "plan"}, "content": "Confirm the plan to scale web to 5."}]
//
// A test can replace the script (PUT /_scripted/turns), extend it (POST) and
// read what the server received and when it sent each content chunk
// (GET /_scripted).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hexabase/hexabase-ai/internal/testutil/scriptedmodel"
)

func main() {
	script := flag.String("script", "", "JSON file of turns (default: none; PUT /_scripted/turns sets them)")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *script, *addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "scriptedmodel:", err)
		os.Exit(1)
	}
}

// run serves the script at addr until ctx ends, announcing the base URL on
// out.
func run(ctx context.Context, script, addr string, out io.Writer) error {
	var turns []scriptedmodel.Turn
	if script != "" {
		f, err := os.Open(script)
		if err != nil {
			return err
		}
		turns, err = scriptedmodel.ParseScript(f)
		_ = f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", script, err)
		}
	}
	s, err := scriptedmodel.Listen(addr, turns...)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := fmt.Fprintf(out, "listening %s\n", s.URL()); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
