package sandbox

import (
	"fmt"
	"slices"
	"strings"

	elastic "github.com/elastic/go-seccomp-bpf"
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
	// FilePaths, when not empty, is a Landlock layer of its own that
	// confines every file access but exec (reading, writing, creating,
	// removing, listing, truncating, device ioctls) to beneath these
	// paths; executing is not restricted by it. It is the kernel side of
	// an open policy's allow-list (--allow-path): the supervisor's
	// decisions then come second, never alone.
	FilePaths []string
	// LandlockStrict makes Start fail when the kernel cannot enforce every
	// Landlock right; by default the rules degrade to what the kernel
	// supports (best effort).
	LandlockStrict bool

	// Deny lists syscalls answered with DenyErrno in the kernel filter,
	// never notified. See DefaultDenyList.
	Deny []string
	// DenyErrno is the errno of denied syscalls; 0 means EPERM.
	DenyErrno unix.Errno

	// MaxOpenFiles and MaxUserProcesses set RLIMIT_NOFILE and
	// RLIMIT_NPROC (soft and hard) when not 0. RLIMIT_NPROC counts every
	// process of the user, not only the command's, and never holds a
	// root command: MaxProcesses is the limit of the run.
	MaxOpenFiles     uint64
	MaxUserProcesses uint64

	// MaxProcesses, when not 0, caps the tasks of the run at once: the
	// command and all its descendants. Kernel first: the run gets a
	// cgroup of the pids controller beneath the supervisor's own (cgroup
	// v1 or v2; root, or a delegated v2 subtree) with pids.max set, and
	// fork, vfork and clone are not trapped; a creation past the cap
	// fails with EAGAIN in the kernel. The pids controller counts tasks:
	// every thread counts, as a process does. Where no cgroup can be
	// made, the supervisor traps fork, vfork, clone and clone3 and
	// counts the processes of the run's process group instead
	// (handler/proclimit; threads are not counted), and a fork a signal
	// interrupts before the supervisor received it fails with EINTR,
	// which real fork never does. ProcessLimit chooses; Cmd.ProcessCounter
	// tells which was used.
	MaxProcesses int
	// CountProcesses asks for the run's peak (Cmd.ProcessPeak) even
	// without MaxProcesses: the run gets a pids cgroup with no limit, or
	// the trap counts (proclimit.NewCounter).
	CountProcesses bool
	// ProcessLimit chooses how MaxProcesses and CountProcesses are
	// enforced; the zero value, ProcessLimitAuto, takes a pids cgroup
	// when one can be made and the trap otherwise.
	ProcessLimit ProcessLimitMode

	// Identity is who the command is to the host; the zero value,
	// IdentityProtected, drops every capability and puts the system
	// areas out of write reach. See Identity.
	Identity Identity
	// CapAdd names capabilities the command keeps ("CAP_NET_RAW" or
	// "net_raw"); every other is dropped from every set (effective,
	// permitted, inheritable, ambient, bounding). The supervisor must
	// have them. Ignored with IdentityHostRoot, which keeps them all.
	CapAdd []string
	// AllowSyscalls takes syscalls out of the kernel-side isolation
	// rules (DefaultDenyList, clone3, openat2, and "clone" for clone
	// with CLONE_NEW* flags, "ioctl" for TIOCSTI and TIOCLINUX, "chmod"
	// for set-user-ID and set-group-ID modes). Each widens the
	// command's reach into the kernel or the host.
	AllowSyscalls []string
	// AllowUnix names unix sockets outside the run that the command may
	// connect and send to: a socket file, a directory (every socket
	// beneath it), or "@name" for an abstract one (which the Landlock
	// abstract-socket scope still refuses where the kernel has it). By
	// default only sockets that a process of the run holds are reachable
	// by address; socketpair and inherited sockets are not affected.
	AllowUnix []string

	// TCPConnectPorts and TCPBindPorts, when not nil, are Landlock
	// network rules (ABI 4, Linux 6.7): TCP connect (bind) is allowed
	// only to (on) the listed ports, on any address; an empty, non-nil
	// list allows none. They are the kernel layer under a network policy
	// handler (netpolicy.Policy.TCPPorts), which decides the addresses;
	// UDP and other protocols are not covered. Older kernels: ignored.
	TCPConnectPorts, TCPBindPorts []uint16
	// ExecPaths, when not nil, is a Landlock rule: the execute right
	// only beneath these paths, the command itself, its #! interpreters
	// and the ELF interpreters (dynamic loaders) of the command and of
	// the listed files. It is the kernel layer under an exec policy
	// handler; see docs/security.md for what it cannot stop (a loader
	// run on a file).
	ExecPaths []string

	// AllowProcessGroups lets the command call setsid. By default it
	// fails with EPERM in the kernel filter, before any handler, so that
	// every process of the run stays in the run's session, which the
	// sandbox kills when the run ends (setpgid, for job control, moves a
	// process only within its session and is allowed).
	AllowProcessGroups bool

	// Seccomp, when not nil, is a static policy in elastic/go-seccomp-bpf's
	// format (ParseSeccompPolicy reads its YAML or JSON), enforced by the
	// kernel as a filter of its own stacked on the sandbox's: the kernel
	// runs both and applies the most restrictive answer (kill, then trap,
	// errno, notification, allow). A handler on a syscall it always
	// denies is never called (Policy.SeccompDenies tells). Conditions on
	// 32-bit arguments compare the low word, as the kernel reads them. It
	// must allow execve, the last call of the sandbox's launch; it is
	// installed right before it, so nothing else of the launch is
	// subject to it. Where both filters fail a call with an errno, the
	// policy's wins, except for clone3 and openat2: the sandbox's ENOSYS
	// stands so that libc falls back to clone and openat. See static.go.
	Seccomp *elastic.Policy
}

