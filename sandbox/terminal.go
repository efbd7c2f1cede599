package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Terminal gives a command a pseudo-terminal of its own: set Cmd.Terminal.
//
// The command always runs in a session of its own, so it cannot reach the
// supervisor's controlling terminal through /dev/tty or take its
// foreground. A terminal given to it as Stdin, Stdout or Stderr is still
// its to read and write (and, with CAP_SYS_ADMIN, to push keystrokes into
// with TIOCSTI). With a Terminal, Start opens a new pseudo-terminal and
// makes it the command's controlling terminal, with the command as its
// foreground process group: /dev/tty opens, Ctrl-C sends SIGINT to the
// command, a window size change sends SIGWINCH, and what the command
// pushes into its terminal's input stays there.
//
// The command's standard input is the terminal. Its standard output and
// error are the terminal too, except one whose Cmd field is an *os.File
// that is not a terminal (a regular file, a pipe): the command gets that
// file as it is, as without a Terminal.
//
// The supervisor relays both ways while the command runs:
//   - Cmd.Stdin is copied to the terminal's input; at its end the terminal's
//     end-of-file character (Ctrl-D) follows. A nil Stdin is an empty one.
//     An *os.File is polled, and its copy ends with the run. The copy of
//     another reader ends at its first Read that returns after the run
//     (unlike exec.Cmd's, Wait does not wait for it).
//   - What the command writes to the terminal, and the terminal's echo of
//     its input, is copied to Output.
//
// When Cmd.Stdin is an *os.File on a terminal (an interactive caller),
// Start copies its settings and window size to the new terminal and puts
// it in raw mode, so that every key, Ctrl-C included, reaches the
// command's terminal untouched; the window size follows it (SIGWINCH)
// while the command runs; and Wait restores the mode it had (so does Start
// when it fails). A supervisor that may be killed by a signal it does not
// handle should pass SIGINT, SIGTERM and SIGHUP on to the command instead
// (cmd/sandlock-go does), so that Wait returns and restores the terminal.
//
// Wait returns once the command's output has been copied, or after a
// grace period when a process that left the run's process group (see
// Policy.AllowProcessGroups) keeps the terminal open.
type Terminal struct {
	// Size is the window size of the terminal when Cmd.Stdin is not a
	// terminal; zero leaves the kernel's (0 rows, 0 columns).
	Size WindowSize
	// Output receives what the command writes to the terminal. nil
	// means the first of Cmd.Stdout and Cmd.Stderr that the command has
	// on the terminal, or else Cmd.Stdin when it is an *os.File on a
	// terminal (a prompt written to /dev/tty reaches the caller's
	// terminal when both outputs are redirected), or else nowhere. The
	// terminal's output is always read, so the command never blocks on
	// a full terminal.
	Output io.Writer
}

// WindowSize is a terminal's size in character cells.
type WindowSize struct {
	Rows, Cols uint16
}

// terminalDrainDelay bounds the wait in Wait for the terminal's last
// output once the command's process group is gone: only a process that
// left the group can hold the terminal open longer.
const terminalDrainDelay = 2 * time.Second

// eofChar is sent to the terminal when Cmd.Stdin ends (VEOF, Ctrl-D).
const eofChar = 0x04

// errNoTerminal is the result of ResizeTerminal on a Cmd without one.
var errNoTerminal = errors.New("sandbox: the command has no terminal (Cmd.Terminal is nil, or it is not running)")

// terminalRun is the state of one Terminal between Start and Wait.
type terminalRun struct {
	master   *os.File // pollable: Close wakes a blocked Read or Write
	masterFD int      // for ioctls while master is open
	slave    *os.File // closed once the helper has started

	outer int           // fd of Stdin's terminal, or -1
	saved *unix.Termios // outer's mode before raw, or nil

	input  io.Reader
	output io.Writer

	stopR, stopW *os.File      // closing stopW ends the input relay
	outDone      chan struct{} // the output relay ended
	inDone       chan struct{} // the input relay ended; nil if not waited for
	winch        chan os.Signal
	winchQuit    chan struct{}
	winchDone    chan struct{}

	closeOnce sync.Once
	mu        sync.Mutex // guards closed against ResizeTerminal
	closed    bool
}

