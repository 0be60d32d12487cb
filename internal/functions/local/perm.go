package local

import (
	"errors"
	"fmt"
	"io/fs"
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

// ownDataDir makes sure that dir is this process's alone: it creates it
// (0755) when absent; an existing one must be a real directory (not a
// symbolic link), owned by this process's effective user and writable by
// no one else, since the sandboxes of every tenant run the loaders and
// artifacts kept in it. Its subdirectories (loaders, artifacts, slots),
// when they exist, must be real directories too. The error names the path
// and what is wrong with it.
func ownDataDir(dir string, subdirs []string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err == nil {
		if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
			return err
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("data dir %s is a symbolic link, not a directory", dir)
	case !fi.IsDir():
		return fmt.Errorf("data dir %s is not a directory", dir)
	case !ok:
		return fmt.Errorf("data dir %s: cannot read its owner", dir)
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("data dir %s is owned by uid %d, not by this process's uid %d", dir, st.Uid, os.Geteuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("data dir %s is writable by others (mode %04o): it must not be group- or other-writable", dir, fi.Mode().Perm())
	}
	// Searchable by the sandbox's user, as it was created (reachable
	// checks the way to it).
	if err := os.Chmod(dir, fi.Mode().Perm()|0o755); err != nil {
		return err
	}
	for _, sub := range subdirs {
		p := filepath.Join(dir, sub)
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := mkdirShared(p); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s in the data dir is a symbolic link, not a directory", p)
		case !fi.IsDir():
			return fmt.Errorf("%s in the data dir is not a directory", p)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
	}
	return nil
}
