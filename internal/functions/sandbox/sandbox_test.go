package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hexabase/hexabase-ai/internal/testutil"
)

var groupSeq atomic.Int64

// newSandbox starts a Sandbox with a parent cgroup of its own; the test's
// cleanup closes it and checks that no cgroup, process or generated /etc is
// left behind.
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

const python = "/usr/bin/python3"

func needPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s is not installed", python)
	}
}

// start starts spec with its output in the returned buffers; the test's
// cleanup kills it.
func start(t *testing.T, s *Sandbox, spec Spec) (*Process, *syncBuffer, *syncBuffer) {
	t.Helper()
	out, errb := &syncBuffer{}, &syncBuffer{}
	spec.Stdout, spec.Stderr = out, errb
	if spec.Env == nil {
		spec.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	}
	p, err := s.Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill(); p.Wait() })
	return p, out, errb
}

// run runs spec to its end.
func run(t *testing.T, s *Sandbox, spec Spec) (Exit, string, string) {
	t.Helper()
	p, out, errb := start(t, s, spec)
	e := p.Wait()
	return e, out.String(), errb.String()
}

func sh(script string) Spec { return Spec{Argv: []string{"/bin/sh", "-c", script}} }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestExitReasons: the exit code, a signal and the environment as the
// program sees them.
func TestExitReasons(t *testing.T) {
	s := newSandbox(t)
	for _, tc := range []struct {
		name   string
		spec   Spec
		want   Exit
		output string
	}{
		{"exit 0", sh("echo hi"), Exit{}, "hi\n"},
		{"exit 3", sh("exit 3"), Exit{Reason: "crash", Code: 3}, ""},
		{"signal", sh("kill -SEGV $$"), Exit{Reason: "crash", Code: 128 + 11, Signal: "SIGSEGV"}, ""},
		{"environment is only Spec.Env", Spec{Argv: []string{"/usr/bin/env"}, Env: []string{"A=1", "B=x=y"}}, Exit{}, "A=1\nB=x=y\n"},
		{"identity and host name", sh("id; hostname; cd; pwd"), Exit{}, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\nsandbox\n"},
		{"working directory", Spec{Argv: []string{"/bin/pwd"}, Dir: "/usr/lib"}, Exit{}, "/usr/lib\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, out, errs := run(t, s, tc.spec)
			if e != tc.want {
				t.Fatalf("exit = %+v, want %+v (stderr %q)", e, tc.want, errs)
			}
			if !strings.HasPrefix(out, tc.output) {
				t.Fatalf("output %q, want %q", out, tc.output)
			}
		})
	}
}

