package lockedpool

import (
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxGroups is NGROUPS_MAX, the most supplementary groups a thread has.
const maxGroups = 65536

// TakeFSIdentity gives the calling thread, which must be locked to its
// goroutine, the supplementary groups (none for an empty list), the fs gid
// and the fs uid, in that order, and checks each took. Each system call
// acts on this thread only (raw syscalls: Go's wrappers would change every
// thread of the process). Setting groups needs CAP_SETGID; the fs ids
// need CAP_SETGID and CAP_SETUID unless they are the thread's own.
func TakeFSIdentity(groups []uint32, gid, uid uint32) error {
	var ptr unsafe.Pointer
	if len(groups) > 0 {
		ptr = unsafe.Pointer(&groups[0])
	}
	_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(ptr), 0)
	runtime.KeepAlive(groups)
	if e != 0 {
		return fmt.Errorf("setgroups %v: %w", groups, e)
	}
	got, err := threadGroups()
	if err != nil {
		return err
	}
	want := slices.Clone(groups)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		return fmt.Errorf("setgroups %v: still %v", groups, got)
	}
	// setfsgid and setfsuid return the previous id and no error: an
	// invalid id (-1) changes nothing and reads the current one back.
	_, _, _ = unix.RawSyscall(unix.SYS_SETFSGID, uintptr(gid), 0, 0)
	if got, _, _ := unix.RawSyscall(unix.SYS_SETFSGID, ^uintptr(0), 0, 0); uint32(got) != gid {
		return fmt.Errorf("setfsgid %d: still %d", gid, got)
	}
	_, _, _ = unix.RawSyscall(unix.SYS_SETFSUID, uintptr(uid), 0, 0)
	if got, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, ^uintptr(0), 0, 0); uint32(got) != uid {
		return fmt.Errorf("setfsuid %d: still %d", uid, got)
	}
	return nil
}

// threadGroups returns the calling thread's supplementary groups.
func threadGroups() ([]uint32, error) {
	n, _, e := unix.RawSyscall(unix.SYS_GETGROUPS, 0, 0, 0)
	if e != 0 {
		return nil, fmt.Errorf("getgroups: %w", e)
	}
	if n == 0 {
		return nil, nil
	}
	if n > maxGroups {
		return nil, fmt.Errorf("getgroups: %d groups", n)
	}
	gs := make([]uint32, n)
	m, _, e := unix.RawSyscall(unix.SYS_GETGROUPS, n, uintptr(unsafe.Pointer(&gs[0])), 0)
	if e != 0 {
		return nil, fmt.Errorf("getgroups: %w", e)
	}
	return gs[:m], nil
}
