package pathpolicy

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// sysFchmodat2 is fchmodat2's native number (Linux 6.6), or one that
// fails with ENOSYS where the table lacks it.
var sysFchmodat2 = func() uintptr {
	n, err := syscalls.Native().Number("fchmodat2")
	if err != nil {
		return ^uintptr(0)
	}
	return uintptr(n)
}()

// fchmodat2 is fchmodat2(fd, "", mode, flags).
func fchmodat2(fd int, mode uint32, flags int) error {
	empty := [1]byte{}
	_, _, e := unix.Syscall6(sysFchmodat2, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])), uintptr(mode), uintptr(flags), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// utimensat is utimensat(fd, "", ts, flags); a nil ts means now.
func utimensat(fd int, ts *[2]unix.Timespec, flags int) error {
	empty := [1]byte{}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])), uintptr(unsafe.Pointer(ts)), uintptr(flags), 0, 0)
	runtime.KeepAlive(ts)
	if e != 0 {
		return e
	}
	return nil
}
