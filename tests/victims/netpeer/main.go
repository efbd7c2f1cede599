// Command netpeer connects and binds with raw syscalls, for the network
// policy tests.
//
//	netpeer connect PORT...          connect to 127.0.0.1:PORT, one line each
//	netpeer bind PORT...             bind 127.0.0.1:PORT, one line each
//	netpeer race ALLOWED DENIED N    connect N times while another thread
//	                                 flips the port in the same sockaddr
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

func sockaddr(port int) *unix.RawSockaddrInet4 {
	sa := &unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
	sa.Port = uint16(port>>8) | uint16(port&0xff)<<8 // network byte order
	return sa
}

func call(nr uintptr, fd int, sa *unix.RawSockaddrInet4) unix.Errno {
	_, _, e := unix.Syscall(nr, uintptr(fd), uintptr(unsafe.Pointer(sa)), unix.SizeofSockaddrInet4)
	runtime.KeepAlive(sa)
	return e
}

func socket() int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fmt.Println("FAIL socket:", err)
		os.Exit(1)
	}
	return fd
}

func result(e unix.Errno) string {
	if e == 0 {
		return "ok"
	}
	return "errno=" + unix.ErrnoName(e)
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: netpeer connect|bind|race ...")
		os.Exit(2)
	}
	ports := make([]int, 0, len(os.Args)-2)
	for _, a := range os.Args[2:] {
		p, err := strconv.Atoi(a)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		ports = append(ports, p)
	}
	switch os.Args[1] {
	case "connect", "bind":
		nr := uintptr(unix.SYS_CONNECT)
		if os.Args[1] == "bind" {
			nr = unix.SYS_BIND
		}
		for _, p := range ports {
			fd := socket()
			fmt.Printf("%s port=%d %s\n", os.Args[1], p, result(call(nr, fd, sockaddr(p))))
			unix.Close(fd)
		}
	case "race":
		race(ports[0], ports[1], ports[2])
	default:
		os.Exit(2)
	}
}

func race(allowed, denied, n int) {
	sa := sockaddr(allowed)
	a, d := sockaddr(allowed).Port, sockaddr(denied).Port
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		port := (*uint16)(unsafe.Pointer(&sa.Port))
		for i := 0; !stop.Load(); i++ {
			if i%2 == 0 {
				*port = d
			} else {
				*port = a
			}
		}
	}()
	ok, refused := 0, 0
	for range n {
		fd := socket()
		if call(unix.SYS_CONNECT, fd, sa) == 0 {
			ok++
		} else {
			refused++
		}
		unix.Close(fd)
	}
	stop.Store(true)
	<-done
	fmt.Printf("race connects=%d ok=%d refused=%d\n", n, ok, refused)
}
