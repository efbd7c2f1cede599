package tests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/sandbox"
)

// outerTerminal plays the user's terminal: sandlock-go gets its slave as
// stdio and controlling terminal (it is the session leader, as a login
// shell's job would be the foreground), and the test types into its master
// and reads what appears on the screen.
type outerTerminal struct {
	ptmx, tty *os.File
	ptmxFD    int           // for ioctls: ptmx.Fd() would make it blocking
	ttyName   string        // /dev/pts/N
	initial   *unix.Termios // the slave's mode before the run

	mu      sync.Mutex
	screen  strings.Builder
	wake    chan struct{} // one token after each read
	readEnd chan struct{}

	cmd    *exec.Cmd
	exited chan struct{}

	// Taken once sandlock-go has exited, before the slave is closed.
	finishOnce sync.Once
	final      *unix.Termios
	pending    string
}

// patience bounds a wait for something that must happen, so that a hang
// fails the test instead of the suite. It is not a timing assertion.
const patience = 30 * time.Second

// startInTerminal runs sandlock-go with args in a new outer terminal of
// rows x cols, stdin, stdout and stderr on it unless stdout is given.
func startInTerminal(t *testing.T, bin string, rows, cols uint16, stdout *bytes.Buffer, args ...string) *outerTerminal {
	t.Helper()
	ptmx, ptmxFD, tty := openPollablePty(t)
	o := &outerTerminal{ptmx: ptmx, ptmxFD: ptmxFD, tty: tty, wake: make(chan struct{}, 1), readEnd: make(chan struct{}), exited: make(chan struct{})}
	require.NoError(t, unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}))
	var err error
	o.initial, err = unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	require.NoError(t, err)
	o.ttyName, err = os.Readlink("/proc/self/fd/" + strconv.Itoa(int(tty.Fd())))
	require.NoError(t, err)

	go func() {
		defer close(o.readEnd)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				o.mu.Lock()
				o.screen.Write(buf[:n])
				o.mu.Unlock()
				select {
				case o.wake <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		ptmx.Close() // ends the reader if the slave is still open
		<-o.readEnd
		tty.Close()
	})

	o.cmd = exec.Command(bin, args...)
	o.cmd.Stdin, o.cmd.Stdout, o.cmd.Stderr = tty, tty, tty
	if stdout != nil {
		o.cmd.Stdout = stdout
	}
	o.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, o.cmd.Start())
	go func() {
		_ = o.cmd.Wait()
		close(o.exited)
	}()
	t.Cleanup(func() {
		_ = o.cmd.Process.Kill()
		<-o.exited
	})
	return o
}

// openPollablePty opens a pseudo-terminal pair whose master the runtime
// polls, so that closing it ends a blocked Read.
func openPollablePty(t *testing.T) (ptmx *os.File, ptmxFD int, tty *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	ptmx = os.NewFile(uintptr(fd), "/dev/ptmx")
	require.NoError(t, unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	require.NoError(t, err)
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	return ptmx, fd, tty
}

// expect waits until the screen shows want, and returns the screen.
func (o *outerTerminal) expect(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(patience)
	for {
		s := o.text()
		if strings.Contains(s, want) {
			return s
		}
		select {
		case <-o.wake:
		case <-o.exited:
			// Everything sandlock-go wrote is read once the slave is
			// closed (EIO).
			o.finish(t)
			<-o.readEnd
			if s := o.text(); !strings.Contains(s, want) {
				t.Fatalf("sandlock-go exited (%v) without showing %q; screen %q", o.cmd.ProcessState, want, s)
			}
			return o.text()
		case <-deadline:
			t.Fatalf("the screen did not show %q; screen %q", want, o.text())
		}
	}
}

// finish waits for sandlock-go to exit, takes the outer terminal's mode and
// pending input, and closes the slave so that the reader sees the end of
// the screen.
func (o *outerTerminal) finish(t *testing.T) {
	t.Helper()
	o.finishOnce.Do(func() {
		select {
		case <-o.exited:
		case <-time.After(patience):
			t.Fatalf("sandlock-go did not exit; screen %q", o.text())
		}
		o.final = o.mode(t)
		o.pending = o.pendingInput(t)
		o.tty.Close()
	})
}

func (o *outerTerminal) text() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.screen.String()
}

