package sandbox

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestExitPrecedence: oom > pids (hit and died) > killed > crash > "".
func TestExitPrecedence(t *testing.T) {
	exited := func(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }
	for _, tc := range []struct {
		name   string
		ws     syscall.WaitStatus
		known  bool
		ev     Events
		killed bool
		want   Exit
	}{
		{"clean", exited(0), true, Events{}, false, Exit{}},
		{"non-zero", exited(2), true, Events{}, false, Exit{Reason: "crash", Code: 2}},
		{"signal via bwrap", exited(137), true, Events{}, false, Exit{Reason: "crash", Code: 137, Signal: "SIGKILL"}},
		{"bwrap itself signalled", syscall.WaitStatus(syscall.SIGTERM), true, Events{}, false, Exit{Reason: "crash", Code: 143, Signal: "SIGTERM"}},
		{"unknown status", 0, false, Events{}, false, Exit{Reason: "crash", Code: -1}},
		{"killed", exited(137), true, Events{}, true, Exit{Reason: "killed", Code: 137, Signal: "SIGKILL"}},
		{"pids over killed", exited(2), true, Events{PidsLimitHits: 3}, true, Exit{Reason: "pids", Code: 2}},
		{"pids hit but clean exit", exited(0), true, Events{PidsLimitHits: 3}, false, Exit{}},
		{"oom over pids and killed", exited(137), true, Events{OOMKills: 1, PidsLimitHits: 1}, true, Exit{Reason: "oom", Code: 137, Signal: "SIGKILL"}},
		{"oom counted, exit 0", exited(0), true, Events{OOMKills: 1}, false, Exit{Reason: "oom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitOfStatus(tc.ws, tc.known, tc.ev, tc.killed); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestCgroupV2Files exercises the cgroup v2 file-level logic against a
// temporary directory laid out like a cgroup2 hierarchy: a stand-in,
// because no cgroup2 hierarchy is mounted at the root on this machine (v1
// only), so the real kernel files cannot be used here.
func TestCgroupV2Files(t *testing.T) {
	root := t.TempDir()
	write := func(path, v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, path), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write("cgroup.subtree_control", "cpuset io\n")
	c := cgroups{version: 2, root: root, group: "hks-fn"}
	if err := c.setup(); err != nil {
		t.Fatal(err)
	}
	if got := read("cgroup.subtree_control"); got != "+memory +pids +cpu" {
		t.Errorf("root subtree_control = %q", got)
	}
	if got := read("hks-fn/cgroup.subtree_control"); got != "+memory +pids +cpu" {
		t.Errorf("group subtree_control = %q", got)
	}
	// Controllers already enabled are not written again.
	write("hks-fn/cgroup.subtree_control", "cpu memory pids\n")
	if err := c.setup(); err != nil {
		t.Fatal(err)
	}
	if got := read("hks-fn/cgroup.subtree_control"); got != "cpu memory pids\n" {
		t.Errorf("rewritten: %q", got)
	}

	for _, tc := range []struct {
		name string
		l    Limits
		want map[string]string
	}{
		{"limits", Limits{MemoryBytes: 64 << 20, Pids: 10, CPUPercent: 150},
			map[string]string{"memory.max": "67108864", "memory.swap.max": "0", "pids.max": "10", "cpu.max": "150000 100000"}},
		{"none", Limits{},
			map[string]string{"memory.max": "max", "memory.swap.max": "0", "pids.max": "max", "cpu.max": "max 100000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := c.child("p-" + tc.name)
			if len(g.dirs) != 1 || g.dirs[0] != filepath.Join(root, "hks-fn", "p-"+tc.name) {
				t.Fatalf("dirs %v", g.dirs)
			}
			if err := g.create(tc.l); err != nil {
				t.Fatal(err)
			}
			for f, v := range tc.want {
				if got := read(filepath.Join("hks-fn", "p-"+tc.name, f)); got != v {
					t.Errorf("%s = %q, want %q", f, got, v)
				}
			}
			if err := g.remove(); err != nil {
				t.Fatal(err)
			}
		})
	}

	g := c.child("p1")
	if err := g.create(Limits{MemoryBytes: 256 << 20}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("hks-fn", "p1")
	if err := g.place(4242); err != nil {
		t.Fatal(err)
	}
	if got := read(filepath.Join(dir, "cgroup.procs")); got != "4242" {
		t.Errorf("cgroup.procs = %q", got)
	}
	write(filepath.Join(dir, "cgroup.procs"), "12\n34\n")
	if got := g.procs(); !slices.Equal(got, []int{12, 34}) {
		t.Errorf("procs = %v", got)
	}
	write(filepath.Join(dir, "memory.events"), "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n")
	write(filepath.Join(dir, "pids.events"), "max 3\n")
	if got := g.events(); got != (Events{OOMKills: 1, PidsLimitHits: 3}) {
		t.Errorf("events = %+v", got)
	}
	write(filepath.Join(dir, "memory.current"), "100000000\n")
	if err := g.setMemory(64<<20, true); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("limit below memory.current: %v", err)
	}
	if got := read(filepath.Join(dir, "memory.max")); got != strconv.Itoa(256<<20) {
		t.Errorf("memory.max changed by a refused limit: %q", got)
	}
	write(filepath.Join(dir, "memory.current"), "1000\n")
	if err := g.setMemory(64<<20, true); err != nil {
		t.Fatal(err)
	}
	if got := read(filepath.Join(dir, "memory.max")); got != strconv.Itoa(64<<20) {
		t.Errorf("memory.max = %q", got)
	}
	write(filepath.Join(dir, "cgroup.procs"), "") // no real pid may be signalled
	if !g.killAll(0) {
		t.Error("killAll of an empty group")
	}
	if got := read(filepath.Join(dir, "cgroup.kill")); got != "1" {
		t.Errorf("cgroup.kill = %q", got)
	}
	if err := g.remove(); err != nil {
		t.Fatal(err)
	}
	if err := c.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "hks-fn")); !os.IsNotExist(err) {
		t.Errorf("group left: %v", err)
	}
}

// TestDetectCgroupVersion: this machine's /sys/fs/cgroup is detected as it
// is mounted; a plain directory is neither version.
func TestDetectCgroupVersion(t *testing.T) {
	if _, err := detectCgroupVersion(t.TempDir()); err == nil {
		t.Error("a plain directory detected as a cgroup root")
	}
	v, err := detectCgroupVersion("/sys/fs/cgroup")
	if err != nil {
		t.Skipf("no cgroup hierarchy here: %v", err)
	}
	var st syscall.Statfs_t
	want := 1
	if syscall.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == cgroup2SuperMagic {
		want = 2
	}
	if v != want {
		t.Errorf("version %d, want %d", v, want)
	}
}

// seccompData is struct seccomp_data.
type seccompData struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

// runFilter interprets the classic BPF instructions the filter uses (a
// test-only interpreter: the kernel runs the real one in TestSeccompFilter).
func runFilter(t *testing.T, prog []byte, d seccompData) uint32 {
	t.Helper()
	buf := make([]byte, 64)
	binary.NativeEndian.PutUint32(buf[0:], d.nr)
	binary.NativeEndian.PutUint32(buf[4:], d.arch)
	for i, a := range d.args {
		binary.NativeEndian.PutUint64(buf[16+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(prog)/8; pc++ {
		in := prog[8*pc : 8*pc+8]
		code := binary.NativeEndian.Uint16(in[0:])
		jt, jf := int(in[2]), int(in[3])
		k := binary.NativeEndian.Uint32(in[4:])
		jump := func(cond bool) {
			if cond {
				pc += jt
			} else {
				pc += jf
			}
		}
		switch code {
		case bpfLdWAbs:
			acc = binary.NativeEndian.Uint32(buf[k:])
		case bpfJeqK:
			jump(acc == k)
		case bpfJgeK:
			jump(acc >= k)
		case bpfJsetK:
			jump(acc&k != 0)
		case bpfRetK:
			return k
		default:
			t.Fatalf("unknown opcode %#x at %d", code, pc)
		}
	}
	t.Fatal("program fell off its end")
	return 0
}

// TestSeccompProgram: the filter's decisions on amd64 and arm64, per
// system call and argument.
func TestSeccompProgram(t *testing.T) {
	for _, goarch := range []string{"amd64", "arm64"} {
		t.Run(goarch, func(t *testing.T) {
			prog, err := seccompProgramFor(goarch)
			if err != nil {
				t.Fatal(err)
			}
			if len(prog)%8 != 0 || len(prog)/8 > 4096 {
				t.Fatalf("program of %d bytes", len(prog))
			}
			tab, _ := tableFor(goarch)
			n := sysNumbers[goarch]
			eperm, enosys := uint32(retErrno|errnoEPERM), uint32(retErrno|errnoENOSYS)
			call := func(nr uint32, args ...uint64) seccompData {
				d := seccompData{nr: nr, arch: tab.arch}
				copy(d.args[:], args)
				return d
			}
			cases := []struct {
				name string
				d    seccompData
				want uint32
			}{
				{"read", call(0), retAllow},
				{"clone for fork", call(n["clone"], 0x01200011), retAllow},
				{"clone for a thread", call(n["clone"], 0x003d0f00), retAllow},
				{"clone with CLONE_NEWUSER", call(n["clone"], 0x10000000|0x11), eperm},
				{"clone with CLONE_NEWNET", call(n["clone"], 0x40000000), eperm},
				{"clone with CLONE_NEWNS", call(n["clone"], 0x00020000), eperm},
				{"clone with CLONE_NEWTIME", call(n["clone"], 0x80), eperm},
				{"clone3", call(n["clone3"]), enosys},
				{"socket AF_INET", call(n["socket"], 2, 1), retAllow},
				{"socket AF_NETLINK", call(n["socket"], 16, 3), retAllow},
				{"socket AF_PACKET", call(n["socket"], 17, 3), eperm},
				{"personality query", call(n["personality"], 0xffffffff), retAllow},
				{"personality default", call(n["personality"], 0), retAllow},
				{"personality ADDR_NO_RANDOMIZE", call(n["personality"], 0x0040000), eperm},
				{"other architecture", seccompData{nr: 0, arch: 0x40000003}, retKillProcess},
			}
			if goarch == "amd64" {
				cases = append(cases, struct {
					name string
					d    seccompData
					want uint32
				}{"x32 read", call(0x40000000), eperm})
			}
			for _, name := range deniedNames {
				if nr, ok := n[name]; ok {
					cases = append(cases, struct {
						name string
						d    seccompData
						want uint32
					}{name, call(nr), eperm})
				}
			}
			for _, tc := range cases {
				if got := runFilter(t, prog, tc.d); got != tc.want {
					t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
				}
			}
		})
	}
	if _, err := seccompProgramFor("riscv64"); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("riscv64: %v", err)
	}
}

// TestSyscallNumbers checks the filter's tables against the Go
// distribution's syscall tables (zsysnum_linux_*.go) for the calls these
// list; the newer calls they lack share one number on every architecture.
func TestSyscallNumbers(t *testing.T) {
	re := regexp.MustCompile(`(?m)^\s*SYS_([A-Z0-9_]+)\s*=\s*(\d+)`)
	for goarch, nums := range sysNumbers {
		b, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", "syscall", "zsysnum_linux_"+goarch+".go"))
		if err != nil {
			t.Skipf("Go's syscall sources are not here: %v", err)
		}
		table := map[string]uint32{}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			v, _ := strconv.Atoi(m[2])
			table[strings.ToLower(m[1])] = uint32(v)
		}
		checked := 0
		for name, nr := range nums {
			if want, ok := table[name]; ok {
				checked++
				if nr != want {
					t.Errorf("%s %s = %d, the syscall package says %d", goarch, name, nr, want)
				}
			}
		}
		if checked < 20 {
			t.Errorf("%s: only %d numbers checked", goarch, checked)
		}
	}
}
