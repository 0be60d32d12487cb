package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	cgroup2SuperMagic = 0x63677270
	cgroupSuperMagic  = 0x27e0eb

	cpuPeriodMicros = 100000
)

// detectCgroupVersion says whether root is a cgroup2 mount (2) or holds the
// v1 hierarchies memory, pids and cpu (1).
func detectCgroupVersion(root string) (int, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(root, &st); err != nil {
		return 0, fmt.Errorf("cgroup root %s: %w", root, err)
	}
	if st.Type == cgroup2SuperMagic {
		return 2, nil
	}
	for _, c := range v1Controllers {
		if err := syscall.Statfs(filepath.Join(root, c), &st); err != nil || st.Type != cgroupSuperMagic {
			return 0, fmt.Errorf("cgroup root %s: neither a cgroup2 mount nor the v1 hierarchies memory, pids and cpu (no v1 %s)", root, c)
		}
	}
	return 1, nil
}

var v1Controllers = []string{"memory", "pids", "cpu"}

// cgroups is the file-level logic of one Sandbox's parent group, for both
// versions: v1 has a directory per controller, v2 one directory.
type cgroups struct {
	version int
	root    string
	group   string
}

// parentDirs are the directories of the parent group.
func (c cgroups) parentDirs() []string {
	if c.version == 2 {
		return []string{filepath.Join(c.root, c.group)}
	}
	var ds []string
	for _, ctl := range v1Controllers {
		ds = append(ds, filepath.Join(c.root, ctl, c.group))
	}
	return ds
}

// setup creates the parent group (and, on v2, enables the controllers for
// its children).
func (c cgroups) setup() error {
	if c.version == 2 {
		if err := enableControllers(c.root); err != nil {
			return err
		}
	}
	for _, d := range c.parentDirs() {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", d, err)
		}
	}
	if c.version == 2 {
		return enableControllers(filepath.Join(c.root, c.group))
	}
	return nil
}

// enableControllers writes "+memory +pids +cpu" to dir's cgroup.subtree_control
// unless it already lists them.
func enableControllers(dir string) error {
	file := filepath.Join(dir, "cgroup.subtree_control")
	cur, _ := os.ReadFile(file)
	have := map[string]bool{}
	for _, f := range strings.Fields(string(cur)) {
		have[f] = true
	}
	var want []string
	for _, ctl := range v1Controllers {
		if !have[ctl] {
			want = append(want, "+"+ctl)
		}
	}
	if len(want) == 0 {
		return nil
	}
	if err := os.WriteFile(file, []byte(strings.Join(want, " ")), 0o644); err != nil {
		return fmt.Errorf("enable cgroup controllers in %s: %w", dir, err)
	}
	return nil
}

