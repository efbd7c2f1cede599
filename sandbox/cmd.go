package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

var (
	// ErrNoInit means the program did not call Init at the start of main.
	ErrNoInit = errors.New("sandbox.Init was not called at the start of main: the sandbox re-executes this program to start commands")
	// ErrHandlerOnDenied means a syscall has both a handler and a place in
	// the deny list.
	ErrHandlerOnDenied = errors.New("syscall is both handled and denied")
	// ErrStarted is returned by Start on a Cmd that was started already.
	ErrStarted = errors.New("sandbox: already started")
)

// listenerTimeout bounds the wait for the helper to install its filter.
const listenerTimeout = 30 * time.Second

// Cmd is a command to run under supervision, built like an exec.Cmd.
//
// Register handlers with Handle before Start; a syscall without a handler
// and not denied runs unsupervised (Landlock still applies).
//
// The command runs in a session and process group of its own, which is
// killed when the run ends. It has no controlling terminal unless Terminal
// gives it one; it can still read and write a terminal passed as Stdin,
// Stdout or Stderr (but not take its foreground or open /dev/tty). Where
// the kernel groups tasks by session for CPU time (sched_autogroup_enabled),
// the command and the supervisor are two such groups.
type Cmd struct {
	// Path is the program; a name without a slash is looked up in PATH.
	Path string
	// Args holds the command line, including the program as Args[0].
	Args []string
	// Env is the environment; nil means the supervisor's.
	Env []string
	// Dir is the working directory; empty means the supervisor's.
	Dir string
	// Stdin, Stdout and Stderr are as in exec.Cmd; nil means /dev/null.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Policy adds Landlock rules, a deny list and limits.
	Policy Policy
	// ServeOptions tune the dispatch loop (workers, tracing, errors).
	ServeOptions *handler.Options
	// Terminal, when not nil, gives the command a new pseudo-terminal as
	// its controlling terminal, relayed to Stdin and Stdout (terminal.go).
	Terminal *Terminal

	// Process is the running command after Start.
	Process *os.Process
	// ProcessState is available after Wait.
	ProcessState *os.ProcessState

	ctx     context.Context
	table   *handler.Table
	started bool

	helper   *exec.Cmd
	listener *notif.Listener
	cancel   context.CancelFunc
	served   chan error
	done     chan struct{}
	pidfd    int
	waitOnce sync.Once
	waitErr  error
	tty      *terminalRun // terminal.go
}

// Command returns a Cmd to run name with args.
func Command(name string, args ...string) *Cmd {
	return CommandContext(context.Background(), name, args...)
}

// CommandContext is Command with a context: when ctx is done before the
// command exits, the command is killed with SIGKILL.
func CommandContext(ctx context.Context, name string, args ...string) *Cmd {
	return &Cmd{
		Path:  name,
		Args:  append([]string{name}, args...),
		ctx:   ctx,
		table: handler.NewTable(syscalls.Native()),
	}
}

// Handle registers h on the named syscall. Handlers of one syscall form a
// chain in registration order.
func (c *Cmd) Handle(name string, h handler.Handler) error {
	if c.started {
		return ErrStarted
	}
	return c.table.RegisterName(name, h)
}

// HandleNumber registers h on syscall number nr of the native architecture.
func (c *Cmd) HandleNumber(nr int, h handler.Handler) error {
	if c.started {
		return ErrStarted
	}
	return c.table.Register(nr, h)
}

