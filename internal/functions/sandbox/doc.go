// Package sandbox runs one process under bubblewrap with cgroup limits and a
// seccomp filter, and says why it ended. It knows nothing of functions.
//
// Each process gets its own user, pid, ipc, uts, cgroup and network
// namespaces (an empty network namespace: no egress), runs as nobody
// (65534) without capabilities, in a new session, and sees a read-only root
// holding only /usr (and the host's /bin, /sbin, /lib* links or binds), a
// generated minimal /etc, /proc, /dev, a private size-limited /tmp and the
// read-only binds its Spec names: nothing else of the host.
//
// The package owns the Sandbox's parent cgroup ("hks-fn" by default, cgroup v1
// or v2 detected) and one child group per Process holding its memory, pids
// and CPU limits. bwrap's --info-fd and --block-fd let the sandbox's first
// process be placed in the group before it runs anything, so no process of
// the sandbox ever runs outside it. The seccomp filter is a classic BPF
// program assembled here (no cgo, no libseccomp) for amd64 and arm64.
//
// Exit reasons, in precedence: "oom" (an OOM kill was counted), "pids" (the
// pids limit was hit and the process died), "killed" (Kill was called),
// "crash" (non-zero exit or a signal), "" (exit 0).
package sandbox
