package sandbox

import (
	"errors"
	"fmt"
	"slices"
	"syscall"

	elastic "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// This file holds Policy.Seccomp, the static policy: a filter of its own,
// stacked on the notification filter.
//
// Argument conditions of the sandbox's own kernel rules (TIOCSTI and
// TIOCLINUX, clone's namespace flags, set-ID modes, the run guard's pid
// arguments) are compiled by seccomp.Filter, not by go-seccomp-bpf: our
// compiler compares an argument the kernel reads as 32 bits on its low
// word (seccomp.ArgMaskedEq with lowWord), in the same program as the
// notification rules, and is tested against the kernel. go-seccomp-bpf
// compares all 64 bits and only serves the user's static policies, which
// seccomp.CompileStatic narrows to 32 bits where the kernel does.

// ErrSeccompDeniesExec is returned by Start (and Policy.CheckSeccomp) when
// Policy.Seccomp always refuses execve: the sandbox starts the command with
// it, after the static filter is in place.
var ErrSeccompDeniesExec = errors.New("the seccomp policy denies execve, which starts the command: allow execve")

// ParseSeccompPolicy reads a static policy in go-seccomp-bpf's YAML or
// JSON format for the native architecture (see seccomp.ParseStaticPolicy).
// Errors name the line and the problem, and match seccomp.ErrStaticPolicy.
func ParseSeccompPolicy(data []byte) (*elastic.Policy, error) {
	return seccomp.ParseStaticPolicy(data, syscalls.Native())
}

// sandboxENOSYS are the syscalls the isolation rules answer with ENOSYS so
// that libc falls back to clone and openat. When two stacked filters both
// answer an errno the kernel returns the newer filter's, the static one's,
// and an EPERM there would break the fallback (glibc's pthread_create
// gives up on clone3 unless it gets ENOSYS): the static policy lets them
// through to the notification filter while the isolation rules deny them.
var sandboxENOSYS = []string{"clone3", "openat2"}

// staticProgram compiles p.Seccomp for arch, nil when there is none.
func (p *Policy) staticProgram(arch *syscalls.Arch) (seccomp.Program, error) {
	if p.Seccomp == nil {
		return nil, nil
	}
	q := *p.Seccomp
	var enosys []string
	for _, name := range knownDeny(arch, sandboxENOSYS) {
		if !slices.Contains(p.AllowSyscalls, name) {
			enosys = append(enosys, name)
		}
	}
	if len(enosys) > 0 {
		q.Syscalls = append([]elastic.SyscallGroup{{Action: elastic.ActionAllow, Names: enosys}}, q.Syscalls...)
	}
	prog, err := seccomp.CompileStatic(&q, arch)
	if err != nil {
		return nil, fmt.Errorf("seccomp policy: %w", err)
	}
	execve, err := arch.Number(launcherSyscall)
	if err != nil {
		return nil, err
	}
	if ret, always := seccomp.StaticAlways(&q, arch, execve); always && denies(ret) {
		return nil, ErrSeccompDeniesExec
	}
	return prog, nil
}

// CheckSeccomp compiles Policy.Seccomp as Start will, to report a policy
// that cannot be enforced (a condition that cannot be compiled on a 32-bit
// argument, execve denied) before anything starts.
func (p *Policy) CheckSeccomp() error {
	_, err := p.staticProgram(syscalls.Native())
	return err
}

// SeccompDenies reports whether Policy.Seccomp answers every call of the
// syscall called name, whatever its arguments, with something other than
// allow or log, and names that answer ("errno", "kill_process"...). A
// handler on such a syscall is never called: the kernel applies the
// static filter's answer first.
func (p *Policy) SeccompDenies(name string) (action string, always bool) {
	if p.Seccomp == nil {
		return "", false
	}
	arch := syscalls.Native()
	nr, err := arch.Number(name)
	if err != nil {
		return "", false
	}
	ret, always := seccomp.StaticAlways(p.Seccomp, arch, nr)
	if !always || !denies(ret) {
		return "", false
	}
	return elastic.Action(ret &^ unix.SECCOMP_RET_DATA).String(), true
}

// denies reports whether the SECCOMP_RET_* value ret keeps the syscall
// from running as asked.
func denies(ret uint32) bool {
	switch ret & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_LOG:
		return false
	}
	return true
}

// staticLaunch is the helper's last step when the run has a static
// policy: install it, then execve the command. It is installed after the
// notification filter, right before the execve, so that it never sees
// the helper's own work (a policy may deny write, prctl, seccomp or mmap);
// between the two only the execve runs, made without allocating from
// pointers prepared beforehand. Go's syscall.Exec would also restore
// RLIMIT_NOFILE (prlimit64) after the install; prepareStatic has it done
// before.
type staticLaunch struct {
	prog       seccomp.Program
	path       *byte
	argv, envv []*byte
}

// prepareStatic readies the static launch of cfg, nil without a static
// policy. It runs before the notification filter is installed.
func prepareStatic(cfg *helperConfig) (*staticLaunch, error) {
	if len(cfg.Static) == 0 {
		return nil, nil
	}
	prog, err := seccomp.UnmarshalProgram(cfg.Static)
	if err != nil {
		return nil, fmt.Errorf("seccomp policy: %w", err)
	}
	s := &staticLaunch{prog: prog}
	if s.path, err = syscall.BytePtrFromString(cfg.Path); err != nil {
		return nil, fmt.Errorf("exec %s: %w", cfg.Path, err)
	}
	if s.argv, err = syscall.SlicePtrFromStrings(cfg.Args); err != nil {
		return nil, fmt.Errorf("exec %s: arguments: %w", cfg.Path, err)
	}
	if s.envv, err = syscall.SlicePtrFromStrings(cfg.Env); err != nil {
		return nil, fmt.Errorf("exec %s: environment: %w", cfg.Path, err)
	}
	// The Go runtime raised the soft RLIMIT_NOFILE at start-up, and
	// syscall.Exec puts the original back before its execve. An execve
	// of "" fails with ENOENT after that restore, which also tells the
	// runtime that nothing is left to restore.
	_ = syscall.Exec("", nil, nil)
	return s, nil
}

// install puts the static filter on the calling thread.
func (s *staticLaunch) install() error {
	if _, err := seccomp.Install(s.prog, seccomp.InstallOptions{}); err != nil {
		return fmt.Errorf("seccomp policy: %w", err)
	}
	return nil
}