// typeKeys writes s to the terminal as if typed.
func (o *outerTerminal) typeKeys(t *testing.T, s string) {
	t.Helper()
	_, err := o.ptmx.Write([]byte(s))
	require.NoError(t, err)
}

// wait returns sandlock-go's exit status, once the whole screen is read.
func (o *outerTerminal) wait(t *testing.T) int {
	t.Helper()
	o.finish(t)
	<-o.readEnd
	return o.cmd.ProcessState.ExitCode()
}

// mode returns the outer terminal's mode now.
func (o *outerTerminal) mode(t *testing.T) *unix.Termios {
	t.Helper()
	m, err := unix.IoctlGetTermios(int(o.tty.Fd()), unix.TCGETS)
	require.NoError(t, err)
	return m
}

// requireRaw checks that sandlock-go put the outer terminal in raw mode.
func (o *outerTerminal) requireRaw(t *testing.T) {
	t.Helper()
	m := o.mode(t)
	require.Zero(t, m.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG), "the outer terminal is not raw while the program runs: lflag %#x", m.Lflag)
}

// requireRestored checks that the outer terminal had its mode back when
// sandlock-go exited.
func (o *outerTerminal) requireRestored(t *testing.T) {
	t.Helper()
	o.finish(t)
	require.Equal(t, *o.initial, *o.final, "the outer terminal's mode was not restored")
}

// pendingInput returns what waits in the outer terminal's input queue: what
// the user's shell would read next.
func (o *outerTerminal) pendingInput(t *testing.T) string {
	t.Helper()
	fd := int(o.tty.Fd())
	m := o.mode(t)
	m.Lflag &^= unix.ICANON
	m.Cc[unix.VMIN], m.Cc[unix.VTIME] = 0, 0
	require.NoError(t, unix.IoctlSetTermios(fd, unix.TCSETS, m))
	var all []byte
	buf := make([]byte, 1024)
	for {
		n, err := unix.Read(fd, buf)
		if n <= 0 || err != nil {
			return string(all)
		}
		all = append(all, buf[:n]...)
	}
}

// ttyFields parses the tty victim's key=value words.
func ttyFields(s string) map[string]string {
	m := map[string]string{}
	for _, w := range strings.Fields(s) {
		if k, v, ok := strings.Cut(w, "="); ok {
			m[k] = v
		}
	}
	return m
}