// sessionSyscalls move a process out of the run's session.
var sessionSyscalls = []string{"setsid"}

// defaultDeny is the deny set of Docker's default seccomp profile (the
// syscalls it allows only with a capability a container does not get, or
// never), less what our capabilities already settle and plus what it
// lacks: mounts, tracing and other processes' memory, kernel modules and
// kexec, BPF, perf, userfaultfd, io_uring (its requests bypass seccomp),
// keyrings, namespaces, file handles (they bypass path checks).
var defaultDeny = []string{
	"mount", "umount", "umount2", "pivot_root", "fsopen", "fsmount", "fsconfig", "fspick",
	"move_mount", "open_tree", "open_tree_attr", "mount_setattr",
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"create_module", "query_module", "get_kernel_syms", "reboot",
	"bpf", "perf_event_open", "userfaultfd", "lookup_dcookie", "nfsservctl",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"add_key", "request_key", "keyctl",
	"setns", "unshare", "open_by_handle_at", "name_to_handle_at",
	"swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
	"iopl", "ioperm", "uselib", "ustat", "sysfs", "_sysctl", "vm86", "vm86old", "vhangup",
}

// DefaultDenyList returns the syscalls the kernel filter fails with EPERM
// on every run unless Policy.AllowSyscalls names them: what a sandboxed
// program rarely needs and what widens the kernel's attack surface or
// escapes confinement (see defaultDeny). Names the native architecture
// lacks are left out.
func DefaultDenyList() []string {
	return knownDeny(syscalls.Native(), defaultDeny)
}

// launcherSyscall is the syscall the helper starts the target with; the
// filter always traps it so that the supervisor knows when the target
// begins.
const launcherSyscall = "execve"

// buildFilter compiles the isolation rules, the deny list (errno in the
// kernel) and the handlers' syscalls (notified), in that order: a handler
// sees only the calls the isolation rules let through, and a handler on a
// syscall they always deny is never called.
//
// extra rules go after the isolation rules and before the rest.
func buildFilter(arch *syscalls.Arch, notify []int, p *Policy, extra ...seccomp.Rule) (seccomp.Program, error) {
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
	iso, err := isolationRules(arch, p)
	if err != nil {
		return nil, err
	}
	denied := map[int]bool{} // unconditionally
	for _, r := range iso {
		if len(r.Conds) == 0 {
			if r.Syscall == execve {
				continue
			}
			denied[r.Syscall] = true
		}
		f.Rules = append(f.Rules, r)
	}
	for _, r := range extra {
		if !denied[r.Syscall] {
			f.Rules = append(f.Rules, r)
		}
	}
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
	for nr := range notified {
		if !denied[nr] {
			f.Rules = append(f.Rules, seccomp.Rule{Syscall: nr, Action: seccomp.Notify})
		}
	}
	prog, err := f.Compile()
	if err != nil {
		return nil, fmt.Errorf("compile filter: %w", err)
	}
	return prog, nil
}

// cloneNamespaceFlags are the clone flags that make a new namespace; a new
// user namespace gives every capability inside it, and the others need
// one. (CLONE_NEWTIME exists only for clone3 and unshare, both denied.)
var cloneNamespaceFlags = []uint64{
	unix.CLONE_NEWNS, unix.CLONE_NEWCGROUP, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC,
	unix.CLONE_NEWUSER, unix.CLONE_NEWPID, unix.CLONE_NEWNET,
}

// terminalInjection are the ioctl requests that push input into a
// terminal (TIOCSTI) or drive the console (TIOCLINUX, which can paste).
var terminalInjection = []uint64{unix.TIOCSTI, unix.TIOCLINUX}

