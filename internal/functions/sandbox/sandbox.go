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
	// AsRoot keeps bwrap running as this process's user when that is root.
	// By default a root process runs bwrap as the host's nobody (65534), so
	// that sandboxed programs are host uid 65534 in their user namespace,
	// not root; read-only bind sources must then be readable by others.
	AsRoot bool
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

	cred *syscall.Credential // bwrap's host user when this process is root; nil: this process's

	seq atomic.Uint64

	mu       sync.Mutex
	procs    map[*Process]struct{}
	closed   bool
	starting sync.WaitGroup // Starts under way; Close waits for them
}

// Bind mounts the host's Src at Dst inside (read-only in Spec.ReadOnly). When
// this process runs as root, bwrap runs as the host's nobody (65534) unless
// Config.AsRoot: Src must then be readable (writable, in Spec.ReadWrite) by
// nobody and its parent directories searchable; Start checks it.
type Bind struct{ Src, Dst string }

// Limits are a process's cgroup limits and the size of its /tmp. A zero
// MemoryBytes, Pids or CPUPercent means no limit. What the program writes to
// /tmp is memory of its cgroup too. There is no swap (memsw / swap.max).
type Limits struct {
	MemoryBytes int64
	// Pids caps the processes and threads of the program; bwrap's own init
	// (pid 1 of the sandbox) is added to it.
	Pids int
	// CPUPercent is the share of one core (0 = no cap; 200 = two cores).
	CPUPercent int
	TmpBytes   int64 // the size of the /tmp tmpfs, default 16 MiB
}

const nobodyID = 65534

// DefaultTmpBytes is the size of /tmp when Limits.TmpBytes is 0.
const DefaultTmpBytes = 16 << 20

// Spec is what to run.
type Spec struct {
	Argv     []string
	Env      []string // KEY=value; nothing else of the host's environment
	Dir      string   // the working directory inside, default "/"
	ReadOnly []Bind   // besides the system mounts
	// ReadWrite are writable binds (a build's output directory, say); the
	// source must be writable by HostUID.
	ReadWrite  []Bind
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
	// Signal names the signal that ended the program ("SIGKILL"), read from
	// bwrap's exit code 128+n (as a shell reports it): a program exiting with
	// such a code by itself reads the same.
	Signal string
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
	if fi, err := os.Stat(cfg.Bwrap); err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("sandbox: bubblewrap is not an executable at %s (%v)", cfg.Bwrap, err)
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
	if os.Geteuid() == 0 && !cfg.AsRoot {
		// Run bwrap as the host's nobody: the sandbox's uid then maps to
		// host uid 65534, not to root.
		s.cred = &syscall.Credential{Uid: nobodyID, Gid: nobodyID, Groups: []uint32{}}
	}
	err = s.probe()
	if err != nil && s.cred != nil {
		// Some hosts forbid unprivileged user namespaces (a sysctl, an
		// AppArmor restriction); root may still create them.
		s.cred = nil
		if rerr := s.probe(); rerr == nil {
			s.log.Warn("sandbox: bwrap cannot create user namespaces as the host's nobody; running it as root, so sandboxed programs run as host uid 0 in their user namespace (without capabilities)", "err", err)
			err = nil
		}
	}
	if err != nil {
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
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: s.cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("sandbox: bwrap cannot create a sandbox here (user, pid, network namespaces): %w: %s", err, firstLine(out))
	}
	return nil
}

// HostUID is the host uid the sandboxed programs run as: 65534 when this
// process is root (bwrap runs as nobody), else this process's uid.
func (s *Sandbox) HostUID() int {
	if s.cred != nil {
		return int(s.cred.Uid)
	}
	return os.Getuid()
}

// CgroupVersion is 1 or 2.
func (s *Sandbox) CgroupVersion() int { return s.cg.version }

// Close kills the processes that remain and removes the cgroups and the
// generated /etc.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.starting.Wait()
	s.mu.Lock()
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
	// closeStdin closes this package's end of the stdin pipe, if any.
	closeStdin func()

	done   chan struct{}
	exit   Exit
	events Events
}

