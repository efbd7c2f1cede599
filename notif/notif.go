package notif

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Notif is struct seccomp_notif: one trapped syscall as the kernel reports it.
type Notif struct {
	// ID identifies the notification; it is unique for the filter and is
	// what Send, IDValid and AddFD refer to.
	ID uint64
	// Pid is the thread ID of the trapped task in the listener's pid
	// namespace, 0 if it is not visible there.
	Pid uint32
	// Flags is reserved by the kernel and currently zero.
	Flags uint32
	// Data is the seccomp_data the filter saw.
	Data Data
}

// Data is struct seccomp_data.
type Data struct {
	// Nr is the syscall number for Arch.
	Nr int32
	// Arch is the AUDIT_ARCH_* value of the syscall ABI.
	Arch uint32
	// InstructionPointer is the address of the syscall instruction.
	InstructionPointer uint64
	// Args are the six raw syscall arguments.
	Args [6]uint64
}

// Resp is struct seccomp_notif_resp: the answer to one notification.
type Resp struct {
	// ID is the Notif.ID being answered.
	ID uint64
	// Val is the syscall's return value when Error is 0.
	Val int64
	// Error is a negated errno (-EPERM), or 0 for success.
	Error int32
	// Flags may hold RespFlagContinue.
	Flags uint32
}

// AddFD is struct seccomp_notif_addfd: a request to install one of the
// supervisor's file descriptors into the trapped process.
type AddFD struct {
	// ID is the Notif.ID the request belongs to.
	ID uint64
	// Flags is a combination of AddFDFlagSetFD and AddFDFlagSend.
	Flags uint32
	// SrcFD is the supervisor's file descriptor to copy.
	SrcFD uint32
	// NewFD is the target fd number when AddFDFlagSetFD is set.
	NewFD uint32
	// NewFDFlags may hold O_CLOEXEC for the installed descriptor.
	NewFDFlags uint32
}

// Flags of the structures above, re-exported from x/sys/unix so that callers
// need not import it for them.
const (
	// RespFlagContinue lets the syscall run in the kernel as if it had not
	// been trapped. It is never a security decision: the child's memory
	// may change before the syscall reads it.
	RespFlagContinue = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	// AddFDFlagSetFD installs the descriptor at AddFD.NewFD.
	AddFDFlagSetFD = unix.SECCOMP_ADDFD_FLAG_SETFD
	// AddFDFlagSend installs the descriptor and answers the notification
	// with its number in one step (Linux 5.14+).
	AddFDFlagSend = unix.SECCOMP_ADDFD_FLAG_SEND
)

// Sizes of the kernel structures this package was written for. The running
// kernel's sizes come from Sizes.
const (
	SizeofNotif = 80
	SizeofResp  = 24
	SizeofAddFD = 24
	SizeofData  = 64
)

var (
	// ErrClosed means the Notifier was closed: no more notifications come.
	ErrClosed = errors.New("notifier closed")
	// ErrTargetsExited means every task under the filter has exited: no
	// more notifications can come.
	ErrTargetsExited = errors.New("all supervised tasks exited")
	// ErrNotificationGone means the notification is no longer pending: the
	// task was killed, or its syscall was interrupted by a signal. The
	// errors that carry it also match unix.ENOENT.
	ErrNotificationGone = errors.New("notification no longer valid")
)

// Notifier is the source of trapped syscalls that the dispatch loop
// consumes. *Listener implements it on the kernel; *Fake implements it in
// memory for tests.
//
// All methods may be called concurrently; several goroutines may block in
// Recv at once, each notification going to one of them.
type Notifier interface {
	// Recv blocks until the next notification and fills n. It returns an
	// error that matches ErrClosed or ErrTargetsExited when no more will
	// come.
	Recv(n *Notif) error
	// Send answers a notification. ErrNotificationGone when it is no
	// longer pending.
	Send(r *Resp) error
	// IDValid reports whether the notification is still pending; nil
	// when it is, ErrNotificationGone when not.
	IDValid(id uint64) error
	// AddFD installs a descriptor in the trapped process and returns its
	// number there. With AddFDFlagSend the notification is answered too,
	// on every kernel: an implementation emulates the flag where the
	// kernel lacks it (Linux before 5.14).
	AddFD(a *AddFD) (int, error)
	// Shutdown makes blocked and future Recv calls return ErrClosed and
	// leaves Send, IDValid and AddFD working, so that notifications in
	// flight can still be answered. It is safe to call more than once.
	Shutdown()
	// Close shuts down and releases the notifier. Closing twice is safe.
	Close() error
}

// gone wraps ENOENT from the kernel so that it matches both
// ErrNotificationGone and unix.ENOENT.
func gone(op string, id uint64) error {
	return fmt.Errorf("%s id %#x: %w: %w", op, id, ErrNotificationGone, unix.ENOENT)
}
