package syscalls

import (
	"errors"
	"fmt"
)

var (
	// ErrUnknownSyscall matches every failed name lookup.
	ErrUnknownSyscall = errors.New("unknown syscall")
	// ErrNotOnArch matches a failed lookup of a name that another
	// architecture has, such as "open" on aarch64. Such an error matches
	// ErrUnknownSyscall too.
	ErrNotOnArch = errors.New("syscall does not exist on this architecture")
	// ErrUnknownArch matches a lookup of an unsupported architecture.
	ErrUnknownArch = errors.New("unknown architecture")
)

// UnknownSyscallError is the error of Arch.Number for a name the
// architecture does not have. It matches ErrUnknownSyscall, and
// ErrNotOnArch when Elsewhere is not empty.
type UnknownSyscallError struct {
	// Name is the name that was looked up.
	Name string
	// Arch is the architecture that lacks it.
	Arch *Arch
	// Elsewhere lists the architectures that have it.
	Elsewhere []*Arch
	// Hint is the syscall to use instead on Arch ("openat" for "open"), or
	// "" when there is no obvious one.
	Hint string
}

// Error returns `unknown syscall "opnat" on x86_64`, or
// `syscall "open" does not exist on aarch64 (use openat)`.
func (e *UnknownSyscallError) Error() string {
	if len(e.Elsewhere) == 0 {
		return fmt.Sprintf("unknown syscall %q on %s", e.Name, e.Arch)
	}
	msg := fmt.Sprintf("syscall %q does not exist on %s", e.Name, e.Arch)
	if e.Hint != "" {
		msg += " (use " + e.Hint + ")"
	}
	return msg
}

// Is reports whether target is ErrUnknownSyscall, or ErrNotOnArch when
// another architecture has the syscall.
func (e *UnknownSyscallError) Is(target error) bool {
	return target == ErrUnknownSyscall || (target == ErrNotOnArch && len(e.Elsewhere) > 0)
}

// replacements names, for a syscall that the generic (aarch64, riscv64)
// table lacks, the syscall that libc uses instead. The hint is given only
// when the replacement exists on the architecture; a test checks every entry.
var replacements = map[string]string{
	"access":       "faccessat",
	"alarm":        "setitimer",
	"chmod":        "fchmodat",
	"chown":        "fchownat",
	"creat":        "openat",
	"dup2":         "dup3",
	"epoll_create": "epoll_create1",
	"epoll_wait":   "epoll_pwait",
	"eventfd":      "eventfd2",
	"fork":         "clone",
	"futimesat":    "utimensat",
	"getdents":     "getdents64",
	"getpgrp":      "getpgid",
	"inotify_init": "inotify_init1",
	"lchown":       "fchownat",
	"link":         "linkat",
	"lstat":        "newfstatat",
	"mkdir":        "mkdirat",
	"mknod":        "mknodat",
	"open":         "openat",
	"pipe":         "pipe2",
	"poll":         "ppoll",
	"readlink":     "readlinkat",
	"rename":       "renameat2",
	"renameat":     "renameat2",
	"rmdir":        "unlinkat",
	"select":       "pselect6",
	"signalfd":     "signalfd4",
	"stat":         "newfstatat",
	"symlink":      "symlinkat",
	"time":         "clock_gettime",
	"unlink":       "unlinkat",
	"utime":        "utimensat",
	"utimes":       "utimensat",
	"vfork":        "clone",
}

func newUnknownSyscallError(a *Arch, name string) *UnknownSyscallError {
	e := &UnknownSyscallError{Name: name, Arch: a}
	for _, other := range arches {
		if other == a {
			continue
		}
		if _, ok := other.lookup(name); ok {
			e.Elsewhere = append(e.Elsewhere, other)
		}
	}
	if r, ok := replacements[name]; ok && len(e.Elsewhere) > 0 {
		if _, ok := a.lookup(r); ok {
			e.Hint = r
		}
	}
	return e
}
