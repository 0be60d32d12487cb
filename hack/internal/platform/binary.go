package platform

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BinaryOptions adjust a server started from its binary.
type BinaryOptions struct {
	// Bin is the hks binary.
	Bin string
	// Args are added to `hks server --data-dir … --listen 127.0.0.1:0
	// --telemetry-listen 127.0.0.1:0`.
	Args []string
	// Log is where the server's log (stderr) goes; "" keeps it in the
	// temp dir, removed at Stop.
	Log string
	// Timeout per request of the client (0: 30 s).
	Timeout time.Duration
}

var (
	startedRE    = regexp.MustCompile(`"msg":"hks server started".*?"listen":"([^"]+)","telemetry":"([^"]+)"`)
	setupTokenRE = regexp.MustCompile(`"token":"([^"]+)"`)
)

// StartBinary runs `hks server` as its own process on 127.0.0.1:0 with a
// temp data dir (the environment's HKS_* variables left out), creates the
// first user through the API and signs in. Stop stops it (SIGTERM, then
// SIGKILL after a minute), kills by pid any process it started that is
// left (their command lines name the data dir) and removes the temp dir.
func StartBinary(ctx context.Context, o BinaryOptions) (_ *Platform, err error) {
	tmp, err := os.MkdirTemp("", "hks-bench-*")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	dataDir := filepath.Join(tmp, "data")
	logPath := o.Log
	if logPath == "" {
		logPath = filepath.Join(tmp, "server.log")
	}
	stdout, err := os.Create(filepath.Join(tmp, "server.out"))
	if err != nil {
		return nil, err
	}
	defer stdout.Close()
	stderr, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd := exec.Command(o.Bin, append([]string{"server", "--data-dir", dataDir, "--listen", "127.0.0.1:0",
		"--telemetry-listen", "127.0.0.1:0", "--log-format", "json"}, o.Args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HKS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", o.Bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() error {
		defer os.RemoveAll(tmp)
		var err error
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			err = errors.New("hks server did not stop within 1m after SIGTERM; killed")
			_ = cmd.Process.Kill()
			<-exited
		}
		// Its processes die with it (parent-death signal); make sure.
		for _, pid := range PIDsNaming(dataDir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		return err
	}
	defer func() {
		if err != nil {
			_ = stop()
		}
	}()
	var listen, telemetry string
	deadline := time.Now().Add(time.Minute)
	for listen == "" {
		select {
		case <-exited:
			b, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("hks server exited before it was ready:\n%s", b)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, errors.New("hks server did not log that it started within 1m")
		}
		b, _ := os.ReadFile(logPath)
		if m := startedRE.FindSubmatch(b); m != nil {
			listen, telemetry = string(m[1]), string(m[2])
		}
	}
	out, err := os.ReadFile(stdout.Name()) // printed before the start is logged
	if err != nil {
		return nil, err
	}
	m := setupTokenRE.FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("hks server printed no setup token:\n%s", out)
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: timeout}
	p := &Platform{Client: &Client{Base: "http://" + listen, HC: hc}, Telemetry: &Client{Base: "http://" + telemetry, HC: hc},
		DataDir: dataDir, PID: cmd.Process.Pid, stop: stop}
	if err := p.firstUser(ctx, string(m[1])); err != nil {
		return nil, err
	}
	return p, nil
}

// PIDsNaming are the live processes (not zombies) whose command line
// contains s.
func PIDsNaming(s string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(string(cmd), s) || !Alive(pid) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// Alive reports whether pid is a process that has not exited (a zombie
// has).
func Alive(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(st), ')')
	f := strings.Fields(string(st[i+1:]))
	return len(f) > 0 && f[0] != "Z"
}
