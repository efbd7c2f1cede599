// Command cloneflip attacks a process limit that reads clone3's flags from
// memory: one thread calls clone3 in a loop while another flips the flags
// between CLONE_THREAD (a thread, which a limiter lets through; alone it is
// EINVAL to the kernel, so nothing is created when the kernel sees it) and
// 0 (a new process). Each process created sleeps for HOLD and exits.
//
// Usage: cloneflip N HOLD
//
// It prints "clone3 calls=N forks=N enosys=N einval=N eagain=N other=N" and
// the most children it had alive at once ("peak=N"), then reaps them.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// cloneArgs is struct clone_args up to CLONE_ARGS_SIZE_VER0 (64 bytes).
type cloneArgs struct {
	flags, pidfd, childTID, parentTID, exitSignal, stack, stackSize, tls uint64
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: cloneflip N HOLD")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[1])
	hold, err := time.ParseDuration(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	sleep := unix.NsecToTimespec(hold.Nanoseconds())
	args := &cloneArgs{exitSignal: uint64(unix.SIGCHLD)}
	flags := (*uint64)(unsafe.Pointer(&args.flags))

	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			if i%2 == 0 {
				atomic.StoreUint64(flags, unix.CLONE_THREAD)
			} else {
				atomic.StoreUint64(flags, 0)
			}
		}
	}()

	runtime.LockOSThread()
	var forks, enosys, einval, eagain, other int
	alive, peak := 0, 0
	for range n {
		pid, _, errno := unix.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(args)), unsafe.Sizeof(*args), 0)
		if errno == 0 && pid == 0 {
			// The child: one thread, a copy of this one. Raw
			// syscalls only.
			unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&sleep)), 0, 0)
			unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
		}
		switch errno {
		case 0:
			forks++
			alive++
			peak = max(peak, alive)
		case unix.ENOSYS:
			enosys++
		case unix.EINVAL:
			einval++
		case unix.EAGAIN:
			eagain++
		default:
			other++
		}
		// Reap the children that ended.
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err != nil || pid <= 0 {
				break
			}
			alive--
		}
	}
	stop.Store(true)
	<-done
	runtime.KeepAlive(args)
	fmt.Printf("clone3 calls=%d forks=%d enosys=%d einval=%d eagain=%d other=%d peak=%d\n", n, forks, enosys, einval, eagain, other, peak)
	for alive > 0 {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(-1, &ws, 0, nil); err != nil {
			break
		}
		alive--
	}
}
