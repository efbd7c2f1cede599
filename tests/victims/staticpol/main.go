// Command staticpol is the victim of the static-policy tests
// (tests/static_test.go): each command makes one raw syscall and prints its
// result as "NAME ret=R errno=E", E being "0" or the errno's name.
//
//	staticpol getppid          getppid()
//	staticpol ioctl REQ        ioctl(fd of /dev/null, REQ, &byte): ENOTTY
//	                           when the call reaches the kernel
//	staticpol x32 NAME         the x86_64 syscall NAME with the x32 bit set
//	staticpol clone3           clone3(NULL, 0): ENOSYS under the sandbox
//	staticpol exit             exit 0 (nothing else)
package main

import (
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "getppid":
		r, _, e := unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		report("getppid", r, e)
	case "ioctl":
		if len(os.Args) != 3 {
			usage()
		}
		req, err := strconv.ParseUint(os.Args[2], 0, 64)
		if err != nil {
			usage()
		}
		fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		c := byte('#')
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(&c)))
		report("ioctl", r, e)
	case "x32":
		if len(os.Args) != 3 {
			usage()
		}
		nr, ok := map[string]uintptr{"getppid": unix.SYS_GETPPID, "getpid": unix.SYS_GETPID}[os.Args[2]]
		if !ok {
			usage()
		}
		const x32Bit = 0x40000000
		r, _, e := unix.RawSyscall(x32Bit|nr, 0, 0, 0)
		report("x32", r, e)
	case "clone3":
		r, _, e := unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
		report("clone3", r, e)
	case "exit":
	default:
		usage()
	}
}

func report(name string, r uintptr, e unix.Errno) {
	ret := int64(r)
	errno := "0"
	if e != 0 {
		ret, errno = -1, unix.ErrnoName(e)
	}
	fmt.Printf("%s ret=%d errno=%s\n", name, ret, errno)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: staticpol getppid | ioctl REQ | x32 getppid|getpid | clone3 | exit")
	os.Exit(2)
}
