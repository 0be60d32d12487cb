package local

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// The sandboxed programs run as Sandbox.HostUID (the host's nobody when
// this process is root), so what they read of DataDir must be readable by
// others and the way to it searchable.

// mkdirShared creates dir (and its parents) 0755 whatever the umask.
func mkdirShared(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// mkdirTempShared is os.MkdirTemp with mode 0755 (not 0700).
func mkdirTempShared(parent, pattern string) (string, error) {
	dir, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// reachable checks that uid (in its own group: nobody's, or this
// process's) can search every directory from / down to path, following
// symbolic links, and read path. A negative uid (no sandbox) and root
// reach everything. The error names the first directory in the way:
// "cannot search /root (mode 0700, owner 0:0)".
func reachable(path string, uid int) error {
	if uid <= 0 {
		return nil
	}
	gid := uid
	if uid == os.Getuid() {
		gid = os.Getgid()
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("cannot reach it: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	may := func(p string, want uint32, verb string) error {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return fmt.Errorf("cannot %s %s: %w", verb, p, err)
		}
		perm := st.Mode & 0o777
		bits := perm & 7
		switch {
		case int(st.Uid) == uid:
			bits = perm >> 6
		case int(st.Gid) == gid:
			bits = (perm >> 3) & 7
		}
		if bits&want != want {
			return fmt.Errorf("cannot %s %s (mode %04o, owner %d:%d)", verb, p, perm, st.Uid, st.Gid)
		}
		return nil
	}
	for _, p := range []string{abs, real} { // the way to a link, and to its target
		for dir := p; dir != "/"; {
			dir = filepath.Dir(dir)
			if err := may(dir, 1, "search"); err != nil {
				return err
			}
		}
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("cannot reach it: %w", err)
	}
	if fi.IsDir() {
		return may(real, 5, "read")
	}
	return may(real, 4, "read")
}
