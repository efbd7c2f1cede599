package main

// The reference supervisor's raw ioctls: the only unsafe code of the bench.

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/notif"
)

// recvNotif is a blocking SECCOMP_IOCTL_NOTIF_RECV; n must be zeroed.
func recvNotif(fd int, n *notif.Notif) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(n)))
	return e
}

// sendResp is SECCOMP_IOCTL_NOTIF_SEND.
func sendResp(fd int, r *notif.Resp) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(r)))
	return e
}

// setSyncWakeUp sets SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP; the flag value is
// the ioctl argument itself, not a pointer to it.
func setSyncWakeUp(fd int) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SET_FLAGS, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)
	return e
}
