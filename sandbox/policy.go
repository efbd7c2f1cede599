package sandbox

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Policy is what confines a command besides its handlers. The zero Policy
// adds nothing.
type Policy struct {
	// ReadOnlyPaths and ReadWritePaths are Landlock rules: read and
	// execute beneath each read-only path; also write, create and remove
	// beneath each read-write path. Once any is given, everything else on
	// the filesystem is denied to the command, including its own binary
	// and libraries unless listed.
	ReadOnlyPaths  []string
	ReadWritePaths []string
	// LandlockStrict makes Start fail when the kernel cannot enforce every
	// Landlock right; by default the rules degrade to what the kernel
	// supports (best effort).
	LandlockStrict bool

	// Deny lists syscalls answered with DenyErrno in the kernel filter,
	// never notified. See DefaultDenyList.
	Deny []string
	// DenyErrno is the errno of denied syscalls; 0 means EPERM.
	DenyErrno unix.Errno

	// MaxOpenFiles and MaxProcesses set RLIMIT_NOFILE and RLIMIT_NPROC
	// (soft and hard) when not 0. RLIMIT_NPROC counts every process of
	// the user, not only the command's.
	MaxOpenFiles uint64
	MaxProcesses uint64

	// AllowProcessGroups lets the command call setsid and setpgid. By
	// default they fail with EPERM in the kernel filter (unless a handler
	// is registered on them), so that every process of the run stays in
	// its process group, which the sandbox kills when the run ends.
	AllowProcessGroups bool
}

// groupSyscalls move a process out of the run's process group.
var groupSyscalls = []string{"setsid", "setpgid"}

// DefaultDenyList returns syscalls that a sandboxed program rarely needs and
// that widen the kernel's attack surface or escape confinement: mounts,
// tracing, kernel modules and kexec, BPF, perf, userfaultfd, io_uring (which
// bypasses seccomp), keyrings and namespace changes. Names the native
// architecture lacks are left out.
func DefaultDenyList() []string {
	return knownDeny(syscalls.Native(), []string{
		"mount", "umount2", "pivot_root", "fsopen", "fsmount", "fsconfig", "fspick", "move_mount", "open_tree", "mount_setattr",
		"ptrace", "process_vm_writev",
		"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
		"bpf", "perf_event_open", "userfaultfd",
		"io_uring_setup", "io_uring_enter", "io_uring_register",
		"add_key", "request_key", "keyctl",
		"setns", "unshare", "open_by_handle_at", "name_to_handle_at",
		"swapon", "swapoff", "acct", "quotactl", "syslog",
	})
}

// launcherSyscall is the syscall the helper starts the target with; the
// filter always traps it so that the supervisor knows when the target
// begins.
const launcherSyscall = "execve"

// buildFilter compiles the handlers' syscalls (notified) and the deny list
// (errno in the kernel).
func buildFilter(arch *syscalls.Arch, notify []int, p *Policy) (seccomp.Program, error) {
	errno := p.DenyErrno
	if errno == 0 {
		errno = unix.EPERM
	}
	execve, err := arch.Number(launcherSyscall)
	if err != nil {
		return nil, err
	}
	notified := map[int]bool{execve: true}
	for _, nr := range notify {
		notified[nr] = true
	}
	f := seccomp.Filter{Arch: arch, Default: seccomp.Allow}
	denied := map[int]bool{}
	for _, name := range p.Deny {
		nr, err := arch.Number(name)
		if err != nil {
			return nil, fmt.Errorf("deny list: %w", err)
		}
		if nr == execve {
			return nil, fmt.Errorf("deny list: %s cannot be denied: the sandbox starts the command with it (register a handler instead)", name)
		}
		if notified[nr] {
			return nil, fmt.Errorf("deny list: %s also has a handler: %w", name, ErrHandlerOnDenied)
		}
		if denied[nr] {
			continue
		}
		denied[nr] = true
		f.Rules = append(f.Rules, seccomp.Rule{Syscall: nr, Action: seccomp.Errno(errno)})
	}
	if !p.AllowProcessGroups {
		for _, name := range groupSyscalls {
			nr, err := arch.Number(name)
			if err != nil || notified[nr] || denied[nr] {
				continue
			}
			denied[nr] = true
			f.Rules = append(f.Rules, seccomp.Rule{Syscall: nr, Action: seccomp.Errno(unix.EPERM)})
		}
	}
	for nr := range notified {
		f.Rules = append(f.Rules, seccomp.Rule{Syscall: nr, Action: seccomp.Notify})
	}
	prog, err := f.Compile()
	if err != nil {
		return nil, fmt.Errorf("compile filter: %w", err)
	}
	return prog, nil
}

// knownDeny drops the names arch lacks.
func knownDeny(arch *syscalls.Arch, names []string) []string {
	var out []string
	for _, n := range names {
		if _, err := arch.Number(n); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func (p *Policy) rlimits() []rlimit {
	var out []rlimit
	if p.MaxOpenFiles > 0 {
		out = append(out, rlimit{Resource: unix.RLIMIT_NOFILE, Cur: p.MaxOpenFiles, Max: p.MaxOpenFiles})
	}
	if p.MaxProcesses > 0 {
		out = append(out, rlimit{Resource: unix.RLIMIT_NPROC, Cur: p.MaxProcesses, Max: p.MaxProcesses})
	}
	return out
}

func (p *Policy) landlock() *landlockConfig {
	if len(p.ReadOnlyPaths) == 0 && len(p.ReadWritePaths) == 0 {
		return nil
	}
	return &landlockConfig{ReadOnly: p.ReadOnlyPaths, ReadWrite: p.ReadWritePaths, Strict: p.LandlockStrict}
}
