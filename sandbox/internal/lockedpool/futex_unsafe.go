package lockedpool

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// futex(2) operations (linux/futex.h; x/sys/unix does not define them).
const (
	futexWaitPrivate = 0 | 128 // FUTEX_WAIT | FUTEX_PRIVATE_FLAG
	futexWakePrivate = 1 | 128 // FUTEX_WAKE | FUTEX_PRIVATE_FLAG
)

// futexWait blocks the calling OS thread while *word == val, in the kernel,
// not in the Go scheduler: a thread locked to its goroutine (a
// pool thread, its caller) is then woken by one futexWake, without the
// runtime handing a P from thread to thread first. It may return early
// (a signal, a spurious wake-up): callers re-check their condition.
func futexWait(word *atomic.Uint32, val uint32) {
	_, _, _ = unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)),
		futexWaitPrivate, uintptr(val), 0, 0, 0)
}

// futexWake wakes every thread waiting in futexWait on word.
func futexWake(word *atomic.Uint32) {
	_, _, _ = unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)),
		futexWakePrivate, uintptr(^uint32(0)>>1), 0, 0, 0)
}