// TestTerminal runs sandlock-go in a pseudo-terminal, as a user would.
func TestTerminal(t *testing.T) {
	bin := buildCLI(t)
	ttyVictim := buildProgram(t, "tty")

	t.Run("DevTTY", func(t *testing.T) {
		t.Parallel()
		o := startInTerminal(t, bin, 24, 80, nil, "run", "--", ttyVictim, "info")
		require.Equal(t, 0, o.wait(t), o.text())
		screen := o.expect(t, "devtty=")
		f := ttyFields(screen)
		require.Equal(t, "ok", f["devtty"], screen)
		require.Equal(t, f["pid"], f["sid"], "not a session of its own: %s", screen)
		for _, k := range []string{"isatty0", "isatty1", "isatty2"} {
			require.Equal(t, "true", f[k], screen)
		}
		// A terminal of its own, not the outer one.
		require.True(t, strings.HasPrefix(f["stdin"], "/dev/pts/"), screen)
		require.NotEqual(t, o.ttyName, f["stdin"], screen)
		o.requireRestored(t)
	})

	t.Run("NoPTY", func(t *testing.T) {
		t.Parallel()
		o := startInTerminal(t, bin, 24, 80, nil, "run", "--no-pty", "--", ttyVictim, "info")
		require.Equal(t, 0, o.wait(t), o.text())
		screen := o.expect(t, "devtty=")
		f := ttyFields(screen)
		// The outer terminal as stdio, but no controlling terminal.
		require.Equal(t, "ENXIO", f["devtty"], screen)
		require.Equal(t, f["pid"], f["sid"], screen)
		require.Equal(t, o.ttyName, f["stdin"], screen)
		o.requireRestored(t)
	})

	t.Run("NoPTYInputAndCtrlC", func(t *testing.T) {
		t.Parallel()
		// Without a terminal of its own, the program reads the outer one
		// (not its controlling terminal: no SIGTTIN), and Ctrl-C reaches
		// it as SIGINT forwarded by sandlock-go.
		o := startInTerminal(t, bin, 24, 80, nil, "run", "--no-pty", "--", "sh", "-c", "echo ready; read x; echo got=$x; exec sleep 100")
		o.expect(t, "ready")
		o.typeKeys(t, "hello\n")
		o.expect(t, "got=hello")
		o.typeKeys(t, "\x03")
		require.Equal(t, 130, o.wait(t), o.text())
		o.requireRestored(t)
	})

	t.Run("Size", func(t *testing.T) {
		t.Parallel()
		// stty size prints the outer size, and the new one after a
		// resize, which reaches the program as SIGWINCH.
		o := startInTerminal(t, bin, 31, 97, nil, "run", "--", "sh", "-c",
			`stty size; trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.01; done`)
		o.expect(t, "31 97\r\n")
		o.expect(t, "ready")
		require.NoError(t, unix.IoctlSetWinsize(o.ptmxFD, unix.TIOCSWINSZ, &unix.Winsize{Row: 42, Col: 101}))
		o.expect(t, "42 101\r\n")
		require.Equal(t, 0, o.wait(t), o.text())
		o.requireRestored(t)
	})

	t.Run("Input", func(t *testing.T) {
		t.Parallel()
		o := startInTerminal(t, bin, 24, 80, nil, "run", "--", "sh", "-c", "echo ready; read x; echo got=$x")
		o.expect(t, "ready")
		o.requireRaw(t)
		// Enter sends a carriage return; the program's terminal turns it
		// into a newline and echoes the line.
		o.typeKeys(t, "hello\r")
		screen := o.expect(t, "got=hello")
		require.Contains(t, screen, "hello\r\ngot=hello", "no echo from the program's terminal")
		require.Equal(t, 0, o.wait(t), o.text())
		o.requireRestored(t)
	})

	t.Run("CtrlC", func(t *testing.T) {
		t.Parallel()
		o := startInTerminal(t, bin, 24, 80, nil, "run", "--", "sh", "-c", "echo ready; exec sleep 100")
		o.expect(t, "ready")
		o.requireRaw(t)
		o.typeKeys(t, "\x03")
		require.Equal(t, 130, o.wait(t), o.text())
		o.requireRestored(t)
	})

	t.Run("SIGTERM", func(t *testing.T) {
		t.Parallel()
		// SIGTERM to sandlock-go ends the program, and the terminal gets
		// its mode back.
		o := startInTerminal(t, bin, 24, 80, nil, "run", "--", "sh", "-c", "echo ready; exec sleep 100")
		o.expect(t, "ready")
		o.requireRaw(t)
		require.NoError(t, o.cmd.Process.Signal(syscall.SIGTERM))
		require.Equal(t, 143, o.wait(t), o.text())
		o.requireRestored(t)
	})

	t.Run("TIOCSTI", func(t *testing.T) {
		t.Parallel()
		// What the program pushes into its terminal's input never reaches
		// the user's: the shell would run it after sandlock-go exits.
		o := startInTerminal(t, bin, 24, 80, nil, "run", "--", ttyVictim, "tiocsti", "echo pwned\n")
		require.Equal(t, 0, o.wait(t), o.text())
		o.expect(t, "done=1")
		o.requireRestored(t)
		require.Empty(t, o.pending, "the program typed into the outer terminal; screen %q", o.text())
	})

	t.Run("TraceLines", func(t *testing.T) {
		t.Parallel()
		// sandlock-go's own lines on the raw terminal return the carriage.
		o := startInTerminal(t, bin, 24, 80, nil, "trace", "--syscalls", "openat", "--", "cat", "/etc/hostname")
		require.Equal(t, 0, o.wait(t), o.text())
		screen := o.text()
		require.Contains(t, screen, `"/etc/hostname", O_RDONLY) = continue`+"\r\n", screen)
		require.NotRegexp(t, `[^\r]\n`, screen)
		o.requireRestored(t)
	})

	t.Run("RedirectedStdout", func(t *testing.T) {
		t.Parallel()
		// An output that is not a terminal goes to the program as it is:
		// no carriage returns in a file.
		var stdout bytes.Buffer
		o := startInTerminal(t, bin, 24, 80, &stdout, "run", "--", "sh", "-c", "echo out; echo err >&2; test -t 0 && echo stdin-tty >&2")
		require.Equal(t, 0, o.wait(t), o.text())
		o.expect(t, "err\r\nstdin-tty\r\n")
		require.Equal(t, "out\n", stdout.String())
	})
}

