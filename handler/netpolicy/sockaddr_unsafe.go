package netpolicy

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sockaddrCall runs connect or bind with a raw sockaddr as the process
// passed it; x/sys has no call taking raw bytes.
func sockaddrCall(nr int, fd int, raw []byte) unix.Errno {
	_, _, errno := unix.Syscall(uintptr(nr), uintptr(fd), uintptr(unsafe.Pointer(&raw[0])), uintptr(len(raw)))
	return errno
}
