package testutil

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// childDirEnv makes the test binary, run again by TestNeedK8sBinaries,
// call NeedK8sBinaries on the directory it names.
const childDirEnv = "HKS_TESTUTIL_K8S_BIN_DIR"

// TestNeedK8sBinaries runs this test binary again as a child whose test
// calls NeedK8sBinaries, and reads the child's verdict: a skip with
// -short, a failure naming what is missing, or a pass.
func TestNeedK8sBinaries(t *testing.T) {
	if dir, ok := os.LookupEnv(childDirEnv); ok {
		NeedK8sBinaries(t, dir)
		fmt.Println("ran past NeedK8sBinaries")
		return
	}
	for _, tc := range []struct {
		name    string
		missing string // binary not created
		noExec  string // binary created without the execute bit
		short   bool
		// wantFail is whether the child fails; want are substrings of its
		// output.
		wantFail bool
		want     []string
	}{
		{name: "all present", want: []string{"--- PASS", "ran past NeedK8sBinaries"}},
		{name: "one missing", missing: "kube-scheduler", wantFail: true,
			want: []string{"--- FAIL", "kube-scheduler not found in ", "run `make k8s-bins`"}},
		{name: "one not executable", noExec: "kwok", wantFail: true,
			want: []string{"--- FAIL", "/kwok is not an executable file", "run `make k8s-bins`"}},
		{name: "short skips although one is missing", missing: "etcd", short: true,
			want: []string{"--- SKIP", "skipped with -short (make test-unit); make test-e2e runs it"}},
		{name: "short skips when all are present", short: true,
			want: []string{"--- SKIP", "make test-e2e runs it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, b := range K8sBinaries {
				mode := os.FileMode(0o755)
				if b == tc.noExec {
					mode = 0o644
				}
				if b != tc.missing {
					if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"), mode); err != nil {
						t.Fatal(err)
					}
				}
			}
			args := []string{"-test.run=^TestNeedK8sBinaries$", "-test.v", "-test.count=1"}
			if tc.short {
				args = append(args, "-test.short")
			}
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if failed := errors.As(err, &ee); failed != tc.wantFail || (err != nil && !failed) {
				t.Fatalf("child: %v, want failure %v\n%s", err, tc.wantFail, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("child output lacks %q:\n%s", w, out)
				}
			}
			if passed := strings.Contains(string(out), "ran past NeedK8sBinaries"); passed != slices.Contains(tc.want, "ran past NeedK8sBinaries") {
				t.Errorf("child ran past the gate: %v\n%s", passed, out)
			}
		})
	}
}

func TestProcsUnder(t *testing.T) {
	dir := t.TempDir()
	if pids := ProcsUnder(t, dir); len(pids) != 0 {
		t.Fatalf("processes under a new directory: %v", pids)
	}
	cmd := exec.Command("sleep", "60")
	cmd.Args[0] = filepath.Join(dir, "sleep") // argv[0] puts dir in the command line
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	reaped := false
	t.Cleanup(func() {
		if !reaped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	if pids := ProcsUnder(t, dir); !slices.Equal(pids, []int{pid}) {
		t.Errorf("ProcsUnder = %v, want [%d]", pids, pid)
	}
	// Killed but not reaped, the process is a zombie: not listed.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not a zombie 10s after SIGKILL: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pids := ProcsUnder(t, dir); len(pids) != 0 {
		t.Errorf("ProcsUnder lists a zombie: %v", pids)
	}
	_ = cmd.Wait()
	reaped = true
}

func TestCaseName(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", `""`},
		{"plain", "alice@example.com", `"alice@example.com"`},
		{"control bytes quoted", "a\x00b\n", `"a\x00b\n"`},
		{"long", strings.Repeat("a", 64) + "@example.com", `"` + strings.Repeat("a", 39) + "…(76 bytes)"},
		{"long, cut before a multibyte rune", strings.Repeat("a", 38) + "日本", `"` + strings.Repeat("a", 38) + "…(44 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CaseName(tc.in); got != tc.want {
				t.Errorf("CaseName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWaitFor(t *testing.T) {
	calls := 0
	WaitFor(t, 5*time.Second, "the third call", func() bool {
		calls++
		return calls == 3
	})
	if calls != 3 {
		t.Fatalf("cond called %d times, want 3", calls)
	}
}

func TestDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Path", r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("short and stout"))
	}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/pot", nil)
	if err != nil {
		t.Fatal(err)
	}
	status, header, body := Do(t, srv.Client(), req)
	if status != http.StatusTeapot || header.Get("X-Path") != "/pot" || string(body) != "short and stout" {
		t.Fatalf("Do = %d %v %q", status, header, body)
	}
}