// TestTerminalLibrary drives Cmd.Terminal from Go, without a terminal on
// the supervisor's side.
func TestTerminalLibrary(t *testing.T) {
	t.Run("Relay", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		fds := countFDs(t)
		// The input is typed, then Ctrl-D ends cat; stty size reports
		// Terminal.Size.
		ctx, cancel := context.WithTimeout(context.Background(), patience) // a hang guard
		defer cancel()
		cmd := sandbox.CommandContext(ctx, "sh", "-c", "read x; echo got=$x; stty size; tty; cat; echo end")
		cmd.Stdin = strings.NewReader("hello\nmore\n")
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Terminal = &sandbox.Terminal{Size: sandbox.WindowSize{Rows: 12, Cols: 34}}
		require.NoError(t, cmd.Run())
		s := out.String()
		require.Contains(t, s, "got=hello\r\n12 34\r\n/dev/pts/", s)
		require.Contains(t, s, "more\r\nend\r\n", s)
		require.Equal(t, fds, countFDs(t), listFDs())
	})

	t.Run("OwnSession", func(t *testing.T) {
		// Without a Terminal too, the command is a session leader, with no
		// controlling terminal.
		cmd := sandbox.Command(buildProgram(t, "tty"), "info")
		var out bytes.Buffer
		cmd.Stdout = &out
		require.NoError(t, cmd.Run())
		f := ttyFields(out.String())
		require.Equal(t, f["pid"], f["sid"], out.String())
		require.Equal(t, "ENXIO", f["devtty"], out.String())
	})

	t.Run("FileOutput", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		// A file as Stdout is the command's stdout; Stderr, a buffer, is
		// on the terminal.
		file, err := os.Create(filepath.Join(t.TempDir(), "out"))
		require.NoError(t, err)
		defer file.Close()
		var screen bytes.Buffer
		cmd := sandbox.Command("sh", "-c", "echo out; echo err >&2; test -t 1 || echo stdout-not-tty >&2")
		cmd.Stdout, cmd.Stderr = file, &screen
		cmd.Terminal = &sandbox.Terminal{}
		require.NoError(t, cmd.Run())
		data, err := os.ReadFile(file.Name())
		require.NoError(t, err)
		require.Equal(t, "out\n", string(data))
		require.Equal(t, "err\r\nstdout-not-tty\r\n", screen.String())
	})

	t.Run("Resize", func(t *testing.T) {
		cmd := sandbox.Command("sh", "-c", `trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.01; done`)
		r, w, err := os.Pipe()
		require.NoError(t, err)
		defer r.Close()
		cmd.Stdout = w
		cmd.Terminal = &sandbox.Terminal{}
		require.ErrorContains(t, cmd.ResizeTerminal(sandbox.WindowSize{Rows: 1, Cols: 1}), "no terminal")
		require.NoError(t, cmd.Start())
		w.Close()
		buf := make([]byte, 256)
		var seen string
		for !strings.Contains(seen, "ready") {
			n, err := r.Read(buf)
			require.NoError(t, err, seen)
			seen += string(buf[:n])
		}
		require.NoError(t, cmd.ResizeTerminal(sandbox.WindowSize{Rows: 7, Cols: 70}))
		require.NoError(t, cmd.Wait())
		rest, err := readAll(r)
		require.NoError(t, err)
		require.Contains(t, seen+rest, "7 70\n")
		require.Error(t, cmd.ResizeTerminal(sandbox.WindowSize{Rows: 1, Cols: 1}), "resize after Wait")
	})
}

