package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Where the machine's CPU time went during the measured window, from
// /proc (Linux only; best effort). The loader and the server share the
// machine, and anything else running on it skews the figures: Other says
// how much did.
type CPU struct {
	// Cores busy on average: the whole machine, this process (loader and
	// server), the throwaway PostgreSQL (postgres backend), and the rest.
	MachineCores  float64 `json:"machine_cores"`
	ProcessCores  float64 `json:"process_cores"`
	PostgresCores float64 `json:"postgres_cores"`
	OtherCores    float64 `json:"other_cores"`
	// StealCores is time the hypervisor ran something else while this VM
	// wanted the CPU (not part of MachineCores).
	StealCores float64 `json:"steal_cores"`
}

// clockTick is USER_HZ, the unit of /proc CPU times (100 on Linux).
const clockTick = 100

type cpuSnap struct {
	at           time.Time
	machine, own int64 // ticks
	pg, steal    int64
}

// snapCPU reads the counters; postmaster is 0 without PostgreSQL.
func snapCPU(postmaster int) (cpuSnap, error) {
	s := cpuSnap{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return s, errors.New("unexpected /proc/stat")
	}
	// user nice system idle iowait irq softirq steal: busy is all but
	// idle, iowait and steal.
	for i, v := range f[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/stat: %w", err)
		}
		switch i {
		case 3, 4:
		case 7:
			s.steal = n
		default:
			s.machine += n
		}
	}
	if s.own, _, err = procTicks("self"); err != nil {
		return s, err
	}
	if postmaster > 0 {
		// The postmaster with its reaped children, plus live children.
		self, children, err := procTicks(strconv.Itoa(postmaster))
		if err != nil {
			return s, err
		}
		s.pg = self + children
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			if ppid, err := procPPID(e.Name()); err == nil && ppid == postmaster {
				if t, _, err := procTicks(e.Name()); err == nil {
					s.pg += t
				}
			}
		}
	}
	return s, nil
}

// procStatFields returns the fields of /proc/<pid>/stat after the command.
func procStatFields(pid string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("unexpected /proc/pid/stat")
	}
	return strings.Fields(string(b[i+1:])), nil
}

// procTicks is utime+stime, and cutime+cstime, of a process.
func procTicks(pid string) (self, children int64, err error) {
	f, err := procStatFields(pid)
	if err != nil {
		return 0, 0, err
	}
	if len(f) < 15 {
		return 0, 0, errors.New("short /proc/pid/stat")
	}
	var v [4]int64
	for i := range v { // fields 14..17 of stat(5); f[0] is field 3
		if v[i], err = strconv.ParseInt(f[11+i], 10, 64); err != nil {
			return 0, 0, err
		}
	}
	return v[0] + v[1], v[2] + v[3], nil
}

func procPPID(pid string) (int, error) {
	f, err := procStatFields(pid)
	if err != nil || len(f) < 2 {
		return 0, errors.New("no ppid")
	}
	return strconv.Atoi(f[1])
}

// ourPostmaster finds the PID of the PostgreSQL that pgtest started for
// this process: its temp dir carries our PID in owner.pid.
func ourPostmaster() int {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "hks-pgtest-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
			continue
		}
		b, err = os.ReadFile(filepath.Join(d, "data", "postmaster.pid"))
		if err != nil {
			continue
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
			return pid
		}
	}
	return 0
}

func cpuBetween(a, b cpuSnap) *CPU {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return nil
	}
	cores := func(t int64) float64 { return round(float64(t) / clockTick / secs) }
	c := &CPU{MachineCores: cores(b.machine - a.machine), ProcessCores: cores(b.own - a.own), PostgresCores: cores(b.pg - a.pg),
		StealCores: cores(b.steal - a.steal)}
	c.OtherCores = round(max(0, c.MachineCores-c.ProcessCores-c.PostgresCores))
	return c
}
