package main

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// handTerminal gives the controlling terminal to the program's process
// group when sandlock-go holds it: the sandbox starts the program in a group
// of its own, and a background group that reads the terminal is stopped
// with SIGTTIN. It returns the function that takes the terminal back.
//
// The program may have been stopped already by reading before the
// handover; SIGCONT resumes it.
func handTerminal(pgid int, files ...any) (restore func()) {
	for _, f := range files {
		file, ok := f.(*os.File)
		if !ok {
			continue
		}
		fd := int(file.Fd())
		own, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
		if err != nil || own != unix.Getpgrp() {
			continue // not a terminal, or not ours to give
		}
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, pgid); err != nil {
			return func() {}
		}
		_ = unix.Kill(-pgid, unix.SIGCONT)
		return func() {
			// sandlock-go is in the background now: without ignoring
			// SIGTTOU, taking the terminal back would stop it.
			signal.Ignore(unix.SIGTTOU)
			defer signal.Reset(unix.SIGTTOU)
			_ = unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, own)
		}
	}
	return func() {}
}
