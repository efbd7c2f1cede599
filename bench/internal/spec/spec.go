// Package spec builds the seccomp filters of the benchmark, so that the
// bench program (which counts their instructions) and the victim (which
// installs them) use the very same rules.
package spec

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Magic is the argument that the conditional getppid rule of an uncached
// filter matches. The victims call getppid with arg0 = 0, so the rule never
// matches and the syscall is allowed, but only after the BPF program ran.
const Magic = 0xdead

// runtimeSyscalls are syscalls the Go runtime may make on any thread; no
// rule of a benchmark filter touches them, so that the victim keeps working
// on its filtered thread.
var runtimeSyscalls = []string{
	"read", "write", "close", "openat", "fstat", "newfstatat", "lseek", "ioctl",
	"mmap", "munmap", "mprotect", "madvise", "mincore", "brk",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"futex", "clone", "clone3", "exit", "exit_group", "wait4", "waitid",
	"gettid", "getpid", "getppid", "tgkill", "tkill", "kill",
	"nanosleep", "clock_nanosleep", "clock_gettime", "gettimeofday", "sched_yield",
	"sched_getaffinity", "getrlimit", "prlimit64", "setitimer",
	"timer_create", "timer_settime", "timer_delete", "getrandom", "uname",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"pipe2", "fcntl", "poll", "ppoll", "pselect6", "select", "restart_syscall",
	"membarrier", "set_robust_list", "rseq", "arch_prctl", "set_tid_address",
	"readlinkat", "execve", "prctl", "seccomp", "pidfd_open", "pidfd_send_signal",
}

// Filter returns the benchmark filter with n rules (n ≥ 1): Errno rules on
// syscall numbers the victim never uses, each with its own errno so that no
// two neighbours merge into one range of the binary search. getppid stays
// allowed. With uncached, one of the n rules is a conditional rule on
// getppid itself (Errno when arg0 == Magic): the kernel then cannot cache
// "getppid is allowed" (Linux 5.11+ caches syscalls a filter always allows)
// and runs the program on every call.
func Filter(n int, uncached bool) (*seccomp.Filter, error) {
	arch := syscalls.Native()
	if arch == nil {
		return nil, seccomp.ErrUnknownArch
	}
	if n < 1 {
		return nil, fmt.Errorf("spec: %d rules, want at least 1", n)
	}
	skip := make(map[int]bool)
	for _, name := range runtimeSyscalls {
		if nr, err := arch.Number(name); err == nil {
			skip[nr] = true
		}
	}
	f := &seccomp.Filter{Arch: arch}
	if uncached {
		getppid, err := arch.Number("getppid")
		if err != nil {
			return nil, err
		}
		f.Rules = append(f.Rules, seccomp.Rule{
			Syscall: getppid,
			Action:  seccomp.Errno(unix.EPERM),
			Conds:   []seccomp.Cond{seccomp.ArgEq(0, Magic)},
		})
	}
	// Spread the rules over the whole table, from the top down, so that
	// the search tree is as deep as n rules can make it.
	for nr := arch.MaxNumber(); nr >= 0 && len(f.Rules) < n; nr-- {
		if skip[nr] {
			continue
		}
		errno := unix.Errno(1 + len(f.Rules)%4000)
		f.Rules = append(f.Rules, seccomp.Rule{Syscall: nr, Action: seccomp.Errno(errno)})
	}
	if len(f.Rules) < n {
		return nil, fmt.Errorf("spec: only %d syscall numbers free for rules, want %d", len(f.Rules), n)
	}
	return f, nil
}

// Notify returns the filter of the reference supervisor's victim: getppid
// goes to the listener, everything else is allowed.
func Notify() (*seccomp.Filter, error) {
	r, err := seccomp.RuleByName(nil, "getppid", seccomp.Notify)
	if err != nil {
		return nil, err
	}
	return &seccomp.Filter{Rules: []seccomp.Rule{r}}, nil
}
