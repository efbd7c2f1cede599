package netpolicy

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockaddrCall runs connect or bind with a raw sockaddr as the process
// passed it; x/sys has no call taking raw bytes.
func sockaddrCall(nr int, fd int, raw []byte) unix.Errno {
	_, _, errno := unix.Syscall(uintptr(nr), uintptr(fd), uintptr(unsafe.Pointer(&raw[0])), uintptr(len(raw)))
	return errno
}

// sendmsgRaw sends one message from the supervisor's memory with
// sendmsg(2) and returns the bytes sent. A nil name sends without a
// destination; an empty one passes a non-NULL address of length 0.
func sendmsgRaw(fd int, m message, flags int) (int, unix.Errno) {
	var hdr unix.Msghdr
	var zero [1]byte
	if m.name != nil {
		hdr.Name = &zero[0]
		if len(m.name) > 0 {
			hdr.Name = &m.name[0]
		}
		hdr.Namelen = uint32(len(m.name))
	}
	var iov unix.Iovec
	if len(m.data) > 0 {
		iov.Base = &m.data[0]
		iov.SetLen(len(m.data))
		hdr.Iov = &iov
		hdr.Iovlen = 1
	}
	if len(m.control) > 0 {
		hdr.Control = &m.control[0]
		hdr.SetControllen(len(m.control))
	}
	n, _, errno := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdr)), uintptr(flags))
	runtime.KeepAlive(m)
	runtime.KeepAlive(&iov)
	runtime.KeepAlive(&zero)
	return int(n), errno
}