// TestNoNetwork: a connection to a listener on the host's 127.0.0.1 fails:
// the sandbox's network namespace is empty but for its own loopback.
func TestNoNetwork(t *testing.T) {
	needPython(t)
	s := newSandbox(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	script := fmt.Sprintf(`
import socket, sys
try:
    socket.create_connection(("127.0.0.1", %d), timeout=5)
except OSError as e:
    print("connect failed:", e.errno); sys.exit(1)
print("connected")
`, port)
	e, out, errs := run(t, s, Spec{Argv: []string{python, "-c", script}})
	if e.Reason != "crash" || e.Code != 1 || !strings.Contains(out, fmt.Sprintf("connect failed: %d", syscall.ECONNREFUSED)) {
		t.Fatalf("exit %+v, out %q, err %q; want a refused connection", e, out, errs)
	}
	_ = ln.(*net.TCPListener).SetDeadline(time.Now())
	if c, err := ln.Accept(); err == nil {
		c.Close()
		t.Fatal("the listener on the host accepted a connection from the sandbox")
	}
	// And no interface but lo.
	e, out, _ = run(t, s, sh("cat /proc/net/dev"))
	if e.Reason != "" || strings.Count(out, ":") != 1 || !strings.Contains(out, "lo:") {
		t.Fatalf("interfaces: %+v %q", e, out)
	}
}

// TestRootHoldsOnlyTheSystemMounts: `ls /` and `ls /etc` show only the
// expected entries; the host's other directories are not visible.
func TestRootHoldsOnlyTheSystemMounts(t *testing.T) {
	s := newSandbox(t)
	want := []string{"dev", "etc", "proc", "tmp", "usr"}
	for _, top := range []string{"bin", "sbin", "lib", "lib64", "lib32", "libx32"} {
		if _, err := os.Lstat("/" + top); err == nil {
			want = append(want, top)
		}
	}
	slices.Sort(want)
	e, out, errs := run(t, s, sh("ls -A /"))
	if e.Reason != "" || strings.Join(strings.Fields(out), " ") != strings.Join(want, " ") {
		t.Fatalf("ls / = %q (%+v, %q), want %q", out, e, errs, want)
	}
	e, out, _ = run(t, s, sh("ls -A /etc"))
	for _, f := range strings.Fields(out) {
		if _, ok := generatedEtc[f]; !ok && !slices.Contains([]string{"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "ssl"}, f) {
			t.Errorf("/etc holds %s", f)
		}
	}
	if e.Reason != "" || !strings.Contains(out, "passwd") {
		t.Fatalf("ls /etc: %+v %q", e, out)
	}
	e, out, _ = run(t, s, sh("cat /etc/passwd /etc/group; ls -A /etc/ssl"))
	if e.Reason != "" || out != generatedEtc["passwd"]+generatedEtc["group"]+"certs\n" {
		t.Fatalf("passwd, group: %+v %q", e, out)
	}
	for _, dir := range []string{"/root", "/home", "/var", "/work", "/srv", "/opt", "/run", "/sys", "/mnt"} {
		if e, _, _ := run(t, s, sh("test -e "+dir)); e.Reason != "crash" {
			t.Errorf("%s is visible inside (%+v)", dir, e)
		}
	}
}

// TestHostFilesInvisible: a file in a host "data dir" cannot be read, nor
// /etc/shadow; the same file bound read-only can be read but not written.
func TestHostFilesInvisible(t *testing.T) {
	s := newSandbox(t)
	data := t.TempDir()
	for _, d := range []string{data, filepath.Dir(data)} { // bwrap may run as nobody
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(data, "secret.txt")
	if err := os.WriteFile(secret, []byte("tenant data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{secret, "/etc/shadow", "/etc/hostname", "/proc/1/root/etc/shadow"} {
		e, out, errs := run(t, s, sh("cat "+path))
		if e.Reason != "crash" || out != "" || !strings.Contains(errs, "No such file") {
			t.Errorf("cat %s: %+v, out %q, err %q; want no such file", path, e, out, errs)
		}
	}
	spec := sh("cat /code/secret.txt; echo x > /code/secret.txt")
	spec.ReadOnly = []Bind{{Src: data, Dst: "/code"}}
	e, out, errs := run(t, s, spec)
	if e.Reason != "crash" || out != "tenant data\n" || !strings.Contains(errs, "Read-only file system") {
		t.Fatalf("bound: %+v, out %q, err %q", e, out, errs)
	}
}

// TestWritesOnlyInTmp: the root, /usr and /etc are read-only, /tmp is
// writable and holds at most Limits.TmpBytes.
func TestWritesOnlyInTmp(t *testing.T) {
	s := newSandbox(t)
	for _, path := range []string{"/x", "/usr/x", "/etc/passwd", "/etc/x"} {
		e, _, errs := run(t, s, sh("echo x > "+path))
		if e.Reason != "crash" || !(strings.Contains(errs, "Read-only file system") || strings.Contains(errs, "Permission denied")) {
			t.Errorf("write %s: %+v %q; want EROFS or EACCES", path, e, errs)
		}
	}
	e, out, errs := run(t, s, sh("echo hello > /tmp/x && cat /tmp/x"))
	if e.Reason != "" || out != "hello\n" {
		t.Fatalf("/tmp: %+v %q %q", e, out, errs)
	}
	spec := sh("head -c 2097152 /dev/zero > /tmp/big")
	spec.Limits.TmpBytes = 1 << 20
	e, _, errs = run(t, s, spec)
	if e.Reason != "crash" || !strings.Contains(errs, "No space left") {
		t.Fatalf("2 MiB into a 1 MiB /tmp: %+v %q", e, errs)
	}
}

// TestForkBombEndsPids: a fork bomb meets the pids limit, dies of it and
// ends with reason "pids"; the host can still fork.
func TestForkBombEndsPids(t *testing.T) {
	s := newSandbox(t)
	spec := sh("while :; do sleep 1000 & done")
	spec.Limits.Pids = 16
	p, _, errb := start(t, s, spec)
	e := p.Wait()
	if e.Reason != "pids" || p.Events().PidsLimitHits == 0 {
		t.Fatalf("exit %+v, events %+v, stderr %q", e, p.Events(), errb.String())
	}
	if err := exec.Command("/bin/true").Run(); err != nil {
		t.Fatalf("the host cannot fork: %v", err)
	}
}

// TestMemoryHogEndsOOM: a program allocating past its memory limit is
// OOM-killed and ends with reason "oom".
func TestMemoryHogEndsOOM(t *testing.T) {
	needPython(t)
	s := newSandbox(t)
	spec := Spec{Argv: []string{python, "-c", "a = []\nwhile True: a.append(bytearray(8 << 20))"}}
	spec.Limits.MemoryBytes = 64 << 20
	p, _, errb := start(t, s, spec)
	e := p.Wait()
	if e.Reason != "oom" || e.Signal != "SIGKILL" || p.Events().OOMKills == 0 {
		t.Fatalf("exit %+v, events %+v, stderr %q", e, p.Events(), errb.String())
	}
}

// TestSeccompFilter: the filter answers EPERM to unshare, mount, ptrace,
// personality changes, AF_PACKET sockets and io_uring, ENOSYS to clone3,
// while fork, threads and ordinary sockets work. unshare(0), ptrace(TRACEME)
// and personality(ADDR_NO_RANDOMIZE) succeed without the filter, so their
// EPERM is the filter's.
func TestSeccompFilter(t *testing.T) {
	needPython(t)
	s := newSandbox(t)
	script := `
import ctypes, os, socket, threading
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    r = libc.syscall(*args)
    print(name, r, ctypes.get_errno() if r == -1 else 0)
call("unshare0", 272, 0)
call("unshare_user", 272, 0x10000000)
call("mount", 165, b"none", b"/tmp", b"tmpfs", 0, None)
call("ptrace_traceme", 101, 0, 0, 0, 0)
call("personality_no_randomize", 135, 0x0040000)
call("clone3", 435, None, 0)
call("io_uring_setup", 425, 1, None)
call("socket_packet", 41, 17, 3, 0)
call("personality_query", 135, 0xffffffff)
pid = os.fork()
if pid == 0:
    os._exit(7)
print("fork", os.waitpid(pid, 0)[1] >> 8)
t = threading.Thread(target=lambda: print("thread ran"))
t.start(); t.join()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); print("unix socket ok")
`
	e, out, errs := run(t, s, Spec{Argv: []string{python, "-c", script}})
	if e.Reason != "" {
		t.Fatalf("exit %+v, out %q, err %q", e, out, errs)
	}
	want := map[string]string{
		"unshare0":                 "-1 1",
		"unshare_user":             "-1 1",
		"mount":                    "-1 1",
		"ptrace_traceme":           "-1 1",
		"personality_no_randomize": "-1 1",
		"clone3":                   "-1 38",
		"io_uring_setup":           "-1 1",
		"socket_packet":            "-1 1",
		"fork":                     "7",
		"thread":                   "ran",
		"unix":                     "socket ok",
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, " ")
		got[k] = v
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if !strings.HasPrefix(got["personality_query"], "0 ") && !strings.HasSuffix(got["personality_query"], " 0") {
		t.Errorf("personality query: %q", got["personality_query"])
	}
}

// TestKillLeavesNothing: Kill ends an endless loop with reason "killed";
// no process of it remains and its cgroup is gone.
func TestKillLeavesNothing(t *testing.T) {
	s := newSandbox(t)
	p, out, _ := start(t, s, sh("sleep 1000 & sleep 1000 & echo started; while :; do :; done"))
	testutil.WaitFor(t, 10*time.Second, "the program to start", func() bool { return out.String() == "started\n" })
	pids := p.cg.procs()
	if len(pids) < 4 { // init, sh, 2 sleeps
		t.Fatalf("cgroup.procs = %v, want init, the shell and two sleeps", pids)
	}
	p.Kill()
	p.Kill()
	if e := p.Wait(); e.Reason != "killed" {
		t.Fatalf("exit %+v", e)
	}
	for _, pid := range append(pids, p.cmd.Process.Pid) {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			t.Errorf("pid %d still exists (%v): %.200s", pid, err, st)
		}
	}
	for _, d := range p.cg.dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s still exists", d)
		}
	}
	if e := p.Wait(); e.Reason != "killed" { // again, from another caller
		t.Fatalf("second Wait: %+v", e)
	}
}

// TestWaitFromSeveralGoroutines: every caller of Wait gets the same Exit.
func TestWaitFromSeveralGoroutines(t *testing.T) {
	s := newSandbox(t)
	p, _, _ := start(t, s, sh("exec sleep 1000"))
	var wg sync.WaitGroup
	exits := make([]Exit, 4)
	for i := range exits {
		wg.Go(func() { exits[i] = p.Wait() })
	}
	p.Kill()
	wg.Wait()
	for _, e := range exits {
		if e.Reason != "killed" {
			t.Fatalf("exits %+v", exits)
		}
	}
}

// TestLimitsWritten: the limits are in the process's cgroup files while it
// runs, and SetMemoryLimit changes the limit of the running process: lowered
// under what the program then allocates, it is OOM-killed; below its
// current usage, it is refused.
func TestLimitsWritten(t *testing.T) {
	needPython(t)
	s := newSandbox(t)
	stdinR, stdinW := io.Pipe()
	t.Cleanup(func() { stdinW.Close() })
	spec := Spec{Argv: []string{python, "-c", "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\nb = bytearray(96 << 20)\nprint('allocated', flush=True)\n"}, Stdin: stdinR}
	spec.Limits = Limits{MemoryBytes: 256 << 20, Pids: 10, CPUPercent: 50}
	p, out, errb := start(t, s, spec)
	testutil.WaitFor(t, 10*time.Second, "python to start", func() bool { return out.String() == "ready\n" })

	read := func(dir, name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	for _, f := range []struct{ dir, name, want string }{
		{p.cg.memDir(), "memory.limit_in_bytes", strconv.Itoa(256 << 20)},
		{p.cg.memDir(), "memory.memsw.limit_in_bytes", strconv.Itoa(256 << 20)},
		{p.cg.pidsDir(), "pids.max", "11"},
		{p.cg.cpuDir(), "cpu.cfs_quota_us", "50000"},
		{p.cg.cpuDir(), "cpu.cfs_period_us", "100000"},
	} {
		if s.CgroupVersion() != 1 {
			break
		}
		if f.name == "memory.memsw.limit_in_bytes" {
			if _, err := os.Stat(filepath.Join(f.dir, f.name)); err != nil {
				continue
			}
		}
		if got := read(f.dir, f.name); got != f.want {
			t.Errorf("%s = %s, want %s", f.name, got, f.want)
		}
	}

	if err := p.SetMemoryLimit(4096); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("SetMemoryLimit below the usage: %v", err)
	}
	if err := p.SetMemoryLimit(48 << 20); err != nil {
		t.Fatal(err)
	}
	if s.CgroupVersion() == 1 {
		if got := read(p.cg.memDir(), "memory.limit_in_bytes"); got != strconv.Itoa(48<<20) {
			t.Fatalf("limit after SetMemoryLimit = %s", got)
		}
	}
	if _, err := stdinW.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	if e := p.Wait(); e.Reason != "oom" || strings.Contains(out.String(), "allocated") {
		t.Fatalf("exit %+v, out %q, err %q; want oom after the limit was lowered", e, out.String(), errb.String())
	}
	if err := p.SetMemoryLimit(1 << 30); err == nil {
		t.Fatal("SetMemoryLimit after the end succeeded")
	}
}

// TestSetMemoryLimitRaises: a limit raised on a running process lets it
// allocate what the first limit would not have.
func TestSetMemoryLimitRaises(t *testing.T) {
	needPython(t)
	s := newSandbox(t)
	stdinR, stdinW := io.Pipe()
	t.Cleanup(func() { stdinW.Close() })
	spec := Spec{Argv: []string{python, "-c", "import sys\nprint('ready', flush=True)\nsys.stdin.readline()\nb = bytearray(96 << 20)\nprint('allocated', flush=True)\n"}, Stdin: stdinR}
	spec.Limits.MemoryBytes = 48 << 20
	p, out, errb := start(t, s, spec)
	testutil.WaitFor(t, 10*time.Second, "python to start", func() bool { return out.String() == "ready\n" })
	if err := p.SetMemoryLimit(256 << 20); err != nil {
		t.Fatal(err)
	}
	_, _ = stdinW.Write([]byte("go\n"))
	if e := p.Wait(); e.Reason != "" || !strings.Contains(out.String(), "allocated") {
		t.Fatalf("exit %+v, out %q, err %q", e, out.String(), errb.String())
	}
}

// TestExtraFiles: Spec.ExtraFiles are fds 3, 4 inside, and no other
// descriptor of the host reaches the program.
func TestExtraFiles(t *testing.T) {
	s := newSandbox(t)
	r1, w1, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	go func() { w1.Write([]byte("from fd 3\n")); w1.Close() }()
	spec := sh("cat <&3; echo to fd 4 >&4; ls /proc/self/fd")
	spec.ExtraFiles = []*os.File{r1, w2}
	e, out, errs := run(t, s, spec)
	w2.Close()
	got, _ := io.ReadAll(r2)
	if e.Reason != "" || !strings.HasPrefix(out, "from fd 3\n") || string(got) != "to fd 4\n" {
		t.Fatalf("exit %+v, out %q, err %q, fd 4 %q", e, out, errs, got)
	}
	// ls lists 0 1 2 3 4 and its own directory fd.
	if fds := strings.Fields(strings.TrimPrefix(out, "from fd 3\n")); len(fds) != 6 {
		t.Fatalf("descriptors inside: %v", fds)
	}
}

// TestNewErrors: a missing bwrap or Logger is a clear error.
func TestNewErrors(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	if _, err := New(Config{Bwrap: "/nonexistent/bwrap", Group: "hks-fn-test-none", Logger: log}); err == nil || !strings.Contains(err.Error(), "bwrap") {
		t.Errorf("missing bwrap: %v", err)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/hks-fn-test-none"); !os.IsNotExist(err) {
		t.Errorf("a failed New left its cgroup")
	}
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "Logger") {
		t.Errorf("no logger: %v", err)
	}
	if _, err := New(Config{Group: "../x", Logger: log}); err == nil {
		t.Errorf("group ../x accepted")
	}
}