// Run starts the command and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Start starts the command under supervision and returns once the filter
// is in place; the command's own code runs after that.
func (c *Cmd) Start() (err error) {
	if c.started {
		return ErrStarted
	}
	c.started = true
	if !initCalled {
		return ErrNoInit
	}
	if c.ctx == nil {
		c.ctx = context.Background()
	}
	if c.table == nil {
		c.table = handler.NewTable(syscalls.Native())
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	cfg, err := c.helperConfig()
	if err != nil {
		return err
	}
	payload, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("sandbox: encode helper config: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("sandbox: find own executable: %w", err)
	}

	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer cfgR.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		cfgW.Close()
		return fmt.Errorf("sandbox: %w", err)
	}
	defer statusR.Close()

	h := exec.Command(self)
	h.Args = []string{c.Args0()}
	h.Env = []string{helperEnv + "=1"}
	h.Stdin, h.Stdout, h.Stderr = c.Stdin, c.Stdout, c.Stderr
	h.ExtraFiles = []*os.File{cfgR, statusW}
	h.SysProcAttr = &syscall.SysProcAttr{
		// The command dies with the supervisor, and its whole process
		// group can be killed when the run ends. A session of its own
		// keeps it off the supervisor's controlling terminal.
		Pdeathsig: syscall.SIGKILL,
		Setsid:    true,
	}
	// Terminal (terminal.go): the pseudo-terminal as stdio and ctty.
	if err := c.openTerminal(h); err != nil {
		cfgW.Close()
		statusW.Close()
		return err
	}
	err = h.Start()
	statusW.Close()
	c.terminalStarted(err) // terminal.go: relays on, or closed on error
	if err != nil {
		cfgW.Close()
		return fmt.Errorf("sandbox: start helper: %w", err)
	}
	c.helper = h
	c.Process = h.Process
	fail := func(err error) error {
		_ = h.Process.Kill()
		_ = h.Wait()
		c.closeTerminal()              // terminal.go
		c.helper, c.Process = nil, nil // reaped: Wait must not touch its pid
		return err
	}

	go func() {
		_, _ = cfgW.Write(payload)
		cfgW.Close()
	}()

	fd, err := fetchListener(h.Process.Pid, statusR)
	if err != nil {
		return fail(fmt.Errorf("sandbox: start %s: %w", c.Path, err))
	}
	l, err := notif.NewListener(fd)
	if err != nil {
		unix.Close(fd)
		return fail(err)
	}
	if !c.Policy.AllowProcessGroups {
		// Every task stays in the process group that Wait kills, and
		// its death wakes a blocked RECV: skip the poll() per
		// notification.
		l.SetBlockingRecv(true)
	}
	if notif.HaveWaitKillableRecv.Check() == nil {
		// seccomp.Install asked for it, and the kernel has it.
		l.SetWaitKillableRecv(true)
	}
	c.listener = l

	var launched atomic.Bool
	execve, _ := syscalls.Native().Number(launcherSyscall)
	opts := handler.Options{}
	if c.ServeOptions != nil {
		opts = *c.ServeOptions
	}
	userPrefilter := opts.Prefilter
	opts.Prefilter = func(n *notif.Notif) bool {
		if !launched.Load() {
			// The helper's own syscalls, up to and including the
			// execve of the target, which is sequential: this is the
			// only filtered thread until then.
			if int(n.Data.Nr) == execve {
				launched.Store(true)
			}
			return true
		}
		return userPrefilter != nil && userPrefilter(n)
	}
	serveCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.served = make(chan error, 1)
	go func() { c.served <- handler.Serve(serveCtx, l, c.table, &opts) }()

	// The helper's execve closes the status pipe; before that it may
	// report a failure.
	msg, _ := io.ReadAll(statusR)
	if len(msg) > 0 {
		err := helperError(string(msg))
		c.killGroup()
		_ = h.Wait()
		c.finish()
		c.helper, c.Process = nil, nil
		return fmt.Errorf("sandbox: start %s: %w", c.Path, err)
	}
	if c.pidfd, err = unix.PidfdOpen(h.Process.Pid, 0); err != nil {
		c.pidfd = -1
	}
	c.done = make(chan struct{})
	go c.watchContext()
	return nil
}

// Args0 returns the name the command sees as argv[0].
func (c *Cmd) Args0() string {
	if len(c.Args) > 0 {
		return c.Args[0]
	}
	return c.Path
}

func (c *Cmd) helperConfig() (*helperConfig, error) {
	path := c.Path
	if path == "" {
		return nil, errors.New("sandbox: no program given")
	}
	if !strings.Contains(path, "/") {
		lp, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		path = lp
	}
	if c.Dir != "" && !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		path = abs
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sandbox: program: %w", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("sandbox: program %s: %w", path, os.ErrPermission)
	}
	prog, err := buildFilter(c.table.Arch(), c.table.Syscalls(), &c.Policy)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	ll := c.Policy.landlock()
	if ll != nil {
		if err := ll.check(); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	args := c.Args
	if len(args) == 0 {
		args = []string{c.Path}
	}
	return &helperConfig{
		Path:     path,
		Args:     args,
		Env:      env,
		Dir:      c.Dir,
		Program:  prog.Marshal(),
		Landlock: ll,
		Rlimits:  c.Policy.rlimits(),
	}, nil
}

// helperError turns the helper's "CODE message" report into an error.
func helperError(msg string) error {
	code, text, ok := strings.Cut(msg, " ")
	if !ok {
		return errors.New(msg)
	}
	switch code {
	case strconv.Itoa(exitNotFound):
		return fmt.Errorf("%s: %w", text, os.ErrNotExist)
	case strconv.Itoa(exitNotExec):
		return fmt.Errorf("%s: %w", text, os.ErrPermission)
	}
	return errors.New(text)
}

