package sandbox

import (
	"encoding/binary"
	"fmt"
	"runtime"
)

// The seccomp filter is a classic BPF program over struct seccomp_data
// (nr u32 at 0, arch u32 at 4, instruction_pointer u64 at 8, args[6] u64 at 16),
// assembled here without cgo or libseccomp and handed to bwrap --seccomp as the
// raw sock_filter array.

const (
	auditArchX86_64  = 0xc000003e
	auditArchAArch64 = 0xc00000b7

	x32SyscallBit = 0x40000000

	retKillProcess = 0x80000000
	retErrno       = 0x00050000
	retAllow       = 0x7fff0000

	errnoEPERM  = 1
	errnoENOSYS = 38

	afPacket = 17

	// The clone flags that create namespaces (CLONE_NEWTIME, CLONE_NEWNS,
	// CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
	// CLONE_NEWPID, CLONE_NEWNET).
	cloneNamespaceFlags = 0x00000080 | 0x00020000 | 0x02000000 | 0x04000000 |
		0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

	offNr   = 0
	offArch = 4
	offArg0 = 16 // low 32 bits of args[0] on a little-endian machine
)

// classic BPF opcodes.
const (
	bpfLdWAbs = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfJeqK   = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfJgeK   = 0x35 // BPF_JMP | BPF_JGE | BPF_K
	bpfJsetK  = 0x45 // BPF_JMP | BPF_JSET | BPF_K
	bpfRetK   = 0x06 // BPF_RET | BPF_K
)

// sysTable holds the syscall numbers the filter refers to on one architecture.
type sysTable struct {
	arch        uint32
	x32         bool     // the architecture has the x32 ABI to refuse
	denied      []uint32 // answered EPERM
	clone       uint32
	clone3      uint32
	socket      uint32
	personality uint32
}

// The denied system calls, by name, for the report and the tests.
var deniedNames = []string{
	"mount", "umount2", "pivot_root", "chroot", "ptrace", "process_vm_readv", "process_vm_writev",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
	"perf_event_open", "keyctl", "add_key", "request_key", "unshare", "setns", "reboot", "swapon",
	"swapoff", "acct", "iopl", "ioperm", "userfaultfd", "open_by_handle_at", "name_to_handle_at",
	"quotactl", "quotactl_fd", "lookup_dcookie", "mount_setattr", "move_mount", "open_tree", "fsopen",
	"fsconfig", "fsmount", "fspick", "io_uring_setup", "io_uring_enter", "io_uring_register",
}

var sysNumbers = map[string]map[string]uint32{
	"amd64": {
		"mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "ptrace": 101,
		"process_vm_readv": 310, "process_vm_writev": 311, "kexec_load": 246, "kexec_file_load": 320,
		"init_module": 175, "finit_module": 313, "delete_module": 176, "bpf": 321, "perf_event_open": 298,
		"keyctl": 250, "add_key": 248, "request_key": 249, "unshare": 272, "setns": 308, "reboot": 169,
		"swapon": 167, "swapoff": 168, "acct": 163, "iopl": 172, "ioperm": 173, "userfaultfd": 323,
		"open_by_handle_at": 304, "name_to_handle_at": 303, "quotactl": 179, "quotactl_fd": 443,
		"lookup_dcookie": 212, "mount_setattr": 442, "move_mount": 429, "open_tree": 428, "fsopen": 430,
		"fsconfig": 431, "fsmount": 432, "fspick": 433, "io_uring_setup": 425, "io_uring_enter": 426,
		"io_uring_register": 427,
		"clone":             56, "clone3": 435, "socket": 41, "personality": 135,
	},
	"arm64": { // the generic table; arm64 has no iopl or ioperm
		"mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "ptrace": 117,
		"process_vm_readv": 270, "process_vm_writev": 271, "kexec_load": 104, "kexec_file_load": 294,
		"init_module": 105, "finit_module": 273, "delete_module": 106, "bpf": 280, "perf_event_open": 241,
		"keyctl": 219, "add_key": 217, "request_key": 218, "unshare": 97, "setns": 268, "reboot": 142,
		"swapon": 224, "swapoff": 225, "acct": 89, "userfaultfd": 282,
		"open_by_handle_at": 265, "name_to_handle_at": 264, "quotactl": 60, "quotactl_fd": 443,
		"lookup_dcookie": 18, "mount_setattr": 442, "move_mount": 429, "open_tree": 428, "fsopen": 430,
		"fsconfig": 431, "fsmount": 432, "fspick": 433, "io_uring_setup": 425, "io_uring_enter": 426,
		"io_uring_register": 427,
		"clone":             220, "clone3": 435, "socket": 198, "personality": 92,
	},
}

