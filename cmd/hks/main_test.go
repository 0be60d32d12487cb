package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasAnExample walks the whole command tree of hks (the
// help and completion commands cobra adds are its own).
func TestEveryCommandHasAnExample(t *testing.T) {
	root := newRoot()
	n := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			n++
			if strings.TrimSpace(sub.Example) == "" {
				t.Errorf("%s has no Example", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
	if n < 50 {
		t.Fatalf("walked only %d commands", n)
	}
}

// TestCompletion: `hks completion bash|zsh|fish` prints a script for the
// shell that completes hks's commands.
func TestCompletion(t *testing.T) {
	for _, tc := range []struct{ shell, marker string }{
		{"bash", "complete -o default -F __start_hks hks"},
		{"zsh", "#compdef hks"},
		{"fish", "complete -c hks "},
	} {
		t.Run(tc.shell, func(t *testing.T) {
			root := newRoot()
			var out, errOut bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&errOut)
			root.SetArgs([]string{"completion", tc.shell})
			if err := root.Execute(); err != nil {
				t.Fatalf("completion %s: %v (%s)", tc.shell, err, errOut.String())
			}
			if !strings.Contains(out.String(), tc.marker) {
				t.Errorf("completion %s printed no %q:\n%.400s", tc.shell, tc.marker, out.String())
			}
		})
	}
	// The scripts ask hks for candidates: the hidden __complete command
	// lists subcommands.
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"__complete", "work"})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "workspace") {
		t.Errorf("__complete work: %v\n%s", err, out.String())
	}
}