// Start starts spec's program. It returns once the sandbox's first process
// is in its cgroup and released to set up and run the program. A failure of
// bwrap's setup inside (say, a binary missing) ends the process with code 1
// and bwrap's message on Stderr.
func (s *Sandbox) Start(spec Spec) (*Process, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("sandbox: Spec.Argv is empty")
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("sandbox: closed")
	}
	s.starting.Add(1)
	s.mu.Unlock()
	defer s.starting.Done()

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
	cmd.Stdout, cmd.Stderr = spec.Stdout, spec.Stderr
	// The process's end must not wait for a Stdin reader that never ends:
	// a reader other than a file is copied into a pipe this package closes
	// when the process ended.
	var stdinR, stdinW *os.File
	switch r := spec.Stdin.(type) {
	case nil:
	case *os.File:
		cmd.Stdin = r
	default:
		if stdinR, stdinW, err = os.Pipe(); err != nil {
			infoW.Close()
			blockR.Close()
			secR.Close()
			return nil, err
		}
		cmd.Stdin = stdinR
	}
	cmd.ExtraFiles = append(append([]*os.File{}, spec.ExtraFiles...), infoW, blockR, secR)
	// bwrap dies with this process; the sandbox dies with bwrap (--die-with-parent).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true, Credential: s.cred}
	err = cmd.Start()
	infoW.Close()
	blockR.Close()
	secR.Close()
	if stdinR != nil {
		stdinR.Close()
	}
	if err != nil {
		if stdinW != nil {
			stdinW.Close()
		}
		return nil, fmt.Errorf("run bwrap: %w", err)
	}
	if stdinW != nil {
		go func() {
			_, _ = io.Copy(stdinW, spec.Stdin)
			stdinW.Close()
		}()
	}
	closeStdin := func() {
		if stdinW != nil {
			stdinW.Close()
		}
	}

	// bwrap writes {"child-pid": N} once it cloned the sandbox's first
	// process, which then waits on the block fd before it runs anything.
	var info struct {
		ChildPid int `json:"child-pid"`
	}
	if err := json.NewDecoder(infoR).Decode(&info); err != nil || info.ChildPid <= 0 {
		_ = cmd.Process.Kill()
		closeStdin()
		werr := cmd.Wait()
		return nil, fmt.Errorf("bwrap did not start the sandbox: %v (%v)", werr, err)
	}
	// On failure from here on, the sandbox's first process is killed and
	// bwrap, which reaps it, exits by itself (killing bwrap first would
	// leave that process a zombie of the host's init).
	if err := cg.place(info.ChildPid); err != nil {
		_ = syscall.Kill(info.ChildPid, syscall.SIGKILL)
		closeStdin()
		_ = cmd.Wait()
		return nil, err
	}
	if _, err := blockW.Write([]byte{1}); err != nil {
		cg.killAll(5 * time.Second)
		closeStdin()
		_ = cmd.Wait()
		return nil, fmt.Errorf("release the sandbox: %w", err)
	}
	p := &Process{s: s, cmd: cmd, cg: cg, pid: info.ChildPid, closeStdin: closeStdin, done: make(chan struct{})}
	s.mu.Lock()
	s.procs[p] = struct{}{}
	s.mu.Unlock()
	go p.wait()
	s.log.Debug("sandbox: started", "pid", p.pid, "argv0", spec.Argv[0], "cgroup", cg.dirs[0])
	return p, nil
}

func (p *Process) wait() {
	// cmd.Stdin is a file (or nil): Wait waits for the output copies only,
	// which end once the sandbox's processes are gone.
	if err := p.cmd.Wait(); err != nil && !errors.As(err, new(*exec.ExitError)) {
		p.s.log.Warn("sandbox: wait", "err", err)
	}
	p.closeStdin()
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
	p.exit = exitOf(p.cmd.ProcessState, p.events, p.killed.Load())
	p.s.log.Debug("sandbox: ended", "pid", p.pid, "reason", p.exit.Reason, "code", p.exit.Code, "signal", p.exit.Signal)
	p.s.mu.Lock()
	delete(p.s.procs, p)
	p.s.mu.Unlock()
	close(p.done)
}

// exitOf applies the precedence oom > pids > killed > crash > "".
// A wait status that could not be read is reported as code -1.
func exitOf(st *os.ProcessState, ev Events, killed bool) Exit {
	if st == nil {
		return exitOfStatus(0, false, ev, killed)
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	return exitOfStatus(ws, ok, ev, killed)
}

func exitOfStatus(ws syscall.WaitStatus, known bool, ev Events, killed bool) Exit {
	var e Exit
	if known {
		switch {
		case ws.Signaled():
			e.Code = 128 + int(ws.Signal())
			e.Signal = signalName(ws.Signal())
		default:
			e.Code = ws.ExitStatus()
			if e.Code > 128 && e.Code < 128+65 {
				e.Signal = signalName(syscall.Signal(e.Code - 128))
			}
		}
	} else {
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
	// Killing the sandbox's init (always in the group) kills the whole pid
	// namespace; the loop in wait makes sure of the rest. bwrap outside
	// then reaps its child and exits: killing it too would leave that
	// child a zombie of the host's init.
	p.cg.killAll(0)
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

var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT", syscall.SIGILL: "SIGILL",
	syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE",
	syscall.SIGKILL: "SIGKILL", syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM", syscall.SIGSTKFLT: "SIGSTKFLT",
	syscall.SIGCHLD: "SIGCHLD", syscall.SIGCONT: "SIGCONT", syscall.SIGSTOP: "SIGSTOP", syscall.SIGTSTP: "SIGTSTP",
	syscall.SIGTTIN: "SIGTTIN", syscall.SIGTTOU: "SIGTTOU", syscall.SIGURG: "SIGURG", syscall.SIGXCPU: "SIGXCPU",
	syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGVTALRM: "SIGVTALRM", syscall.SIGPROF: "SIGPROF", syscall.SIGWINCH: "SIGWINCH",
	syscall.SIGIO: "SIGIO", syscall.SIGPWR: "SIGPWR", syscall.SIGSYS: "SIGSYS",
}

// signalName is "SIGKILL" for 9, "SIG42" for a signal without a name here.
func signalName(sig syscall.Signal) string {
	if n, ok := signalNames[sig]; ok {
		return n
	}
	return "SIG" + strconv.Itoa(int(sig))
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}