// setIDMode gives, per syscall, the argument holding a file mode and the
// one holding open flags (-1: the mode always applies). A set-user-ID or
// set-group-ID mode on a file the command owns would hand its identity to
// whoever runs the file later. openat2's mode is in memory: openat2 is
// denied (ENOSYS) instead.
var setIDMode = map[string]struct{ mode, flags int }{
	"chmod": {1, -1}, "fchmod": {1, -1}, "fchmodat": {2, -1}, "fchmodat2": {2, -1},
	"creat": {1, -1}, "mknod": {1, -1}, "mknodat": {2, -1},
	"open": {2, 1}, "openat": {3, 2},
}

// createFlags make open use its mode argument.
var createFlags = []uint64{unix.O_CREAT, unix.O_TMPFILE}

// lowWord compares an argument the kernel reads as a 32-bit int: the upper
// half of the register is ignored, as the kernel ignores it. The sandbox's
// kernel-side argument conditions all go through seccomp.Filter for that
// reason, never through go-seccomp-bpf, which compares 64 bits (static.go).
const lowWord = 0xffffffff

// isolationRules returns the kernel-side isolation rules of p, first in the
// filter: the default deny list, namespace flags of clone, clone3 and
// openat2 (ENOSYS, so that libc falls back to clone and openat, whose
// arguments are in registers), terminal injection, and set-ID modes.
// Policy.AllowSyscalls takes names out.
func isolationRules(arch *syscalls.Arch, p *Policy) ([]seccomp.Rule, error) {
	allowed := map[string]bool{}
	for _, name := range p.AllowSyscalls {
		if _, err := arch.Number(name); err != nil {
			return nil, fmt.Errorf("allowed syscalls: %w", err)
		}
		if isolation := IsolationSyscalls(); !slices.Contains(isolation, name) {
			return nil, fmt.Errorf("allowed syscalls: %s is not denied by the sandbox (the isolation rules cover %s)", name, strings.Join(isolation, ", "))
		}
		allowed[name] = true
	}
	var rules []seccomp.Rule
	add := func(name string, action seccomp.Action, conds ...seccomp.Cond) {
		if allowed[name] {
			return
		}
		if nr, err := arch.Number(name); err == nil {
			rules = append(rules, seccomp.Rule{Syscall: nr, Action: action, Conds: conds})
		}
	}
	eperm := seccomp.Errno(unix.EPERM)
	for _, name := range defaultDeny {
		add(name, eperm)
	}
	if !p.AllowProcessGroups {
		for _, name := range sessionSyscalls {
			add(name, eperm)
		}
	}
	add("clone3", seccomp.Errno(unix.ENOSYS))
	add("openat2", seccomp.Errno(unix.ENOSYS))
	for _, flag := range cloneNamespaceFlags {
		add("clone", eperm, seccomp.ArgMaskedEq(0, flag, flag))
	}
	for _, req := range terminalInjection {
		add("ioctl", eperm, seccomp.ArgMaskedEq(1, lowWord, req))
	}
	if p.Identity != IdentityHostRoot && !allowed["chmod"] {
		names := make([]string, 0, len(setIDMode))
		for name := range setIDMode {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			arg := setIDMode[name]
			for _, bit := range []uint64{unix.S_ISUID, unix.S_ISGID} {
				mode := seccomp.ArgMaskedEq(arg.mode, bit, bit)
				if arg.flags < 0 {
					add(name, eperm, mode)
					continue
				}
				for _, create := range createFlags {
					add(name, eperm, mode, seccomp.ArgMaskedEq(arg.flags, create, create))
				}
			}
		}
	}
	return rules, nil
}

// IsolationSyscalls returns the names Policy.AllowSyscalls accepts: those
// of DefaultDenyList and clone3, openat2, clone, ioctl and chmod.
func IsolationSyscalls() []string {
	names := append(DefaultDenyList(), knownDeny(syscalls.Native(), []string{"clone3", "openat2", "clone", "ioctl", "chmod"})...)
	slices.Sort(names)
	return slices.Compact(names)
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
	if p.MaxUserProcesses > 0 {
		out = append(out, rlimit{Resource: unix.RLIMIT_NPROC, Cur: p.MaxUserProcesses, Max: p.MaxUserProcesses})
	}
	return out
}

func (p *Policy) landlock() *landlockConfig {
	if len(p.ReadOnlyPaths) == 0 && len(p.ReadWritePaths) == 0 && len(p.FilePaths) == 0 {
		return nil
	}
	return &landlockConfig{ReadOnly: p.ReadOnlyPaths, ReadWrite: p.ReadWritePaths, Files: p.FilePaths, Strict: p.LandlockStrict}
}
