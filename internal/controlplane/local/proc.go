package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Restart backoff of a crashed process: 1 s, doubling to 30 s; a process
// that ran for a minute starts over at 1 s.
const (
	restartMin    = time.Second
	restartMax    = 30 * time.Second
	restartStable = time.Minute
	// stopGrace is how long a process gets after SIGTERM.
	stopGrace = 10 * time.Second
	// maxLogSize: at start a log larger than this is moved to <log>.1.
	maxLogSize = 10 << 20
)

// procSpec describes one supervised program.
type procSpec struct {
	name    string // for logs and health: "kube-apiserver"
	path    string
	args    []string
	env     []string // added to a minimal environment
	logPath string
	pidPath string
}

// proc runs a procSpec and restarts it with backoff when it exits, until
// stop is called.
type proc struct {
	spec procSpec
	log  *slog.Logger

	mu       sync.Mutex
	pid      int
	restarts int
	lastExit string
	stopping bool
	wake     chan struct{} // closed by stop to end a backoff wait
	done     chan struct{} // closed when the supervising goroutine ends
}

// startProc kills a leftover of an earlier hks (found through the pid
// file), starts the program and supervises it.
func startProc(spec procSpec, log *slog.Logger) (*proc, error) {
	if err := killStale(spec.pidPath, spec.path); err != nil {
		return nil, err
	}
	p := &proc{spec: spec, log: log.With("process", spec.name), wake: make(chan struct{}), done: make(chan struct{})}
	cmd, err := p.launch()
	if err != nil {
		return nil, err
	}
	go p.supervise(cmd)
	return p, nil
}

// launch starts the program once.
func (p *proc) launch() (*exec.Cmd, error) {
	rotateLog(p.spec.logPath)
	lf, err := os.OpenFile(p.spec.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", p.spec.name, err)
	}
	defer lf.Close()
	cmd := exec.Command(p.spec.path, p.spec.args...)
	cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + filepath.Dir(p.spec.logPath)}, p.spec.env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// Its own process group (a terminal's ^C goes to hks, which stops it
	// in order), and SIGKILL when hks dies, so that an hks killed with
	// SIGKILL leaves no orphan behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.spec.name, err)
	}
	if err := writeFileAtomic(p.spec.pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("%s: write pid file: %w", p.spec.name, err)
	}
	p.mu.Lock()
	p.pid = cmd.Process.Pid
	p.mu.Unlock()
	p.log.Debug("started", "pid", cmd.Process.Pid)
	return cmd, nil
}

func (p *proc) supervise(cmd *exec.Cmd) {
	defer close(p.done)
	delay := restartMin
	for {
		started := time.Now()
		err := cmd.Wait()
		pid := cmd.Process.Pid
		p.mu.Lock()
		p.pid = 0
		stopping := p.stopping
		if !stopping {
			p.restarts++
			p.lastExit = exitText(err)
		}
		p.mu.Unlock()
		if stopping {
			removePidFile(p.spec.pidPath, pid)
			return
		}
		if time.Since(started) > restartStable {
			delay = restartMin
		}
		p.log.Warn("process exited; restarting", "after", delay, "exit", exitText(err), "log", p.spec.logPath)
		for {
			select {
			case <-p.wake:
				removePidFile(p.spec.pidPath, pid)
				return
			case <-time.After(delay):
			}
			delay = min(delay*2, restartMax)
			next, err := p.launch()
			if err == nil {
				cmd = next
				break
			}
			p.log.Error("restart failed", "err", err)
		}
	}
}

// removePidFile removes the pid file if it still names pid (a newer
// process may have written its own).
func removePidFile(path string, pid int) {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid) {
		_ = os.Remove(path)
	}
}

func exitText(err error) string {
	if err == nil {
		return "exited with status 0"
	}
	return err.Error()
}

// running reports whether the process is up, and its restart count and
// last exit.
func (p *proc) status() (running bool, restarts int, lastExit string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid != 0, p.restarts, p.lastExit
}

// stop ends the process (SIGTERM, then SIGKILL after stopGrace) and its
// supervision, and waits for both.
func (p *proc) stop() { p.stopWithin(stopGrace) }

// stopWithin sends SIGTERM and, after grace, SIGKILL; with no grace,
// SIGKILL at once.
func (p *proc) stopWithin(grace time.Duration) {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.stopping = true
	pid := p.pid
	close(p.wake)
	p.mu.Unlock()
	if pid != 0 {
		if grace <= 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		} else {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			select {
			case <-p.done:
				return
			case <-time.After(grace):
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	<-p.done
}

// killStale ends the process named in pidPath if it still runs path: the
// leftover of an hks that died without stopping it. A reused pid running
// something else is left alone.
func killStale(pidPath, path string) error {
	b, err := os.ReadFile(pidPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || !runs(pid, path) {
		return removeIfExists(pidPath)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for runs(pid, path) {
		if time.Now().After(deadline) {
			return fmt.Errorf("leftover process %d (%s) does not exit", pid, filepath.Base(path))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return removeIfExists(pidPath)
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// runs reports whether pid is a live (not zombie) process of the program
// at path.
func runs(pid int, path string) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(cmdline) == 0 {
		return false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	if string(argv0) != path {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

// rotateLog moves a log grown past maxLogSize to <log>.1.
func rotateLog(path string) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(path, path+".1")
	}
}

// waitFor polls check every interval until it succeeds or ctx ends; the
// error is the last check's.
func waitFor(ctx context.Context, interval time.Duration, check func(context.Context) error) error {
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}

// kill is stopWithin(0): SIGKILL at once.
func (p *proc) kill() { p.stopWithin(0) }
