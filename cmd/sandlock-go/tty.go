package main

import (
	"io"
	"os"
	"sync"

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
// SIGTERM too.
//
// stdout and stderr are sandlock-go's own (not rawSafe's wrapper): the
// terminal's output goes to the first of them that is a terminal, or else
// back to stdin's terminal.
func useTerminal(cmd *sandbox.Cmd, noPTY bool, stdin io.Reader, stdout, stderr io.Writer) {
	in, ok := stdin.(*os.File)
	if noPTY || !ok || !isTerminal(in) {
		return
	}
	t := &sandbox.Terminal{Output: in}
	for _, w := range []io.Writer{stdout, stderr} {
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			t.Output = f
			break
		}
	}
	cmd.Terminal = t
}

// rawSafe returns the writer for sandlock-go's own messages on stderr
// (trace lines, warnings) when useTerminal will put the terminal in raw
// mode, where a newline does not return the carriage: one that writes
// "\r\n" for a lone "\n" when stderr is a terminal, else stderr itself.
// Given as the program's stderr, it still means the terminal to the
// sandbox, which is not an *os.File that is not a terminal.
func rawSafe(noPTY bool, stdin io.Reader, stderr io.Writer) io.Writer {
	in, ok := stdin.(*os.File)
	errf, eok := stderr.(*os.File)
	if noPTY || !ok || !eok || !isTerminal(in) || !isTerminal(errf) {
		return stderr
	}
	return &crlfWriter{w: errf}
}

// crlfWriter writes "\r\n" for each "\n" not preceded by "\r".
type crlfWriter struct {
	mu   sync.Mutex
	w    io.Writer
	last byte
	buf  []byte
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = c.buf[:0]
	for _, b := range p {
		if b == '\n' && c.last != '\r' {
			c.buf = append(c.buf, '\r')
		}
		c.buf = append(c.buf, b)
		c.last = b
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
