package notif

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The ioctls of the listener. x/sys/unix has their numbers but no helpers.

func ioctlRecv(fd int, n *Notif) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(n)))
	return errnoErr(errno)
}

func ioctlSend(fd int, r *Resp) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(r)))
	return errnoErr(errno)
}

func ioctlIDValid(fd int, id uint64) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(&id)))
	return errnoErr(errno)
}

// ioctlAddFD blocks every signal on the calling thread during the ioctl.
// With SECCOMP_ADDFD_FLAG_SEND the kernel marks the notification answered
// before it waits for the target to take the descriptor; a signal that
// interrupts that wait (SIGCHLD, SIGURG, any signal reaching this thread)
// withdraws the descriptor but not the answer, and the trapped syscall
// returns 0, a descriptor the target already had, instead of a new one.
// A stop (SIGSTOP, the cgroup freezer) cannot be blocked and still can.
func ioctlAddFD(fd int, a *AddFD) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	all := unix.Sigset_t{}
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	var old unix.Sigset_t
	masked := unix.PthreadSigmask(unix.SIG_SETMASK, &all, &old) == nil
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_ADDFD, uintptr(unsafe.Pointer(a)))
	if masked {
		_ = unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	}
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// ioctlSetFlags passes the flag value itself, not a pointer: the kernel
// reads the ioctl argument as the flags.
func ioctlSetFlags(fd int, flags uintptr) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags)
	return errnoErr(errno)
}

// KernelSizes is struct seccomp_notif_sizes.
type KernelSizes struct {
	Notif uint16
	Resp  uint16
	Data  uint16
}

// Sizes asks the running kernel for the sizes of its notification
// structures (SECCOMP_GET_NOTIF_SIZES, Linux 5.0+).
func Sizes() (KernelSizes, error) {
	var s KernelSizes
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_NOTIF_SIZES, 0, uintptr(unsafe.Pointer(&s)))
	if errno != 0 {
		return s, errnoErr(errno)
	}
	return s, nil
}

// errnoErr returns nil for 0 and the Errno otherwise, so that callers can
// compare with ==.
func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// Compile-time checks of the ABI sizes.
var (
	_ [SizeofNotif - unsafe.Sizeof(Notif{})]struct{}
	_ [unsafe.Sizeof(Notif{}) - SizeofNotif]struct{}
	_ [SizeofResp - unsafe.Sizeof(Resp{})]struct{}
	_ [unsafe.Sizeof(Resp{}) - SizeofResp]struct{}
	_ [SizeofAddFD - unsafe.Sizeof(AddFD{})]struct{}
	_ [unsafe.Sizeof(AddFD{}) - SizeofAddFD]struct{}
	_ [SizeofData - unsafe.Sizeof(Data{})]struct{}
)

func seccompActionAvail(action uint32) error {
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&action)))
	return errnoErr(errno)
}

func seccompSetFilterNil(flags uintptr) error {
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, 0)
	return errnoErr(errno)
}

func landlockABIVersion() (int, error) {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0, errno
	}
	return int(v), nil
}