// BenchmarkStart starts /bin/true and waits for its end.
func BenchmarkStart(b *testing.B) {
	s := newSandbox(b)
	for b.Loop() {
		p, err := s.Start(Spec{Argv: []string{"/bin/true"}, Limits: Limits{MemoryBytes: 64 << 20, Pids: 16}})
		if err != nil {
			b.Fatal(err)
		}
		if e := p.Wait(); e.Reason != "" {
			b.Fatal(e)
		}
	}
}

// TestHostUser: every process of the sandbox runs as HostUID on the host:
// nobody (65534) when the test runs as root, not root.
func TestHostUser(t *testing.T) {
	s := newSandbox(t)
	if os.Geteuid() == 0 && s.HostUID() != 65534 {
		t.Logf("bwrap fell back to running as root here")
	}
	p, out, _ := start(t, s, sh("echo started; exec sleep 1000"))
	testutil.WaitFor(t, 10*time.Second, "the program to start", func() bool { return out.String() == "started\n" })
	pids := p.cg.procs()
	if len(pids) < 2 {
		t.Fatalf("cgroup.procs = %v", pids)
	}
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 5 && (f[0] == "Uid:" || f[0] == "Gid:") {
				for _, id := range f[1:] {
					if id != strconv.Itoa(s.HostUID()) {
						t.Errorf("pid %d: %s, want %d", pid, line, s.HostUID())
					}
				}
			}
		}
	}
	p.Kill()
	p.Wait()
}

