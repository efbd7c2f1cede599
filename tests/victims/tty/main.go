// Command tty is the victim of the terminal tests (tests/terminal_test.go):
// it reports what a program sees of its terminal and tries what a hostile
// one would. Output lines are "key=value" words; it exits 0, or 2 on bad
// usage.
//
//	tty info          pid, sid, pgid, isatty of 0..2, the name of fd 0,
//	                  and whether /dev/tty opens
//	tty tiocsti TEXT  push TEXT into the input of fd 0 and of /dev/tty
//	                  with TIOCSTI, a byte at a time, and report each result
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
	case "info":
		info()
	case "tiocsti":
		if len(os.Args) != 3 {
			usage()
		}
		tiocsti(os.Args[2])
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: tty info | tty tiocsti TEXT")
	os.Exit(2)
}

func info() {
	pid := unix.Getpid()
	sid, _ := unix.Getsid(0)
	fmt.Printf("pid=%d sid=%d pgid=%d\n", pid, sid, unix.Getpgrp())
	for fd := 0; fd < 3; fd++ {
		_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		fmt.Printf("isatty%d=%t\n", fd, err == nil)
	}
	name, err := os.Readlink("/proc/self/fd/0")
	if err != nil {
		name = "error:" + err.Error()
	}
	fmt.Printf("stdin=%s\n", name)
	fd, err := unix.Open("/dev/tty", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Printf("devtty=%s\n", errName(err))
		return
	}
	unix.Close(fd)
	fmt.Println("devtty=ok")
}

func tiocsti(text string) {
	targets := []struct {
		name string
		fd   int
	}{{"stdin", 0}}
	if fd, err := unix.Open("/dev/tty", unix.O_RDWR|unix.O_CLOEXEC, 0); err == nil {
		defer unix.Close(fd)
		targets = append(targets, struct {
			name string
			fd   int
		}{"devtty", fd})
	} else {
		fmt.Printf("devtty=%s\n", errName(err))
	}
	for _, tg := range targets {
		result := "ok"
		for i := 0; i < len(text); i++ {
			b := text[i]
			_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(tg.fd), unix.TIOCSTI, uintptr(unsafe.Pointer(&b)))
			if errno != 0 {
				result = errName(errno)
				break
			}
		}
		fmt.Printf("tiocsti_%s=%s\n", tg.name, result)
	}
	fmt.Println("done=1")
}

func errName(err error) string {
	if e, ok := err.(unix.Errno); ok {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
		return "errno" + strconv.Itoa(int(e))
	}
	return err.Error()
}
