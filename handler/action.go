package handler

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// ActionKind says what an Action does.
type ActionKind uint8

// The kinds of Action. The zero ActionKind is invalid, so that a zero Action
// returned by mistake gets the exception policy.
const (
	kindInvalid ActionKind = iota
	// KindContinue lets the syscall run in the kernel.
	KindContinue
	// KindErrno fails the syscall with an errno.
	KindErrno
	// KindReturnValue makes the syscall return a value without running.
	KindReturnValue
	// KindKill kills the trapped process with SIGKILL.
	KindKill
	// KindInjectFD installs a supervisor fd in the process and returns its
	// number as the syscall's result.
	KindInjectFD
	// KindHold leaves the notification pending, to be answered through a
	// Responder.
	KindHold
)

var kindNames = [...]string{"invalid", "continue", "errno", "return", "kill", "inject-fd", "hold"}

func (k ActionKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("ActionKind(%d)", k)
}

// maxErrno is the largest errno a syscall can return (MAX_ERRNO).
const maxErrno = 4095

// Action is a handler's answer to one trapped syscall. Build it with the
// constructors; the zero Action is invalid.
type Action struct {
	kind  ActionKind
	value int64 // errno, return value or fd
	flags uint32
}

// Continue lets the syscall run in the kernel as if it had not been trapped.
// In a chain, the next handler is asked. The kernel re-reads the child's
// memory when the syscall runs, so Continue after inspecting a pointer
// argument is never a security decision.
func Continue() Action { return Action{kind: KindContinue} }

// Errno fails the syscall with errno e (1..4095).
func Errno(e unix.Errno) Action { return Action{kind: KindErrno, value: int64(e)} }

// ReturnValue makes the syscall return v without running it.
func ReturnValue(v int64) Action { return Action{kind: KindReturnValue, value: v} }

// Kill kills the trapped process with SIGKILL; the syscall never returns.
func Kill() Action { return Action{kind: KindKill} }

// InjectFD installs a copy of the supervisor's fd in the trapped process and
// makes the syscall return its number there (ADDFD with SEND, Linux 5.14+).
// flags may be 0 or unix.O_CLOEXEC for the new descriptor.
//
// The Action takes ownership of fd: the dispatcher closes the supervisor's
// copy after the injection, whether it succeeded or not.
func InjectFD(fd int, flags int) Action {
	return Action{kind: KindInjectFD, value: int64(fd), flags: uint32(flags)}
}

// Hold leaves the notification pending after the handler returns. The
// handler must first take the Ctx's Responder and answer through it later;
// Hold without a Responder is invalid.
func Hold() Action { return Action{kind: KindHold} }

// Kind returns what the action does.
func (a Action) Kind() ActionKind { return a.kind }

// Errno returns the errno of an Errno action.
func (a Action) Errno() unix.Errno {
	if a.kind != KindErrno {
		return 0
	}
	return unix.Errno(a.value)
}

// Value returns the return value of a ReturnValue action, or the fd of an
// InjectFD action.
func (a Action) Value() int64 { return a.value }

// Valid reports whether the action can be sent, and why not.
func (a Action) Valid() error {
	switch a.kind {
	case KindContinue, KindReturnValue, KindKill, KindHold:
		return nil
	case KindErrno:
		if a.value <= 0 || a.value > maxErrno {
			return fmt.Errorf("errno %d out of range 1..%d", a.value, maxErrno)
		}
		return nil
	case KindInjectFD:
		if a.value < 0 || a.value > 1<<31-1 {
			return fmt.Errorf("inject-fd: invalid fd %d", a.value)
		}
		if a.flags&^unix.O_CLOEXEC != 0 {
			return fmt.Errorf("inject-fd: flags %#x: only O_CLOEXEC is allowed", a.flags)
		}
		return nil
	}
	return fmt.Errorf("invalid action (kind %d)", a.kind)
}

// String describes the action: "continue", "errno:EPERM", "return:777",
// "kill", "inject-fd:5", "hold".
func (a Action) String() string {
	switch a.kind {
	case KindErrno:
		name := unix.ErrnoName(unix.Errno(a.value))
		if name == "" {
			return fmt.Sprintf("errno:%d", a.value)
		}
		return "errno:" + name
	case KindReturnValue:
		return fmt.Sprintf("return:%d", a.value)
	case KindInjectFD:
		return fmt.Sprintf("inject-fd:%d", a.value)
	}
	return a.kind.String()
}

// ExceptionPolicy is what a trapped syscall gets when its handler panics or
// returns an invalid Action. The values are stable.
type ExceptionPolicy int

// The exception policies.
const (
	// ExceptionKill kills the trapped process (fail-closed; the default).
	ExceptionKill ExceptionPolicy = 0
	// ExceptionDenyEPERM fails the syscall with EPERM.
	ExceptionDenyEPERM ExceptionPolicy = 1
	// ExceptionContinue acts as if the handler had returned Continue: the
	// next handler in the chain is asked, and the syscall runs if none
	// answers.
	ExceptionContinue ExceptionPolicy = 2
	// ExceptionDenyEIO fails the syscall with EIO.
	ExceptionDenyEIO ExceptionPolicy = 3
)

func (p ExceptionPolicy) String() string {
	switch p {
	case ExceptionKill:
		return "kill"
	case ExceptionDenyEPERM:
		return "eperm"
	case ExceptionContinue:
		return "continue"
	case ExceptionDenyEIO:
		return "eio"
	}
	return fmt.Sprintf("ExceptionPolicy(%d)", int(p))
}

// ParseExceptionPolicy parses the String form ("kill", "eperm", "continue",
// "eio").
func ParseExceptionPolicy(s string) (ExceptionPolicy, error) {
	for p := ExceptionKill; p <= ExceptionDenyEIO; p++ {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown exception policy %q (want kill, eperm, continue or eio)", s)
}

// action returns the answer the policy gives.
func (p ExceptionPolicy) action() Action {
	switch p {
	case ExceptionDenyEPERM:
		return Errno(unix.EPERM)
	case ExceptionContinue:
		return Continue()
	case ExceptionDenyEIO:
		return Errno(unix.EIO)
	}
	return Kill()
}
