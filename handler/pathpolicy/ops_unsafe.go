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

// sysFileSetattr is file_setattr's native number (Linux 6.17), or one
// that fails with ENOSYS.
var sysFileSetattr = func() uintptr {
	n, err := syscalls.Native().Number("file_setattr")
	if err != nil {
		return ^uintptr(0)
	}
	return uintptr(n)
}()

// fileSetattr is file_setattr(fd, "", attr, len(attr), flags).
func fileSetattr(fd int, attr []byte, flags int) error {
	empty := [1]byte{}
	var ptr unsafe.Pointer
	if len(attr) > 0 {
		ptr = unsafe.Pointer(&attr[0])
	}
	_, _, e := unix.Syscall6(sysFileSetattr, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])), uintptr(ptr), uintptr(len(attr)), uintptr(flags), 0)
	runtime.KeepAlive(attr)
	if e != 0 {
		return e
	}
	return nil
}

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
