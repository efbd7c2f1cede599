// Command racer is a hostile victim for the path policy: one thread opens a
// path in a loop while another flips the same buffer between an allowed and
// a denied path. It reads what each open returned and counts the opens that
// reached the denied file.
//
// Usage: racer ALLOWED DENIED N
//
// It prints "opens=N ok=N denied=N leaked=N" and exits 1 when anything
// leaked.
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// deniedMarker is the first bytes of the denied file's content.
const deniedMarker = "DENIED-SECRET"

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: racer ALLOWED DENIED N")
		os.Exit(2)
	}
	allowed, denied := os.Args[1], os.Args[2]
	n, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	size := max(len(allowed), len(denied)) + 1
	buf := make([]byte, size)
	a := append([]byte(allowed), make([]byte, size-len(allowed))...)
	d := append([]byte(denied), make([]byte, size-len(denied))...)
	copy(buf, a)

	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			if i%2 == 0 {
				copy(buf, d)
			} else {
				copy(buf, a)
			}
		}
	}()

	runtime.LockOSThread()
	atFDCWD := unix.AT_FDCWD
	var ok, deniedCount, leaked int
	content := make([]byte, 64)
	for i := 0; i < n; i++ {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&buf[0])), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
		if errno != 0 {
			deniedCount++
			continue
		}
		m, _ := unix.Read(int(fd), content)
		unix.Close(int(fd))
		if m > 0 && bytes.HasPrefix(content[:m], []byte(deniedMarker)) {
			leaked++
		} else {
			ok++
		}
	}
	stop.Store(true)
	<-done
	fmt.Printf("opens=%d ok=%d denied=%d leaked=%d\n", n, ok, deniedCount, leaked)
	if leaked > 0 {
		os.Exit(1)
	}
}
