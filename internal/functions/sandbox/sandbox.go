package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config configures a Sandbox.
type Config struct {
	Bwrap      string // the bwrap binary; default: exec.LookPath("bwrap")
	CgroupRoot string // default /sys/fs/cgroup
	Group      string // the parent cgroup's name, default "hks-fn"; one per Sandbox
	Logger     *slog.Logger
}

// Sandbox starts processes under bubblewrap, each in its own child cgroup of
// the Sandbox's parent group.
type Sandbox struct {
	bwrap   string
	cg      cgroups
	log     *slog.Logger
	etc     string // the generated /etc files (a host temp directory)
	seccomp []byte
	layout  []string // bwrap arguments for the root's system mounts

	seq atomic.Uint64

	mu     sync.Mutex
	procs  map[*Process]struct{}
	closed bool
}

// Bind is a read-only bind mount of the host's Src at Dst inside.
type Bind struct{ Src, Dst string }

// Limits are a process's cgroup limits and the size of its /tmp. A zero
// MemoryBytes, Pids or CPUPercent means no limit.
type Limits struct {
	MemoryBytes int64
	// Pids caps the processes and threads of the program; bwrap's own init
	// (pid 1 of the sandbox) is added to it.
	Pids int
	// CPUPercent is the share of one core (0 = no cap; 200 = two cores).
	CPUPercent int
	TmpBytes   int64 // the size of the /tmp tmpfs, default 16 MiB
}

// DefaultTmpBytes is the size of /tmp when Limits.TmpBytes is 0.
const DefaultTmpBytes = 16 << 20

// Spec is what to run.
type Spec struct {
	Argv       []string
	Env        []string // KEY=value; nothing else of the host's environment
	Dir        string   // the working directory inside, default "/"
	ReadOnly   []Bind   // besides the system mounts
	Limits     Limits
	ExtraFiles []*os.File // become fds 3, 4, ... inside
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
}

// Exit says why a process ended. Reason is "" for exit code 0, else "oom"
// (an OOM kill was counted), "pids" (the pids limit was hit and the process
// died), "killed" (Kill was called) or "crash" (non-zero exit or a signal),
// in that precedence.
type Exit struct {
	Reason string
	Code   int
	Signal string // e.g. "killed" for SIGKILL; bwrap reports a signal as code 128+n
}

// Events are what the process's cgroup counted so far.
type Events struct {
	OOMKills      int64
	PidsLimitHits int64
}

// Exit reasons.
const (
	ReasonOOM    = "oom"
	ReasonPids   = "pids"
	ReasonKilled = "killed"
	ReasonCrash  = "crash"
)

// New detects the cgroup version, creates the parent groups and probes bwrap
// once by running /bin/true in a sandbox.
func New(cfg Config) (*Sandbox, error) {
	if cfg.Logger == nil {
		return nil, errors.New("sandbox: Config.Logger is required")
	}
	if cfg.Bwrap == "" {
		p, err := exec.LookPath("bwrap")
		if err != nil {
			return nil, fmt.Errorf("sandbox: bubblewrap (bwrap) is not installed: %w", err)
		}
		cfg.Bwrap = p
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/sys/fs/cgroup"
	}
	if cfg.Group == "" {
		cfg.Group = "hks-fn"
	}
	if filepath.Base(cfg.Group) != cfg.Group || cfg.Group == "." || cfg.Group == ".." {
		return nil, fmt.Errorf("sandbox: Config.Group %q must be a single path element", cfg.Group)
	}
	version, err := detectCgroupVersion(cfg.CgroupRoot)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	prog, err := seccompProgram()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s := &Sandbox{
		bwrap:   cfg.Bwrap,
		cg:      cgroups{version: version, root: cfg.CgroupRoot, group: cfg.Group},
		log:     cfg.Logger,
		seccomp: prog,
		procs:   map[*Process]struct{}{},
	}
	if s.etc, err = writeEtc(); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	s.layout = rootLayout(s.etc)
	if err := s.cg.setup(); err != nil {
		_ = os.RemoveAll(s.etc)
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := s.probe(); err != nil {
		_ = s.cg.remove()
		_ = os.RemoveAll(s.etc)
		return nil, err
	}
	return s, nil
}

// probe runs /bin/true in a sandbox without cgroups to learn that bwrap can
// create the namespaces here.
func (s *Sandbox) probe() error {
	args, err := s.args(Spec{Argv: []string{"/bin/true"}}, -1, -1, 3)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	secR, secW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer secR.Close()
	_, err = secW.Write(s.seccomp)
	secW.Close()
	if err != nil {
		return fmt.Errorf("sandbox: seccomp pipe: %w", err)
	}
	closeOnExecInherited()
	cmd := exec.Command(s.bwrap, args...)
	cmd.Env = []string{}
	cmd.ExtraFiles = []*os.File{secR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("sandbox: bwrap cannot create a sandbox here (user, pid, network namespaces): %w: %s", err, firstLine(out))
	}
	return nil
}

// CgroupVersion is 1 or 2.
func (s *Sandbox) CgroupVersion() int { return s.cg.version }

// Close kills the processes that remain and removes the cgroups and the
// generated /etc.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	s.closed = true
	procs := make([]*Process, 0, len(s.procs))
	for p := range s.procs {
		procs = append(procs, p)
	}
	s.mu.Unlock()
	for _, p := range procs {
		p.Kill()
		p.Wait()
	}
	err := s.cg.remove()
	if rerr := os.RemoveAll(s.etc); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("sandbox close: %w", err)
	}
	return nil
}

