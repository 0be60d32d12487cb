package sandbox

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

var groupSeq atomic.Int64

// newSandbox starts a Sandbox with a cgroup group of its own, closed (and
// checked for leftovers) by the test's cleanup.
func newSandbox(t testing.TB) *Sandbox {
	t.Helper()
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap (bwrap) is not installed; CI installs it")
	}
	group := fmt.Sprintf("hks-fn-test-%d-%d", os.Getpid(), groupSeq.Add(1))
	s, err := New(Config{Group: group, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		for _, d := range s.cg.parentDirs() {
			if _, err := os.Stat(d); !os.IsNotExist(err) {
				t.Errorf("cgroup %s left behind (%v)", d, err)
			}
		}
		if _, err := os.Stat(s.etc); !os.IsNotExist(err) {
			t.Errorf("generated /etc %s left behind", s.etc)
		}
	})
	return s
}

// run runs argv to its end and returns its exit and output.
func run(t *testing.T, s *Sandbox, spec Spec) (Exit, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	spec.Stdout, spec.Stderr = &out, &errb
	if spec.Env == nil {
		spec.Env = []string{"PATH=/usr/bin:/bin"}
	}
	p, err := s.Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	e := p.Wait()
	return e, out.String(), errb.String()
}

func TestRunEcho(t *testing.T) {
	s := newSandbox(t)
	e, out, errs := run(t, s, Spec{Argv: []string{"/bin/sh", "-c", "echo hi; id; ls -a /; ls -l /proc/self/fd; cat /proc/self/cgroup; hostname"}})
	t.Logf("exit %+v\nout:\n%s\nerr:\n%s", e, out, errs)
	if e.Reason != "" || !strings.Contains(out, "hi") {
		t.Fatalf("exit %+v", e)
	}
}
