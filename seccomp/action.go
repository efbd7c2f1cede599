package seccomp

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// actionKind enumerates the SECCOMP_RET_* actions. The zero value is allow,
// so that the zero Action means Allow.
type actionKind uint8

const (
	kindAllow actionKind = iota
	kindNotify
	kindKillProcess
	kindKillThread
	kindLog
	kindErrno
	kindTrap
)

// maxErrno is the largest errno a SECCOMP_RET_ERRNO can carry: the kernel
// clamps the 16-bit data to MAX_ERRNO.
const maxErrno = 4095

// Action is what a filter does with a syscall: the SECCOMP_RET_* value the
// BPF program returns. It is a comparable value; the zero Action is Allow.
type Action struct {
	kind actionKind
	data uint32
}

var (
	// Allow runs the syscall (SECCOMP_RET_ALLOW). It is the zero Action.
	Allow = Action{kind: kindAllow}
	// Notify sends the syscall to the user-notification listener and waits
	// for its answer (SECCOMP_RET_USER_NOTIF, Linux 5.0+). Without a
	// listener the syscall fails with ENOSYS.
	Notify = Action{kind: kindNotify}
	// KillProcess kills the whole thread group with SIGSYS
	// (SECCOMP_RET_KILL_PROCESS, Linux 4.14+).
	KillProcess = Action{kind: kindKillProcess}
	// KillThread kills the calling thread only (SECCOMP_RET_KILL_THREAD).
	KillThread = Action{kind: kindKillThread}
	// Log runs the syscall after logging it to the audit log
	// (SECCOMP_RET_LOG, Linux 4.14+).
	Log = Action{kind: kindLog}
	// Trap skips the syscall and sends SIGSYS to the calling thread
	// (SECCOMP_RET_TRAP).
	Trap = Action{kind: kindTrap}
)

// Errno skips the syscall and makes it return -e (SECCOMP_RET_ERRNO with e
// as data). Errno(0) makes the syscall "succeed" with 0 without running it.
// e must be at most 4095 (MAX_ERRNO); Filter.Compile rejects larger values.
func Errno(e unix.Errno) Action {
	return Action{kind: kindErrno, data: uint32(e)}
}

// Ret returns the SECCOMP_RET_* value of a, including its data (the errno
// of an Errno action).
func (a Action) Ret() uint32 {
	switch a.kind {
	case kindNotify:
		return unix.SECCOMP_RET_USER_NOTIF
	case kindKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS
	case kindKillThread:
		return unix.SECCOMP_RET_KILL_THREAD
	case kindLog:
		return unix.SECCOMP_RET_LOG
	case kindErrno:
		return unix.SECCOMP_RET_ERRNO | a.data&unix.SECCOMP_RET_DATA
	case kindTrap:
		return unix.SECCOMP_RET_TRAP
	default:
		return unix.SECCOMP_RET_ALLOW
	}
}

// String returns a short lowercase name: "allow", "notify",
// "kill-process", "kill-thread", "log", "trap" or "errno(EPERM)".
func (a Action) String() string {
	switch a.kind {
	case kindNotify:
		return "notify"
	case kindKillProcess:
		return "kill-process"
	case kindKillThread:
		return "kill-thread"
	case kindLog:
		return "log"
	case kindTrap:
		return "trap"
	case kindErrno:
		if name := unix.ErrnoName(unix.Errno(a.data)); name != "" {
			return "errno(" + name + ")"
		}
		return fmt.Sprintf("errno(%d)", a.data)
	default:
		return "allow"
	}
}

// valid reports whether a can be encoded in a SECCOMP_RET_* value.
func (a Action) valid() error {
	if a.kind == kindErrno && a.data > maxErrno {
		return fmt.Errorf("errno %d out of range 0..%d", a.data, maxErrno)
	}
	if a.kind > kindTrap {
		return fmt.Errorf("unknown action kind %d", a.kind)
	}
	return nil
}

// ActionFromRet maps a SECCOMP_RET_* value, as returned by Program.Evaluate,
// back to its Action. It reports false for values no Action produces
// (SECCOMP_RET_TRACE, unknown actions, an errno above 4095).
func ActionFromRet(ret uint32) (Action, bool) {
	data := ret & unix.SECCOMP_RET_DATA
	var a Action
	switch ret & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW:
		a = Allow
	case unix.SECCOMP_RET_USER_NOTIF:
		a = Notify
	case unix.SECCOMP_RET_KILL_PROCESS:
		a = KillProcess
	case unix.SECCOMP_RET_KILL_THREAD:
		a = KillThread
	case unix.SECCOMP_RET_LOG:
		a = Log
	case unix.SECCOMP_RET_TRAP:
		a = Trap
	case unix.SECCOMP_RET_ERRNO:
		if data > maxErrno {
			return Action{}, false
		}
		return Errno(unix.Errno(data)), true
	default:
		return Action{}, false
	}
	if data != 0 {
		return Action{}, false
	}
	return a, true
}
