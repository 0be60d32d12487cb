package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// newTestRoot is the client commands under a root like the hks binary's.
func newTestRoot() *cobra.Command {
	root := &cobra.Command{Use: "hks", SilenceUsage: true, SilenceErrors: true}
	AddCommands(root)
	return root
}

// exampleArgs splits the hks command of an example line into arguments:
// words, with "double quotes" kept together, up to a pipe or a
// redirection.
func exampleArgs(line string) []string {
	_, cmd, ok := strings.Cut(line, "hks ")
	if !ok {
		return nil
	}
	var args []string
	var cur strings.Builder
	quoted, started := false, false
	for _, r := range cmd + " " {
		switch {
		case r == '"':
			quoted, started = !quoted, true
		case r == ' ' && !quoted:
			if started {
				if a := cur.String(); a == "|" || a == "&&" || a == "#" || strings.HasPrefix(a, ">") {
					return args
				}
				args = append(args, cur.String())
			}
			cur.Reset()
			started = false
		default:
			cur.WriteRune(r)
			started = true
		}
	}
	return args
}

// TestEveryCommandHasAnExample walks the client commands: each has an
// Example, and every example line is a command line hks accepts (the
// command exists, its flags parse, its arguments fit). Every entry of the
// examples table names a command.
func TestEveryCommandHasAnExample(t *testing.T) {
	root := newTestRoot()
	used := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c == root {
			return
		}
		path := strings.TrimPrefix(c.CommandPath(), "hks ")
		used[path] = true
		t.Run(path, func(t *testing.T) {
			if strings.TrimSpace(c.Example) == "" {
				t.Fatal("no Example")
			}
			for _, line := range strings.Split(c.Example, "\n") {
				args := exampleArgs(line)
				if len(args) == 0 {
					t.Fatalf("example line %q runs no hks command", line)
				}
				fresh := newTestRoot()
				cmd, rest, err := fresh.Find(args)
				if err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				if cmd.CommandPath() != c.CommandPath() && !strings.HasPrefix(cmd.CommandPath(), c.CommandPath()+" ") {
					t.Errorf("%q runs %s, not %s or below it", line, cmd.CommandPath(), c.CommandPath())
				}
				if err := cmd.ParseFlags(rest); err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
					t.Errorf("%q: %v", line, err)
				}
			}
		})
	}
	walk(root)
	for path, ex := range examples {
		if !used[path] {
			t.Errorf("examples names %q, which is no command", path)
			continue
		}
		if cmd, _, err := root.Find(strings.Fields(path)); err == nil && cmd.Example != ex {
			t.Errorf("%q has an Example of its own: drop its entry in examples", path)
		}
	}
}

func TestExampleArgs(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`  hks org create "Acme Corp" --slug acme`, `org|create|Acme Corp|--slug|acme`},
		{`  echo "$P" | hks login --password-stdin`, `login|--password-stdin`},
		{`  hks kubeconfig -o - > web.yaml`, `kubeconfig|-o|-`},
		{`  kubectl get pods`, ``},
	} {
		t.Run(tc.line, func(t *testing.T) {
			if got := strings.Join(exampleArgs(tc.line), "|"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