// remove removes the parent group (its children must be gone).
func (c cgroups) remove() error {
	var errs []error
	for _, d := range c.parentDirs() {
		if err := rmdirRetry(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cgroup is the group of one Process.
type cgroup struct {
	version int
	dirs    []string // v1: memory, pids, cpu; v2: one
}

func (c cgroups) child(name string) *cgroup {
	g := &cgroup{version: c.version}
	for _, d := range c.parentDirs() {
		g.dirs = append(g.dirs, filepath.Join(d, name))
	}
	return g
}

func (g *cgroup) memDir() string { return g.dirs[0] }
func (g *cgroup) pidsDir() string {
	if g.version == 2 {
		return g.dirs[0]
	}
	return g.dirs[1]
}
func (g *cgroup) cpuDir() string {
	if g.version == 2 {
		return g.dirs[0]
	}
	return g.dirs[2]
}

// create makes the group's directories and writes its limits.
func (g *cgroup) create(l Limits) error {
	for _, d := range g.dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", d, err)
		}
	}
	if err := g.setMemory(l.MemoryBytes, false); err != nil {
		return err
	}
	pids := "max"
	if l.Pids > 0 {
		pids = strconv.Itoa(l.Pids)
	}
	if err := writeFile(g.pidsDir(), "pids.max", pids); err != nil {
		return err
	}
	if g.version == 2 {
		quota := "max"
		if l.CPUPercent > 0 {
			quota = strconv.Itoa(l.CPUPercent * cpuPeriodMicros / 100)
		}
		return writeFile(g.cpuDir(), "cpu.max", quota+" "+strconv.Itoa(cpuPeriodMicros))
	}
	if err := writeFile(g.cpuDir(), "cpu.cfs_period_us", strconv.Itoa(cpuPeriodMicros)); err != nil {
		return err
	}
	quota := "-1"
	if l.CPUPercent > 0 {
		quota = strconv.Itoa(l.CPUPercent * cpuPeriodMicros / 100)
	}
	return writeFile(g.cpuDir(), "cpu.cfs_quota_us", quota)
}

// setMemory sets the memory limit (0 = none) and no swap; with checkUsage it
// refuses a limit below the current usage.
func (g *cgroup) setMemory(bytes int64, checkUsage bool) error {
	if checkUsage && bytes > 0 {
		usage, err := g.memoryUsage()
		if err != nil {
			return err
		}
		if usage > bytes {
			return fmt.Errorf("set memory limit: usage %d bytes is above %d", usage, bytes)
		}
	}
	if g.version == 2 {
		v := "max"
		if bytes > 0 {
			v = strconv.FormatInt(bytes, 10)
		}
		if err := writeFile(g.memDir(), "memory.max", v); err != nil {
			return err
		}
		return writeOptional(g.memDir(), "memory.swap.max", "0")
	}
	v := "-1"
	if bytes > 0 {
		v = strconv.FormatInt(bytes, 10)
	}
	// v1 wants limit_in_bytes <= memsw.limit_in_bytes at every step: raise
	// memsw first, lower it last.
	lowering := true
	if cur, err := readInt(g.memDir(), "memory.limit_in_bytes"); err == nil && (bytes <= 0 || bytes > cur) {
		lowering = false
	}
	if !lowering {
		if err := writeOptional(g.memDir(), "memory.memsw.limit_in_bytes", v); err != nil {
			return err
		}
	}
	if err := writeFile(g.memDir(), "memory.limit_in_bytes", v); err != nil {
		return err
	}
	if lowering {
		return writeOptional(g.memDir(), "memory.memsw.limit_in_bytes", v)
	}
	return nil
}

func (g *cgroup) memoryUsage() (int64, error) {
	if g.version == 2 {
		return readInt(g.memDir(), "memory.current")
	}
	return readInt(g.memDir(), "memory.usage_in_bytes")
}

// place moves pid into the group (every controller's directory).
func (g *cgroup) place(pid int) error {
	for _, d := range g.dirs {
		if err := writeFile(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// procs lists the pids in the group (the union over the controllers).
func (g *cgroup) procs() []int {
	seen := map[int]bool{}
	var pids []int
	for _, d := range g.dirs {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// killAll sends SIGKILL to every process of the group (v2: cgroup.kill when
// the kernel has it) until none is left or the deadline passes. A process
// still listed may be a zombie its parent has not reaped yet.
func (g *cgroup) killAll(timeout time.Duration) bool {
	if g.version == 2 {
		_ = writeOptional(g.dirs[0], "cgroup.kill", "1")
	}
	deadline := time.Now().Add(timeout)
	for {
		pids := g.procs()
		if len(pids) == 0 {
			return true
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// events reads the OOM kills and pids-limit hits counted so far.
func (g *cgroup) events() Events {
	var e Events
	if g.version == 2 {
		e.OOMKills = readKey(g.memDir(), "memory.events", "oom_kill")
	} else {
		e.OOMKills = readKey(g.memDir(), "memory.oom_control", "oom_kill")
	}
	e.PidsLimitHits = readKey(g.pidsDir(), "pids.events", "max")
	return e
}

func (g *cgroup) remove() error {
	var errs []error
	for _, d := range g.dirs {
		if err := rmdirRetry(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// rmdirRetry removes a cgroup directory; the kernel answers EBUSY for a
// moment after its last process died.
func rmdirRetry(d string) error {
	var err error
	for range 200 {
		err = syscall.Rmdir(d)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if errors.Is(err, syscall.ENOTEMPTY) {
		// The v2 stand-in of the tests is a plain directory holding files.
		if st, serr := os.Stat(filepath.Join(d, "cgroup.procs")); serr == nil && st.Mode().IsRegular() {
			if isPlainDir(d) {
				return os.RemoveAll(d)
			}
		}
	}
	return fmt.Errorf("remove cgroup %s: %w", d, err)
}

// isPlainDir reports whether d is on an ordinary file system rather than a
// cgroup mount.
func isPlainDir(d string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(d, &st); err != nil {
		return false
	}
	return st.Type != cgroupSuperMagic && st.Type != cgroup2SuperMagic
}

func writeFile(dir, name, v string) error {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644); err != nil {
		return fmt.Errorf("write cgroup file: %w", err)
	}
	return nil
}

// writeOptional writes a file the kernel may lack (memsw without swap
// accounting, memory.swap.max, cgroup.kill before 5.14).
func writeOptional(dir, name, v string) error {
	err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o644)
	if err == nil || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		return nil
	}
	return fmt.Errorf("write cgroup file: %w", err)
}

func readInt(dir, name string) (int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, fmt.Errorf("read cgroup file: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read cgroup file %s: %w", name, err)
	}
	return n, nil
}

// readKey reads the value of key in a flat keyed file ("key value" lines); 0
// when absent.
func readKey(dir, name, key string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == key {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}