func readAll(f *os.File) (string, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(f)
	return b.String(), err
}

// TestTerminalLibraryOuter gives Cmd.Terminal a terminal as Stdin, as
// cmd/sandlock-go does: raw while the command runs, restored after, also
// when Start fails; no descriptor or goroutine left behind.
func TestTerminalLibraryOuter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		startErr bool
	}{{"run", false}, {"start-fails", true}} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			fds := countFDs(t)
			ptmx, _, tty := openPollablePty(t)
			defer tty.Close()
			require.NoError(t, unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 5, Col: 55}))
			before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			require.NoError(t, err)
			var screen bytes.Buffer
			readEnd := make(chan struct{})
			go func() {
				defer close(readEnd)
				_, _ = screen.ReadFrom(ptmx)
			}()

			program := "sh"
			args := []string{"-c", "stty -a | head -1; echo done"}
			if tc.startErr {
				// Executable, but no format the kernel knows: the
				// helper's execve fails with ENOEXEC.
				program = writeFile(t, t.TempDir(), "garbage", "\x00\x01garbage")
				require.NoError(t, os.Chmod(program, 0o755))
				args = nil
			}
			cmd := sandbox.Command(program, args...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
			cmd.Terminal = &sandbox.Terminal{}
			if tc.startErr {
				require.Error(t, cmd.Start())
			} else {
				require.NoError(t, cmd.Run())
			}
			after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
			require.NoError(t, err)
			require.Equal(t, *before, *after, "the terminal's mode was not restored")

			tty.Close()
			<-readEnd
			ptmx.Close()
			if !tc.startErr {
				// The new terminal had the outer one's size, and the
				// outer one was raw: no carriage return added to the
				// program's "\r\n".
				require.Contains(t, screen.String(), "rows 5; columns 55;", screen.String())
				require.Contains(t, screen.String(), "\r\ndone\r\n", screen.String())
			}
			require.Equal(t, fds, countFDs(t), listFDs())
		})
	}
}

// TestTerminalEscapee: a process that left the run's process group keeps
// the terminal open; Wait still returns, after a grace period.
func TestTerminalEscapee(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), patience) // a hang guard
	defer cancel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := sandbox.CommandContext(ctx, "sh", "-c",
		`setsid sh -c 'echo $$ > "$0"; exec sleep 60' "$0" & while [ ! -s "$0" ]; do sleep 0.01; done; echo end`, pidFile)
	cmd.Policy.AllowProcessGroups = true
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Terminal = &sandbox.Terminal{}
	err := cmd.Run()
	if data, rerr := os.ReadFile(pidFile); rerr == nil {
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(data))); perr == nil {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
	require.NoError(t, err)
	require.Contains(t, out.String(), "end\r\n")
}
