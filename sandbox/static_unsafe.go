package sandbox

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// exec executes the command from the pointers prepareStatic built: one raw
// execve, nothing allocated, so that no syscall but execve runs under the
// static filter before the command. It returns only on failure.
func (s *staticLaunch) exec() error {
	_, _, e := unix.RawSyscall(unix.SYS_EXECVE,
		uintptr(unsafe.Pointer(s.path)),
		uintptr(unsafe.Pointer(&s.argv[0])),
		uintptr(unsafe.Pointer(&s.envv[0])))
	return e
}