// TestStartErrors: a Spec bwrap could not run is an error of Start; a
// working directory missing inside ends the process with bwrap's message.
func TestStartErrors(t *testing.T) {
	s := newSandbox(t)
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"no argv", Spec{}, "Argv"},
		{"relative bind", Spec{Argv: []string{"/bin/true"}, ReadOnly: []Bind{{Src: "code", Dst: "/code"}}}, "absolute"},
		{"bind over the root", Spec{Argv: []string{"/bin/true"}, ReadOnly: []Bind{{Src: "/usr", Dst: "/"}}}, "not /"},
		{"missing bind source", Spec{Argv: []string{"/bin/true"}, ReadOnly: []Bind{{Src: "/nonexistent/code", Dst: "/code"}}}, "no such file"},
		{"bad environment", Spec{Argv: []string{"/bin/true"}, Env: []string{"NOEQUALS"}}, "KEY=value"},
		{"relative directory", Spec{Argv: []string{"/bin/true"}, Dir: "tmp"}, "not absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Start(tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
	e, _, errs := run(t, s, Spec{Argv: []string{"/bin/true"}, Dir: "/nonexistent"})
	if e.Reason != "crash" || e.Code != 1 || !strings.Contains(errs, "chdir") {
		t.Fatalf("missing directory: %+v %q", e, errs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(Spec{Argv: []string{"/bin/true"}}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Start after Close: %v", err)
	}
}

// TestCloseKillsWhatRemains: Close kills running processes (reason
// "killed") and removes every cgroup; concurrent Starts each get a group.
func TestCloseKillsWhatRemains(t *testing.T) {
	s := newSandbox(t)
	procs := make([]*Process, 6)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Go(func() {
			p, err := s.Start(Spec{Argv: []string{"/bin/sleep", "1000"}, Limits: Limits{Pids: 4, MemoryBytes: 32 << 20}})
			if err != nil {
				t.Error(err)
				return
			}
			procs[i] = p
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := map[string]bool{}
	for _, p := range procs {
		if seen[p.cg.dirs[0]] {
			t.Fatalf("two processes share %s", p.cg.dirs[0])
		}
		seen[p.cg.dirs[0]] = true
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if e := p.Wait(); e.Reason != "killed" {
			t.Errorf("exit %+v", e)
		}
		if err := syscall.Kill(p.Pid(), 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d remains", p.Pid())
		}
	}
}

// TestBindNotReadableByNobody: when bwrap runs as the host's nobody, a bind
// source nobody cannot read is an error of Start naming it; with AsRoot it
// is bound.
func TestBindNotReadableByNobody(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: bwrap runs as nobody only when this process is root")
	}
	s := newSandbox(t)
	if s.HostUID() != 65534 {
		t.Skip("bwrap cannot run as nobody here")
	}
	private := t.TempDir() // its parent is 0700
	if err := os.WriteFile(filepath.Join(private, "f"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.Start(Spec{Argv: []string{"/bin/cat", "/code/f"}, ReadOnly: []Bind{{Src: private, Dst: "/code"}}})
	if err == nil || !strings.Contains(err.Error(), "not accessible") || !strings.Contains(err.Error(), "AsRoot") {
		t.Fatalf("err = %v", err)
	}

	root, err := New(Config{Group: fmt.Sprintf("hks-fn-test-%d-root", os.Getpid()), Logger: slog.New(slog.DiscardHandler), AsRoot: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	if root.HostUID() != 0 {
		t.Fatalf("AsRoot: host uid %d", root.HostUID())
	}
	e, out, errs := run(t, root, Spec{Argv: []string{"/bin/cat", "/code/f"}, ReadOnly: []Bind{{Src: private, Dst: "/code"}}})
	if e.Reason != "" || out != "x\n" {
		t.Fatalf("AsRoot: %+v %q %q", e, out, errs)
	}
}

// TestReadableBy: the permission walk bwrap's host user needs.
func TestReadableBy(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := readableBy(mk("open", 0o644), 65534, 65534); err != nil {
		t.Errorf("0644: %v", err)
	}
	if err := readableBy(mk("closed", 0o600), 65534, 65534); err == nil {
		t.Error("0600 of another user readable")
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := readableBy(sub, 65534, 65534); err == nil {
		t.Error("0700 directory readable")
	}
	if err := os.Chmod(sub, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := readableBy(sub, 65534, 65534); err == nil {
		t.Error("0711 directory listable")
	}
	if err := os.Symlink(filepath.Join(dir, "open"), filepath.Join(sub, "link")); err != nil {
		t.Fatal(err)
	}
	if err := readableBy(filepath.Join(sub, "link"), 65534, 65534); err != nil {
		t.Errorf("a link to a readable file: %v", err)
	}
	if err := os.Chmod(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := readableBy(filepath.Join(sub, "link"), 65534, 65534); err == nil {
		t.Error("a link in a closed directory readable")
	}
}

// TestReadWriteBind: a read-write bind is writable inside and the writes
// reach the host directory; one the host user cannot write is refused.
func TestReadWriteBind(t *testing.T) {
	s := newSandbox(t)
	out := t.TempDir()
	for _, d := range []string{out, filepath.Dir(out)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	spec := sh("echo built > /out/result")
	spec.ReadWrite = []Bind{{Src: out, Dst: "/out"}}
	if s.HostUID() != os.Getuid() {
		if _, err := s.Start(spec); err == nil || !strings.Contains(err.Error(), "not accessible") {
			t.Fatalf("a directory the host user cannot write: %v", err)
		}
		if err := os.Chown(out, s.HostUID(), s.HostUID()); err != nil {
			t.Fatal(err)
		}
	}
	if e, _, errs := run(t, s, spec); e.Reason != "" {
		t.Fatalf("%+v %q", e, errs)
	}
	if b, err := os.ReadFile(filepath.Join(out, "result")); err != nil || string(b) != "built\n" {
		t.Fatalf("result %q %v", b, err)
	}
}
