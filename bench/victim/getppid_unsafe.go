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

// openClose opens the NUL-terminated path arg read-only (a raw openat) and
// closes what it opened; it returns the descriptor the open returned.
func openClose(arg []byte) (int64, unix.Errno) {
	cwd := unix.AT_FDCWD
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(&arg[0])),
		unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
	runtime.KeepAlive(arg)
	if errno != 0 {
		return -1, errno
	}
	_ = unix.Close(int(fd))
	return int64(fd), 0
}
