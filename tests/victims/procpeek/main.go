// Command procpeek opens paths with openat, for the tests of the path
// policy's /proc guard. Each path prints one line: "open path=PATH ok
// content=FIRSTLINE" (FIRSTLINE empty when the file cannot be read) or
// "open path=PATH errno=NAME".
//
//	procpeek ro PATH...   open O_RDONLY
//	procpeek rw PATH...   open O_RDWR
package main

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 3 || (os.Args[1] != "ro" && os.Args[1] != "rw") {
		fmt.Fprintln(os.Stderr, "usage: procpeek ro|rw PATH...")
		os.Exit(2)
	}
	flags := unix.O_RDONLY
	if os.Args[1] == "rw" {
		flags = unix.O_RDWR
	}
	for _, path := range os.Args[2:] {
		fd, err := unix.Openat(unix.AT_FDCWD, path, flags|unix.O_CLOEXEC, 0)
		if err != nil {
			name := unix.ErrnoName(err.(unix.Errno))
			fmt.Printf("open path=%s errno=%s\n", path, name)
			continue
		}
		buf := make([]byte, 256)
		n, _ := unix.Read(fd, buf)
		line, _, _ := strings.Cut(string(buf[:max(n, 0)]), "\n")
		fmt.Printf("open path=%s ok content=%s\n", path, line)
		unix.Close(fd)
	}
}