func tableFor(goarch string) (sysTable, error) {
	nums, ok := sysNumbers[goarch]
	if !ok {
		return sysTable{}, fmt.Errorf("seccomp filter: architecture %s is not supported (amd64 and arm64 are)", goarch)
	}
	t := sysTable{clone: nums["clone"], clone3: nums["clone3"], socket: nums["socket"], personality: nums["personality"]}
	switch goarch {
	case "amd64":
		t.arch, t.x32 = auditArchX86_64, true
	case "arm64":
		t.arch = auditArchAArch64
	}
	for _, n := range deniedNames {
		if nr, ok := nums[n]; ok {
			t.denied = append(t.denied, nr)
		}
	}
	return t, nil
}

// The personality values allowed: PER_LINUX, PER_LINUX32, UNAME26 with
// either, and the query 0xffffffff (the defaults Docker allows too).
var allowedPersonalities = []uint32{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

type insn struct {
	code   uint16
	jt, jf string // labels; "" = next instruction
	k      uint32
	label  string // a label naming this instruction
}

// seccompProgram returns the filter for the machine's architecture as the
// bytes bwrap --seccomp reads.
func seccompProgram() ([]byte, error) { return seccompProgramFor(runtime.GOARCH) }

func seccompProgramFor(goarch string) ([]byte, error) {
	t, err := tableFor(goarch)
	if err != nil {
		return nil, err
	}
	var p []insn
	add := func(i insn) { p = append(p, i) }
	add(insn{code: bpfLdWAbs, k: offArch})
	add(insn{code: bpfJeqK, k: t.arch, jf: "kill"})
	add(insn{code: bpfLdWAbs, k: offNr})
	if t.x32 {
		add(insn{code: bpfJgeK, k: x32SyscallBit, jt: "eperm"})
	}
	for _, nr := range t.denied {
		add(insn{code: bpfJeqK, k: nr, jt: "eperm"})
	}
	add(insn{code: bpfJeqK, k: t.clone, jt: "clone"})
	add(insn{code: bpfJeqK, k: t.clone3, jt: "enosys"})
	add(insn{code: bpfJeqK, k: t.socket, jt: "socket"})
	add(insn{code: bpfJeqK, k: t.personality, jt: "personality"})
	add(insn{code: bpfRetK, k: retAllow})

	add(insn{label: "clone", code: bpfLdWAbs, k: offArg0})
	add(insn{code: bpfJsetK, k: cloneNamespaceFlags, jt: "eperm", jf: "allow"})

	add(insn{label: "socket", code: bpfLdWAbs, k: offArg0})
	add(insn{code: bpfJeqK, k: afPacket, jt: "eperm", jf: "allow"})

	add(insn{label: "personality", code: bpfLdWAbs, k: offArg0})
	for _, v := range allowedPersonalities {
		add(insn{code: bpfJeqK, k: v, jt: "allow"})
	}
	add(insn{code: bpfRetK, k: retErrno | errnoEPERM})

	add(insn{label: "allow", code: bpfRetK, k: retAllow})
	add(insn{label: "eperm", code: bpfRetK, k: retErrno | errnoEPERM})
	add(insn{label: "enosys", code: bpfRetK, k: retErrno | errnoENOSYS})
	add(insn{label: "kill", code: bpfRetK, k: retKillProcess})

	labels := map[string]int{}
	for i, in := range p {
		if in.label != "" {
			labels[in.label] = i
		}
	}
	offset := func(from int, label string) (uint8, error) {
		if label == "" {
			return 0, nil
		}
		to, ok := labels[label]
		if !ok || to <= from || to-from-1 > 255 {
			return 0, fmt.Errorf("seccomp filter: bad jump to %q", label)
		}
		return uint8(to - from - 1), nil
	}
	out := make([]byte, 0, 8*len(p))
	for i, in := range p {
		jt, err := offset(i, in.jt)
		if err != nil {
			return nil, err
		}
		jf, err := offset(i, in.jf)
		if err != nil {
			return nil, err
		}
		out = binary.NativeEndian.AppendUint16(out, in.code)
		out = append(out, jt, jf)
		out = binary.NativeEndian.AppendUint32(out, in.k)
	}
	return out, nil
}
