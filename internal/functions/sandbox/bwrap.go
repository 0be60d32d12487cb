package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The sandbox's root is an empty tmpfs (bwrap's default), read-only once
// mounted, holding only /usr and the host's top-level links or binds into
// it (/bin, /sbin, /lib, /lib64, /lib32, /libx32), a generated /etc, /proc,
// /dev, a private size-limited /tmp and the Spec's read-only binds.

// Generated /etc files: nobody alone in passwd and group, name lookups in
// files only, loopback in hosts.
var generatedEtc = map[string]string{
	"passwd":        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
	"group":         "nogroup:x:65534:\n",
	"nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nprotocols: files\nservices: files\n",
	"hosts":         "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost ip6-loopback\n",
}

// Host /etc entries bound read-only when present: the loader's cache and
// configuration, the time zone and the CA certificates.
var hostEtc = []string{"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "ssl/certs"}

func writeEtc() (string, error) {
	dir, err := os.MkdirTemp("", "hks-sandbox-etc-")
	if err != nil {
		return "", fmt.Errorf("generate /etc: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("generate /etc: %w", err)
	}
	for name, content := range generatedEtc {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			_ = os.RemoveAll(dir)
			return "", fmt.Errorf("generate /etc: %w", err)
		}
	}
	return dir, nil
}

// rootLayout returns the bwrap arguments of the system mounts, following
// the host's layout (merged /usr: /bin -> usr/bin is a link here as there).
func rootLayout(etc string) []string {
	args := []string{"--ro-bind", "/usr", "/usr"}
	for _, top := range []string{"/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"} {
		args = append(args, hostEntry(top, top)...)
	}
	names := make([]string, 0, len(generatedEtc))
	for name := range generatedEtc {
		names = append(names, name)
	}
	sortStrings(names)
	for _, name := range names {
		args = append(args, "--ro-bind", filepath.Join(etc, name), "/etc/"+name)
	}
	for _, name := range hostEtc {
		args = append(args, hostEntry("/etc/"+name, "/etc/"+name)...)
	}
	return args
}

// hostEntry reproduces the host's src at dst: a symbolic link as the same
// link, anything else as a read-only bind; nothing when absent.
func hostEntry(src, dst string) []string {
	fi, err := os.Lstat(src)
	if err != nil {
		return nil
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return nil
		}
		return []string{"--symlink", target, dst}
	}
	return []string{"--ro-bind", src, dst}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// args builds bwrap's command line; a negative fd leaves its option out.
func (s *Sandbox) args(spec Spec, infoFd, blockFd, seccompFd int) ([]string, error) {
	args := []string{
		"--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
		"--cap-drop", "ALL", "--uid", "65534", "--gid", "65534", "--hostname", "sandbox",
	}
	args = append(args, s.layout...)
	tmp := spec.Limits.TmpBytes
	if tmp <= 0 {
		tmp = DefaultTmpBytes
	}
	args = append(args, "--proc", "/proc", "--dev", "/dev", "--size", strconv.FormatInt(tmp, 10), "--tmpfs", "/tmp")
	for _, b := range spec.ReadOnly {
		if !filepath.IsAbs(b.Src) || !filepath.IsAbs(b.Dst) || filepath.Clean(b.Dst) == "/" {
			return nil, fmt.Errorf("read-only bind %q -> %q: both paths must be absolute and the target not /", b.Src, b.Dst)
		}
		args = append(args, "--ro-bind", b.Src, filepath.Clean(b.Dst))
	}
	args = append(args, "--remount-ro", "/")
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	args = append(args, "--chdir", dir)
	if seccompFd >= 0 {
		args = append(args, "--seccomp", strconv.Itoa(seccompFd))
	}
	if infoFd >= 0 {
		args = append(args, "--info-fd", strconv.Itoa(infoFd))
	}
	if blockFd >= 0 {
		args = append(args, "--block-fd", strconv.Itoa(blockFd))
	}
	args = append(args, "--clearenv")
	for _, kv := range spec.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("environment entry %q is not KEY=value", kv)
		}
		args = append(args, "--setenv", k, v)
	}
	args = append(args, "--")
	return append(args, spec.Argv...), nil
}