// Process is one sandboxed program.
type Process struct {
	s      *Sandbox
	cmd    *exec.Cmd
	cg     *cgroup
	pid    int // the sandbox's pid 1 (bwrap's init) as the host sees it
	killed atomic.Bool

	done   chan struct{}
	exit   Exit
	events Events
}

// Start starts spec's program. It returns once the program's processes are
// in their cgroup and the program runs.
func (s *Sandbox) Start(spec Spec) (*Process, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("sandbox: Spec.Argv is empty")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("sandbox: closed")
	}
	s.mu.Unlock()

	lim := spec.Limits
	if lim.Pids > 0 {
		lim.Pids++ // bwrap's init
	}
	cg := s.cg.child("p" + strconv.FormatUint(s.seq.Add(1), 10) + "-" + strconv.Itoa(os.Getpid()))
	if err := cg.create(lim); err != nil {
		_ = cg.remove()
		return nil, fmt.Errorf("sandbox start: %w", err)
	}
	p, err := s.start(spec, cg)
	if err != nil {
		cg.killAll(5 * time.Second)
		_ = cg.remove()
		return nil, fmt.Errorf("sandbox start: %w", err)
	}
	return p, nil
}

func (s *Sandbox) start(spec Spec, cg *cgroup) (*Process, error) {
	infoR, infoW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer infoR.Close()
	blockR, blockW, err := os.Pipe()
	if err != nil {
		infoW.Close()
		return nil, err
	}
	defer blockW.Close()
	secR, secW, err := os.Pipe()
	if err != nil {
		infoW.Close()
		blockR.Close()
		return nil, err
	}
	// The program is a few hundred bytes: the pipe holds it all.
	if _, err := secW.Write(s.seccomp); err != nil {
		infoW.Close()
		blockR.Close()
		secR.Close()
		secW.Close()
		return nil, fmt.Errorf("seccomp pipe: %w", err)
	}
	secW.Close()

	closeOnExecInherited()
	n := len(spec.ExtraFiles)
	args, err := s.args(spec, 3+n, 3+n+1, 3+n+2)
	if err != nil {
		infoW.Close()
		blockR.Close()
		secR.Close()
		return nil, err
	}
	cmd := exec.Command(s.bwrap, args...)
	cmd.Env = []string{}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, spec.Stdout, spec.Stderr
	cmd.ExtraFiles = append(append([]*os.File{}, spec.ExtraFiles...), infoW, blockR, secR)
	// bwrap dies with this process; the sandbox dies with bwrap (--die-with-parent).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	err = cmd.Start()
	infoW.Close()
	blockR.Close()
	secR.Close()
	if err != nil {
		return nil, fmt.Errorf("run bwrap: %w", err)
	}

	// bwrap writes {"child-pid": N} once it cloned the sandbox's first
	// process, which then waits on the block fd before it runs anything.
	var info struct {
		ChildPid int `json:"child-pid"`
	}
	if err := json.NewDecoder(infoR).Decode(&info); err != nil || info.ChildPid <= 0 {
		_ = cmd.Process.Kill()
		werr := cmd.Wait()
		return nil, fmt.Errorf("bwrap did not start the sandbox: %v (%v)", werr, err)
	}
	if err := cg.place(info.ChildPid); err != nil {
		_ = syscall.Kill(info.ChildPid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	if _, err := blockW.Write([]byte{1}); err != nil {
		cg.killAll(5 * time.Second)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("release the sandbox: %w", err)
	}
	p := &Process{s: s, cmd: cmd, cg: cg, pid: info.ChildPid, done: make(chan struct{})}
	s.mu.Lock()
	s.procs[p] = struct{}{}
	s.mu.Unlock()
	go p.wait()
	return p, nil
}

func (p *Process) wait() {
	err := p.cmd.Wait()
	p.events = p.cg.events()
	if !p.cg.killAll(10 * time.Second) {
		p.s.log.Warn("sandbox: processes left in cgroup", "cgroup", p.cg.dirs[0], "pids", p.cg.procs())
	}
	// Counters may move while the rest die.
	if e := p.cg.events(); e.OOMKills > p.events.OOMKills || e.PidsLimitHits > p.events.PidsLimitHits {
		p.events = e
	}
	if rerr := p.cg.remove(); rerr != nil {
		p.s.log.Warn("sandbox: remove cgroup", "err", rerr)
	}
	p.exit = exitOf(p.cmd.ProcessState, err, p.events, p.killed.Load())
	p.s.mu.Lock()
	delete(p.s.procs, p)
	p.s.mu.Unlock()
	close(p.done)
}

// exitOf applies the precedence oom > pids > killed > crash > "".
func exitOf(st *os.ProcessState, waitErr error, ev Events, killed bool) Exit {
	var e Exit
	if st != nil {
		ws, _ := st.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled():
			e.Code = 128 + int(ws.Signal())
			e.Signal = ws.Signal().String()
		default:
			e.Code = ws.ExitStatus()
			if e.Code > 128 && e.Code < 128+65 {
				e.Signal = syscall.Signal(e.Code - 128).String()
			}
		}
	} else if waitErr != nil {
		e.Code = -1
	}
	died := e.Code != 0 || e.Signal != ""
	switch {
	case ev.OOMKills > 0:
		e.Reason = ReasonOOM
	case ev.PidsLimitHits > 0 && died:
		e.Reason = ReasonPids
	case killed:
		e.Reason = ReasonKilled
	case died:
		e.Reason = ReasonCrash
	}
	return e
}

// Pid is the host pid of the sandbox's first process (bwrap's init, pid 1 inside).
func (p *Process) Pid() int { return p.pid }

// Wait waits until the process ended and says why; any number of goroutines
// may call it.
func (p *Process) Wait() Exit {
	<-p.done
	return p.exit
}

// Done is closed once the process ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Kill kills every process of the sandbox. It is idempotent.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.killed.Store(true)
	p.cg.killAll(0)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
}

// SetMemoryLimit changes the memory limit of the running process; it fails
// when the usage is already above bytes.
func (p *Process) SetMemoryLimit(bytes int64) error {
	select {
	case <-p.done:
		return errors.New("sandbox: set memory limit: process ended")
	default:
	}
	if err := p.cg.setMemory(bytes, true); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	return nil
}

// Events are the OOM kills and pids-limit hits counted so far.
func (p *Process) Events() Events {
	select {
	case <-p.done:
		return p.events
	default:
		return p.cg.events()
	}
}

// closeOnExecInherited marks every descriptor of this process above 2 close-on-exec:
// bwrap passes the descriptors it inherits on to the sandbox, and a
// descriptor this process inherited without the flag (a pipe of its parent,
// say) must not reach a sandboxed program. Go opens all of its own with the
// flag; Spec.ExtraFiles are passed on by exec whatever their flag.
func closeOnExecInherited() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
