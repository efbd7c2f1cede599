package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/runset"
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

// Cmd is a command to run under supervision, built like an exec.Cmd.
//
// Register handlers with Handle before Start; a syscall without a handler
// and not denied runs unsupervised (Landlock still applies).
//
// The command runs in a session of its own, whose every process is killed
// when the run ends (job control may move processes between groups of that
// session; setsid is denied unless Policy.AllowProcessGroups). It has no controlling terminal unless Terminal
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
	// ExtraFiles are open files the command inherits, as in exec.Cmd:
	// entry i becomes descriptor 3+i. The command inherits no other
	// descriptor than these and 0, 1, 2, whatever the supervisor holds.
	ExtraFiles []*os.File
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
	confiner *confiner
	guard    *runGuard
	cancel   context.CancelFunc
	served   chan error
	done     chan struct{}
	pidfd    int
	waitOnce sync.Once
	waitErr  error
	tty      *terminalRun  // terminal.go
	procs    *processLimit // pids.go
	// procErr is the first error of the process limit during the run
	// (moving the command into its cgroup, removing the cgroup).
	procErr atomic.Pointer[error]
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

// HandlePolicy registers p on every syscall it names for the native
// architecture and adds the syscalls it requires denied in the kernel
// (handler.KernelDenier) to Policy.Deny, so that nothing that would bypass
// it stays open while it is active.
func (c *Cmd) HandlePolicy(p handler.Policy) error {
	if c.started {
		return ErrStarted
	}
	if err := handler.RegisterPolicy(c.table, p); err != nil {
		return err
	}
	for _, name := range handler.KernelDenies(p, c.table.Arch()) {
		if !slices.Contains(c.Policy.Deny, name) {
			c.Policy.Deny = append(c.Policy.Deny, name)
		}
	}
	return nil
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
func (c *Cmd) Start() error {
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
	keepSupervisorOutOfReach()
	// The run's pids cgroup, or the trap on process creation (pids.go);
	// the cgroup goes on every way out of Start but success, panics
	// included. It comes first: the trap adds handlers to the config.
	started := false
	defer func() {
		if !started {
			_ = c.releaseProcessLimit()
		}
	}()
	if err := c.setupProcessLimit(); err != nil {
		return err
	}
	// The helper next: its exec and runtime start run while the config
	// (the filter's compilation most of all) is built here.
	l, err := startHelper(c)
	if err != nil {
		return err
	}
	cfg, err := c.helperConfig()
	if err != nil {
		return l.abort(c, err)
	}
	if err := l.sendConfig(cfg); err != nil {
		return l.abort(c, err)
	}
	c.confiner = newConfiner(cfg, c.Policy.Identity, c.confinedThreads())
	c.guard.sid.Store(int64(l.helper.Process.Pid)) // Setsid: the session is the helper's
	c.confiner.target(l.helper.Process.Pid)
	fd, err := l.listener()
	if err != nil {
		return l.abort(c, err)
	}
	if err := c.serve(fd, cfg.WaitKillable); err != nil {
		return l.abort(c, err)
	}
	if err := l.awaitExec(); err != nil {
		return l.abort(c, err)
	}
	if perr := c.procErr.Load(); perr != nil {
		return l.abort(c, *perr)
	}
	started = true
	c.helper, c.Process, c.pidfd = l.helper, l.helper.Process, l.release()
	c.done = make(chan struct{})
	go c.watchContext()
	return nil
}

// confinedThreads is how many handlers may act on the command's behalf at
// once: the workers, up to maxConfinedThreads.
func (c *Cmd) confinedThreads() int {
	if c.ServeOptions != nil && c.ServeOptions.Workers > 0 {
		return min(c.ServeOptions.Workers, maxConfinedThreads)
	}
	return maxConfinedThreads
}

// serve starts the dispatch loop on the listener fd. Until the helper's
// execve of the command, every notification is the helper's own and is
// answered Continue without reaching the handlers.
func (c *Cmd) serve(fd int, waitKillable bool) error {
	var lopts []notif.ListenerOption
	if !c.Policy.AllowProcessGroups {
		// Every task stays in the session that Wait kills, and its
		// death wakes a blocked RECV: skip the poll() per
		// notification.
		lopts = append(lopts, notif.BlockingRecv())
	}
	if waitKillable {
		// The helper installed the filter with it (or failed).
		lopts = append(lopts, notif.WaitKillableRecv())
	}
	l, err := notif.NewListener(fd, lopts...)
	if err != nil {
		unix.Close(fd)
		return err
	}
	c.listener = l

	var launched atomic.Bool
	execve, _ := syscalls.Native().Number(launcherSyscall)
	opts := handler.Options{}
	if c.ServeOptions != nil {
		opts = *c.ServeOptions
	}
	if opts.AsProcess == nil {
		opts.AsProcess = c.confiner.do
	}
	if opts.InRun == nil {
		opts.InRun = c.guard.inRun
	}
	userPrefilter := opts.Prefilter
	opts.Prefilter = func(n *notif.Notif) bool {
		if !launched.Load() {
			// The helper's own syscalls, up to and including the
			// execve of the target, which is sequential: this is the
			// only filtered thread until then.
			if int(n.Data.Nr) == execve {
				// The command and its descendants are in the
				// run's cgroup from its first instruction.
				c.enterProcessLimit(int(n.Pid))
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
	guards, err := c.registerGuards()
	if err != nil {
		return nil, err
	}
	prog, err := buildFilter(c.table.Arch(), c.table.Syscalls(), &c.Policy, guards...)
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	static, err := c.Policy.staticProgram(c.table.Arch())
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
	iso, err := c.Policy.isolation(env, len(c.ExtraFiles))
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return &helperConfig{
		Path:      path,
		Args:      args,
		Env:       env,
		Dir:       c.Dir,
		Program:   prog.Marshal(),
		Static:    static.Marshal(),
		Landlock:  ll,
		Layer:     c.Policy.policyLayer(path),
		Isolation: iso,
		Rlimits:   c.Policy.rlimits(),
		// Where the kernel has it, so that a received notification
		// ends only with its answer or the task's death.
		WaitKillable: notif.HaveWaitKillableRecv.Check() == nil,
	}, nil
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

// killGroup kills every process of the run: the command's session (its
// process groups: job control may have made more than one), and the
// members of the run's pids cgroup, if any.
func (c *Cmd) killGroup() {
	if c.helper != nil && c.helper.Process != nil {
		killSession(c.helper.Process.Pid, c.targetsExited)
		_ = c.helper.Process.Kill()
	}
	c.killProcessLimit() // pids.go: those that left the session too
}

// targetsExited reports whether every task under the command's filter has
// exited. Every process of the run's session is under it (the helper
// installs the filter before it executes the command, and a process joins
// no session but its parent's or a new one), so then none is left to kill.
func (c *Cmd) targetsExited() bool {
	return c.listener != nil && c.listener.TargetsExited()
}

// killSession kills the processes of session sid until none is left (a
// process may fork between a scan and its kill; SIGKILL then stops its
// children from forking again), for a bounded number of rounds. The scan
// of /proc (a millisecond on a busy host) is skipped when gone reports
// that no process of the session can be left.
func killSession(sid int, gone func() bool) {
	_ = unix.Kill(-sid, unix.SIGKILL)
	if gone != nil && gone() {
		return
	}
	for range 16 {
		pids, err := runset.SessionMembers(sid)
		if err != nil || len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// Wait waits for the command to exit, stops supervision and releases every
// resource of the run. Processes the command left behind in its session
// are killed. Like exec.Cmd.Wait it returns an *exec.ExitError
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
		if perr := c.procErr.Load(); perr != nil && err == nil {
			err = *perr
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
	if c.confiner != nil {
		c.confiner.close()
	}
	if err := c.releaseProcessLimit(); err != nil {
		c.procErr.CompareAndSwap(nil, &err)
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
