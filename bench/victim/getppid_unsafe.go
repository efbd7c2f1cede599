package main

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// getppid makes a raw getppid syscall; when arg is not empty, a pointer to
// it is passed as arg0 (getppid ignores it, a handler may read it).
func getppid(arg []byte) (int64, unix.Errno) {
	var p uintptr
	if len(arg) > 0 {
		p = uintptr(unsafe.Pointer(&arg[0]))
	}
	r, _, errno := unix.Syscall(unix.SYS_GETPPID, p, 0, 0)
	runtime.KeepAlive(arg)
	return int64(r), errno
}
