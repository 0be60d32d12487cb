package local

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/functions/engine"
	"github.com/hexabase/hexabase-ai/internal/testutil"
)

// procsIn lists the processes (not this one) whose command line names dir
// or whose working directory is in it.
func procsIn(tb testing.TB, dir string) []int {
	pids := testutil.ProcsUnder(tb, dir)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && within(cwd, dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

const killChildEnv = "HKS_LOCAL_TEST_KILL_CHILD"

// TestKilledServerLeavesNoProcess: a server SIGKILLed during its first go
// build (a cold build cache) leaves no process behind writing into its
// data dir: the engine's processes die with it (the sandbox's Pdeathsig
// and --die-with-parent; the detection commands' Pdeathsig). The server is
// this test binary run again as a child.
func TestKilledServerLeavesNoProcess(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(t, dir)
		return
	}
	if testing.Short() {
		// Known to fail about one run in four: now and then the build
		// sandbox's outer bwrap outlives the SIGKILLed parent (ppid 1)
		// although it is started with Pdeathsig; the cause is not found
		// yet (issue 15's closing note). Run without -short to see it.
		t.Skip("flaky: see the comment (go test without -short runs it)")
	}
	newSandbox(t) // skips without bwrap
	dir := newDataDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledServerLeavesNoProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child := cmd.Process.Pid
	defer cleanCgroups(t, child)
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "BUILDING" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the child ended before its go build started")
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the child's go build did not start")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	testutil.WaitFor(t, 30*time.Second, "no process of the killed server", func() bool { return len(procsIn(t, dir)) == 0 })
}

// killChild is the server of TestKilledServerLeavesNoProcess: it starts
// an engine on dir with a cold build cache, starts a go build, says
// BUILDING once the build sandbox runs, and waits to be killed.
func killChild(t *testing.T, dir string) {
	cache := filepath.Join(dir, "cold-gocache")
	e := newEngine(t, dir, func(cfg *Config) { cfg.GoCache = cache })
	if !e.procs[engine.RuntimeGo].info.Available {
		t.Skip("go unavailable: " + e.procs[engine.RuntimeGo].info.Reason)
	}
	go e.Build(context.Background(), version(t, engine.RuntimeGo, helloCode[engine.RuntimeGo], engine.Limits{}))
	testutil.WaitFor(t, time.Minute, "the go build", func() bool { return len(procsIn(t, cache)) > 0 })
	os.Stdout.WriteString("BUILDING\n")
	time.Sleep(5 * time.Minute) // killed by the parent long before
}

// cleanCgroups removes the cgroups the killed child's sandboxes left
// (newSandbox names them after its pid).
func cleanCgroups(t *testing.T, pid int) {
	pat := "hks-fn-local-test-" + strconv.Itoa(pid) + "-*"
	tops, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", pat))
	more, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", pat))
	var dirs []string
	for _, top := range append(tops, more...) {
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	for _, d := range dirs {
		if err := syscall.Rmdir(d); err != nil {
			t.Logf("remove cgroup %s: %v", d, err)
		}
	}
}