// openTerminal opens the command's pseudo-terminal and makes it the
// helper's standard input, output and error (but a non-terminal file
// output) and controlling terminal. The helper's SysProcAttr must be set.
func (c *Cmd) openTerminal(h *exec.Cmd) (err error) {
	if c.Terminal == nil {
		return nil
	}
	t := &terminalRun{masterFD: -1, outer: -1}
	defer func() {
		if err != nil {
			t.closeFiles()
		}
	}()
	if t.master, t.masterFD, t.slave, err = openPTY(); err != nil {
		return fmt.Errorf("sandbox: terminal: %w", err)
	}
	slaveFD := int(t.slave.Fd())

	size := unix.Winsize{Row: c.Terminal.Size.Rows, Col: c.Terminal.Size.Cols}
	if f, ok := c.Stdin.(*os.File); ok && isTerminal(int(f.Fd())) {
		t.outer = int(f.Fd())
		mode, err := unix.IoctlGetTermios(t.outer, unix.TCGETS)
		if err != nil {
			return fmt.Errorf("sandbox: terminal: read the mode of stdin: %w", err)
		}
		t.saved = mode
		// The user's settings (erase character, flow control...) carry
		// over to the new terminal.
		if err := unix.IoctlSetTermios(slaveFD, unix.TCSETS, mode); err != nil {
			return fmt.Errorf("sandbox: terminal: set the mode: %w", err)
		}
		if ws, err := unix.IoctlGetWinsize(t.outer, unix.TIOCGWINSZ); err == nil {
			size = *ws
		}
	}
	if size.Row != 0 || size.Col != 0 {
		if err := unix.IoctlSetWinsize(t.masterFD, unix.TIOCSWINSZ, &size); err != nil {
			return fmt.Errorf("sandbox: terminal: set the window size: %w", err)
		}
	}

	t.input = c.Stdin
	onTerminal := func(w io.Writer) bool {
		f, ok := w.(*os.File)
		return !ok || isTerminal(int(f.Fd()))
	}
	h.Stdin = t.slave
	switch {
	case c.Terminal.Output != nil:
		t.output = c.Terminal.Output
	case onTerminal(c.Stdout) && c.Stdout != nil:
		t.output = c.Stdout
	case onTerminal(c.Stderr) && c.Stderr != nil:
		t.output = c.Stderr
	case t.outer >= 0:
		t.output, _ = c.Stdin.(*os.File)
	}
	if onTerminal(c.Stdout) {
		h.Stdout = t.slave
	}
	if onTerminal(c.Stderr) {
		h.Stderr = t.slave
	}
	// The helper makes the terminal its controlling terminal after
	// setsid, before its execve: fd 0 in the helper is the slave.
	h.SysProcAttr.Setsid = true
	h.SysProcAttr.Setctty = true
	h.SysProcAttr.Ctty = 0
	c.tty = t
	return nil
}

// terminalStarted follows the helper's start: the supervisor's copy of the
// terminal is closed (the master reads EIO once the command's are), and on
// success the relays start and Stdin's terminal goes raw.
func (c *Cmd) terminalStarted(startErr error) {
	t := c.tty
	if t == nil {
		return
	}
	_ = t.slave.Close()
	t.slave = nil
	if startErr != nil {
		c.closeTerminal()
		return
	}
	t.outDone = make(chan struct{})
	go t.copyOutput()
	if t.outer >= 0 {
		t.winch = make(chan os.Signal, 1)
		t.winchQuit = make(chan struct{})
		t.winchDone = make(chan struct{})
		signal.Notify(t.winch, unix.SIGWINCH)
		go t.followSize()
		raw := *t.saved
		makeRaw(&raw)
		_ = unix.IoctlSetTermios(t.outer, unix.TCSETS, &raw)
	}
	if f, ok := t.input.(*os.File); ok {
		r, w, err := os.Pipe()
		if err == nil {
			t.stopR, t.stopW = r, w
			t.inDone = make(chan struct{})
			go t.copyInputFile(int(f.Fd()))
			return
		}
		// Without a stop pipe, relay as from any reader.
	}
	go t.copyInput()
}

// closeTerminal ends the relays, closes the terminal and restores Stdin's
// terminal. It waits for the command's last output unless the command
// never started. It is safe to call twice, and when there is no terminal.
func (c *Cmd) closeTerminal() {
	if t := c.tty; t != nil {
		t.closeOnce.Do(t.close)
	}
}

func (t *terminalRun) close() {
	if t.winch != nil {
		signal.Stop(t.winch)
		close(t.winchQuit)
		<-t.winchDone
	}
	if t.slave != nil {
		_ = t.slave.Close()
		t.slave = nil
	}
	if t.outDone != nil {
		drain := time.NewTimer(terminalDrainDelay)
		select {
		case <-t.outDone:
		case <-drain.C:
		}
		drain.Stop()
	}
	if t.stopW != nil {
		_ = t.stopW.Close()
	}
	t.mu.Lock()
	t.closed = true
	_ = t.master.Close() // wakes a relay blocked on it
	t.mu.Unlock()
	if t.outDone != nil {
		<-t.outDone
	}
	if t.inDone != nil {
		<-t.inDone
	}
	if t.stopR != nil {
		_ = t.stopR.Close()
	}
	if t.saved != nil {
		_ = unix.IoctlSetTermios(t.outer, unix.TCSETS, t.saved)
	}
}

