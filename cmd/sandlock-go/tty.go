package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/sandbox"
)

// useTerminal gives cmd a pseudo-terminal of its own when stdin is a
// terminal, unless noPTY. The sandbox runs the program in a session of its
// own, where it has no controlling terminal: /dev/tty, job control and
// window sizes need one, and a terminal of its own keeps what the program
// types (TIOCSTI) out of the caller's. The sandbox puts the caller's
// terminal in raw mode for the run and restores it in Wait, which the
// signal forwarding of runForwardingSignals lets happen on SIGINT and
// SIGTERM too. The terminal's output goes to the first of stdout and stderr
// that is a terminal, or else back to stdin's terminal (sandbox.Terminal).
func useTerminal(cmd *sandbox.Cmd, noPTY bool, stdin io.Reader) {
	if in, ok := stdin.(*os.File); ok && !noPTY && isTerminal(in) {
		cmd.Terminal = &sandbox.Terminal{}
	}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