// fetchListener copies the helper's listener fd into this process once the
// helper has installed its filter. The helper cannot send it: any syscall
// it makes after the install may be trapped, and nobody could answer. It
// writes installingMark just before installing, or an error instead.
func fetchListener(pid int, status *os.File) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	exited := errors.New("helper exited before installing its filter")

	// Wait for the mark, an error, or the helper's death.
	fds := []unix.PollFd{
		{Fd: int32(status.Fd()), Events: unix.POLLIN},
		{Fd: int32(pidfd), Events: unix.POLLIN},
	}
	for {
		n, err := unix.Poll(fds, int(listenerTimeout/time.Millisecond))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("poll helper: %w", err)
		}
		if n == 0 {
			return -1, fmt.Errorf("helper did not start within %s", listenerTimeout)
		}
		break
	}
	var mark [1]byte
	if n, _ := status.Read(mark[:]); n == 0 {
		return -1, exited
	}
	if mark[0] != installingMark {
		rest, _ := io.ReadAll(status)
		return -1, helperError(string(mark[:]) + string(rest))
	}

	// The install takes microseconds: look for the listener.
	fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
	deadline := time.Now().Add(listenerTimeout)
	for wait := time.Microsecond; ; {
		if n, ok := findListenerFD(fdDir); ok {
			fd, err := unix.PidfdGetfd(pidfd, n, 0)
			if err != nil {
				return -1, fmt.Errorf("pidfd_getfd: %w", err)
			}
			if isListener(fd) {
				return fd, nil
			}
			unix.Close(fd) // the number was reused in between
			continue
		}
		if pfd := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}; pollNow(pfd) {
			// It exited; an error may be waiting on the status pipe.
			if msg, _ := io.ReadAll(status); len(msg) > 0 {
				return -1, helperError(string(msg))
			}
			return -1, exited
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("helper did not install its filter within %s", listenerTimeout)
		}
		time.Sleep(wait)
		if wait < time.Millisecond {
			wait *= 2
		}
	}
}

// pollNow reports whether any of fds is ready, without waiting.
func pollNow(fds []unix.PollFd) bool {
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

const listenerLink = "anon_inode:seccomp notify"

func findListenerFD(dir string) (int, bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	for _, e := range entries {
		if target, err := os.Readlink(dir + "/" + e.Name()); err == nil && target == listenerLink {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

func isListener(fd int) bool {
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err == nil && target == listenerLink
}

// watchContext kills the command when the Cmd's context is done before
// Wait finished.
func (c *Cmd) watchContext() {
	select {
	case <-c.ctx.Done():
		c.killGroup()
	case <-c.done:
	}
}

// waitExit blocks until the command has exited, without reaping it, so that
// the rest of its process group can be killed before exec.Cmd.Wait waits for
// the output pipes those processes may hold.
func (c *Cmd) waitExit() {
	if c.pidfd < 0 {
		return
	}
	fds := []unix.PollFd{{Fd: int32(c.pidfd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			return
		}
	}
}

func (c *Cmd) killGroup() {
	if c.helper != nil && c.helper.Process != nil {
		_ = unix.Kill(-c.helper.Process.Pid, unix.SIGKILL)
		_ = c.helper.Process.Kill()
	}
}

// Wait waits for the command to exit, stops supervision and releases every
// resource of the run. Processes the command left behind in its process
// group are killed. Like exec.Cmd.Wait it returns an *exec.ExitError
// (also an *ExitError here) when the command did not exit 0, and the
// context's error when the context killed it.
func (c *Cmd) Wait() error {
	if c.helper == nil {
		return errors.New("sandbox: not started")
	}
	c.waitOnce.Do(func() {
		c.waitExit()
		c.killGroup()
		err := c.helper.Wait()
		c.ProcessState = c.helper.ProcessState
		close(c.done)
		if c.pidfd >= 0 {
			unix.Close(c.pidfd)
		}
		c.finish()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = &ExitError{ExitError: ee}
		}
		// Wrapped after the conversion above, which would drop it.
		if ctxErr := c.ctx.Err(); ctxErr != nil && err != nil {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		c.waitErr = err
	})
	return c.waitErr
}

// finish stops the dispatch loop and closes the listener, and the
// terminal (after its last output) if any.
func (c *Cmd) finish() {
	c.closeTerminal() // terminal.go
	if c.cancel != nil {
		c.cancel()
		<-c.served
		c.cancel = nil
	}
	if c.listener != nil {
		_ = c.listener.Close()
	}
}

// ExitError is a command that did not exit 0.
type ExitError struct {
	*exec.ExitError
}

// Unwrap returns the *exec.ExitError, so that errors.As finds it too.
func (e *ExitError) Unwrap() error { return e.ExitError }

// ExitStatus returns the shell's view of the exit: the exit code, or
// 128+N when the command was killed by signal N.
func (c *Cmd) ExitStatus() int {
	if c.ProcessState == nil {
		return -1
	}
	return exitStatus(c.ProcessState)
}

func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// Signal returns the signal that killed the command, 0 if it exited.
func (c *Cmd) Signal() syscall.Signal {
	if c.ProcessState == nil {
		return 0
	}
	if ws, ok := c.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}