// closeFiles closes what openTerminal opened, on its failure.
func (t *terminalRun) closeFiles() {
	if t.master != nil {
		_ = t.master.Close()
	}
	if t.slave != nil {
		_ = t.slave.Close()
	}
}

// ResizeTerminal sets the window size of the command's terminal; the
// command's foreground process group gets SIGWINCH. Call it after Start
// returned, from any goroutine; it fails when the Cmd has no Terminal or
// Wait has released it.
func (c *Cmd) ResizeTerminal(size WindowSize) error {
	t := c.tty
	if t == nil {
		return errNoTerminal
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errNoTerminal
	}
	ws := unix.Winsize{Row: size.Rows, Col: size.Cols}
	if err := unix.IoctlSetWinsize(t.masterFD, unix.TIOCSWINSZ, &ws); err != nil {
		return fmt.Errorf("sandbox: resize terminal: %w", err)
	}
	return nil
}

// copyOutput copies the terminal's output until every copy of the slave
// is closed (EIO) or the master is.
func (t *terminalRun) copyOutput() {
	defer close(t.outDone)
	buf := make([]byte, 32*1024)
	out := t.output
	for {
		n, err := t.master.Read(buf)
		if n > 0 && out != nil {
			if _, werr := out.Write(buf[:n]); werr != nil {
				out = nil // keep draining: the command must not block
			}
		}
		if err != nil {
			return
		}
	}
}

// copyInputFile copies the file fd to the terminal's input until its end
// or until stopW is closed. It polls instead of blocking in read, so that
// it ends with the run although nothing more is typed.
func (t *terminalRun) copyInputFile(fd int) {
	defer close(t.inDone)
	buf := make([]byte, 4096)
	fds := []unix.PollFd{
		{Fd: int32(fd), Events: unix.POLLIN},
		{Fd: int32(t.stopR.Fd()), Events: unix.POLLIN},
	}
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		if fds[1].Revents != 0 || fds[0].Revents&unix.POLLNVAL != 0 {
			return
		}
		if fds[0].Revents == 0 {
			continue
		}
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if n <= 0 {
			_, _ = t.master.Write([]byte{eofChar})
			return
		}
		if _, err := t.master.Write(buf[:n]); err != nil {
			return
		}
	}
}

// copyInput copies a reader that is not a file to the terminal's input. It
// ends at the reader's end, or at the first write after the terminal is
// closed: Wait does not wait for it, as the reader may block forever.
func (t *terminalRun) copyInput() {
	if t.input != nil {
		if _, err := io.Copy(t.master, t.input); err != nil {
			return
		}
	}
	_, _ = t.master.Write([]byte{eofChar})
}

// followSize copies the window size of Stdin's terminal to the command's
// on each SIGWINCH.
func (t *terminalRun) followSize() {
	defer close(t.winchDone)
	for {
		select {
		case <-t.winch:
			if ws, err := unix.IoctlGetWinsize(t.outer, unix.TIOCGWINSZ); err == nil {
				_ = unix.IoctlSetWinsize(t.masterFD, unix.TIOCSWINSZ, ws)
			}
		case <-t.winchQuit:
			return
		}
	}
}

// openPTY opens a new pseudo-terminal pair: the master (/dev/ptmx), with
// its descriptor number, and the slave, both close-on-exec and neither
// becoming the caller's controlling terminal. The master is non-blocking,
// so the runtime's poller serves it and Close wakes a blocked Read or
// Write; never call its Fd method, which would make it blocking.
func openPTY() (master *os.File, masterFD int, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, -1, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(mfd)
		return nil, -1, nil, fmt.Errorf("unlock pseudo-terminal: %w", err)
	}
	n, err := unix.IoctlGetUint32(mfd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(mfd)
		return nil, -1, nil, fmt.Errorf("pseudo-terminal number: %w", err)
	}
	name := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(mfd)
		return nil, -1, nil, fmt.Errorf("open %s: %w", name, err)
	}
	// A blocking slave: the helper inherits it as its stdio.
	return os.NewFile(uintptr(mfd), "/dev/ptmx"), mfd, os.NewFile(uintptr(sfd), name), nil
}

// isTerminal reports whether fd is a terminal.
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// makeRaw is cfmakeraw(3): no line editing, echo, signals or output
// processing; every byte is read as it comes.
func makeRaw(t *unix.Termios) {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
}
