package seccomp

// This is the only file of the package with raw syscalls and unsafe.

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// InstallOptions tune Install.
type InstallOptions struct {
	// Listener asks for a user-notification listener fd
	// (SECCOMP_FILTER_FLAG_NEW_LISTENER, Linux 5.0+), needed when the
	// program returns Notify. Install also asks for
	// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19+), so that once the
	// supervisor has received a notification only a fatal signal interrupts
	// the trapped syscall, and goes on without it on older kernels.
	Listener bool

	// WaitKillableRecv chooses whether a filter with a listener waits
	// killably (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV): FlagIfSupported
	// (the zero value) asks for it and goes on without it where the
	// kernel refuses it; FlagRequired fails there instead; FlagOff never
	// asks. InstallReport tells which flags the filter got.
	WaitKillableRecv FlagChoice

	// NoNewPrivs is accepted for callers that want to say it: Install
	// always sets no_new_privs, whatever its value, because an unprivileged
	// process cannot install a filter without it and a set-user-ID program
	// started under a filter could otherwise gain privileges.
	NoNewPrivs bool
}

// Install sets no_new_privs and installs p as a seccomp filter on the
// calling thread only (no SECCOMP_FILTER_FLAG_TSYNC). The filter is
// inherited by threads and processes the thread creates afterwards, and
// kept across execve. It cannot be removed.
//
// The caller must have locked the goroutine to its OS thread
// (runtime.LockOSThread) and must not unlock it: the Go scheduler would
// otherwise run other goroutines on the filtered thread, or this one on an
// unfiltered thread. Install makes no allocation on success, so it is safe
// in a helper right before execve.
//
// With opts.Listener it returns the listener fd, created close-on-exec;
// otherwise -1. Errors wrap the errno, e.g. unix.EACCES, unix.EBUSY (the
// thread already has a filter with a listener) or unix.EINVAL.
func Install(p Program, opts InstallOptions) (listenerFD int, err error) {
	r, err := InstallReport(p, opts)
	return r.ListenerFD, err
}

// FlagChoice is whether Install asks for an optional filter flag.
type FlagChoice int

// Choices of an optional filter flag.
const (
	// FlagIfSupported asks for the flag and installs without it where the
	// kernel refuses it.
	FlagIfSupported FlagChoice = iota
	// FlagRequired asks for the flag and fails where the kernel refuses it.
	FlagRequired
	// FlagOff does not ask for the flag.
	FlagOff
)

// Installed is what InstallReport installed.
type Installed struct {
	// ListenerFD is the listener, -1 without InstallOptions.Listener.
	ListenerFD int
	// Flags are the SECCOMP_FILTER_FLAG_* bits the filter was installed
	// with.
	Flags uint
}

// WaitKillableRecv reports whether the filter waits killably
// (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV): what notif.WaitKillableRecv
// tells a Listener of it.
func (i Installed) WaitKillableRecv() bool {
	return i.Flags&unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0
}

// InstallReport is Install that also reports the flags the filter got, so
// that a caller need not guess whether a FlagIfSupported flag was taken.
// Like Install it makes no allocation on success.
func InstallReport(p Program, opts InstallOptions) (Installed, error) {
	none := Installed{ListenerFD: -1}
	if len(p) == 0 || len(p) > MaxInstructions {
		return none, fmt.Errorf("seccomp install: %w: %d instructions, want 1..%d", ErrInvalidProgram, len(p), MaxInstructions)
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return none, fmt.Errorf("seccomp install: prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	}
	fprog := unix.SockFprog{Len: uint16(len(p)), Filter: &p[0]}
	if !opts.Listener {
		if _, e := seccompSetModeFilter(0, &fprog); e != 0 {
			return none, fmt.Errorf("seccomp install: %w", e)
		}
		return none, nil
	}
	flags := uint(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER)
	if opts.WaitKillableRecv != FlagOff {
		flags |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	}
	fd, e := seccompSetModeFilter(uintptr(flags), &fprog)
	if e == unix.EINVAL && opts.WaitKillableRecv == FlagIfSupported {
		// Before 5.19 the kernel rejects the unknown flag.
		flags &^= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
		fd, e = seccompSetModeFilter(uintptr(flags), &fprog)
	}
	if e != 0 {
		return none, fmt.Errorf("seccomp install: %w", e)
	}
	return Installed{ListenerFD: fd, Flags: flags}, nil
}

// seccompSetModeFilter is seccomp(SECCOMP_SET_MODE_FILTER, flags, prog).
func seccompSetModeFilter(flags uintptr, prog *unix.SockFprog) (int, unix.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(prog)))
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}
