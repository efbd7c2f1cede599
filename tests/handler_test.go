package tests

// The handler model end to end: every Action kind and the exception
// policies, seen by a real child under a real filter (the reference
// wrapper's test plan).

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// The child sees the errno a handler returns. Every openat fails, also the
// Go runtime's own (which it tolerates), so the test depends on nothing but
// the dispatch of an Errno action.
func TestActionErrno(t *testing.T) {
	path := writeFile(t, t.TempDir(), "plain.txt", "plain content")
	r := newRun(t, "open", path)
	var calls atomic.Int32
	r.handle(t, "openat", func(c *handler.Ctx) handler.Action {
		calls.Add(1)
		return handler.Errno(unix.EPERM)
	})
	out := r.mustRun(t)
	require.Contains(t, out, "open path="+path+" errno=EPERM\n")
	require.Positive(t, calls.Load())
}

// The child's getpid returns the value a handler makes up.
func TestActionReturnValue(t *testing.T) {
	r := newRun(t, "getpid")
	var calls atomic.Int32
	r.handle(t, "getpid", func(c *handler.Ctx) handler.Action {
		if c.Arg(0) != getpidMagic {
			return handler.Continue() // the Go runtime's own getpid
		}
		calls.Add(1)
		return handler.ReturnValue(777)
	})
	out := r.mustRun(t)
	require.Contains(t, out, "getpid=777 errno=0 real=")
	require.NotContains(t, out, "real=777\n")
	require.EqualValues(t, 1, calls.Load())
}

// A Kill returned by the handler kills the child at the syscall. The
// exception policy is Continue, so the kill cannot come from a fallback.
func TestActionKill(t *testing.T) {
	r := newRun(t, "getppid")
	var calls atomic.Int32
	require.NoError(t, r.Handle("getppid", handler.WithExceptionPolicy(handler.Func(func(c *handler.Ctx) handler.Action {
		calls.Add(1)
		return handler.Kill()
	}), handler.ExceptionContinue)))
	out, err := r.run(t)
	require.Error(t, err)
	require.Equal(t, syscall.SIGKILL, r.Signal(), "stdout:\n%s", out)
	require.Equal(t, 128+9, r.ExitStatus())
	require.Equal(t, "before\n", out)
	require.EqualValues(t, 1, calls.Load())
}

// InjectFD: the child's openat of one path returns a descriptor the
// supervisor opened on another file, with the requested close-on-exec
// flag; the supervisor's own copy is closed.
func TestActionInjectFD(t *testing.T) {
	dir := t.TempDir()
	decoyExec := writeFile(t, dir, "decoy-cloexec.txt", "decoy content")
	decoyKeep := writeFile(t, dir, "decoy-keep.txt", "decoy content")
	plain := writeFile(t, dir, "plain.txt", "plain content")
	secret := writeFile(t, dir, "secret.txt", "secret from the supervisor")

	fdsBefore := countFDs(t)
	r := newRun(t, "open", decoyExec, decoyKeep, plain)
	var opened, injected atomic.Int32
	r.handle(t, "openat", func(c *handler.Ctx) handler.Action {
		p, err := c.ReadPath(1)
		if err != nil {
			return handler.Continue()
		}
		var flags int
		switch p {
		case decoyExec:
			flags = unix.O_CLOEXEC
		case decoyKeep:
			flags = 0
		default:
			return handler.Continue()
		}
		fd, err := unix.Open(secret, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return handler.Errno(unix.EIO)
		}
		opened.Add(1)
		injected.Add(1)
		return handler.InjectFD(fd, flags)
	})
	out := r.mustRun(t)
	require.Regexp(t, `open path=`+decoyExec+` fd=\d+ cloexec=true content=secret from the supervisor\n`, out)
	require.Regexp(t, `open path=`+decoyKeep+` fd=\d+ cloexec=false content=secret from the supervisor\n`, out)
	require.Regexp(t, `open path=`+plain+` fd=\d+ cloexec=true content=plain content\n`, out)
	require.EqualValues(t, 2, injected.Load())
	require.Equal(t, fdsBefore, countFDs(t), "the supervisor's copies of injected fds must be closed:\n%s", listFDs())
}

// ReadCString and ReadPath decode the real openat path from child memory;
// one file is denied by its absolute path, whether the child names it
// absolutely or relative to its working directory, and others open.
func TestCtxReadPathDeniesOneFile(t *testing.T) {
	dir := t.TempDir()
	allowed := writeFile(t, dir, "allowed.txt", "allowed content")
	denied := writeFile(t, dir, "denied.txt", "denied content")

	r := newRun(t, "open", allowed, denied, "denied.txt", "allowed.txt")
	r.Dir = dir
	var mu sync.Mutex
	var raw, resolved []string
	r.handle(t, "openat", func(c *handler.Ctx) handler.Action {
		s, err := c.ReadCString(c.Arg(1), handler.PathMax)
		if err != nil {
			return handler.Errno(unix.EFAULT)
		}
		p, err := c.ReadPath(1)
		if err != nil {
			return handler.Errno(unix.EFAULT)
		}
		mu.Lock()
		raw = append(raw, s)
		resolved = append(resolved, p)
		mu.Unlock()
		if p == denied {
			return handler.Errno(unix.EACCES)
		}
		return handler.Continue()
	})
	out := r.mustRun(t)
	require.Contains(t, out, "open path="+denied+" errno=EACCES\n")
	require.Contains(t, out, "open path=denied.txt errno=EACCES\n")
	require.Regexp(t, `open path=`+allowed+` fd=\d+ cloexec=true content=allowed content\n`, out)
	require.Regexp(t, `open path=allowed.txt fd=\d+ cloexec=true content=allowed content\n`, out)

	mu.Lock()
	defer mu.Unlock()
	require.Subset(t, raw, []string{allowed, denied, "denied.txt", "allowed.txt"})
	require.Subset(t, resolved, []string{allowed, denied})
	n := 0
	for _, p := range resolved {
		if p == denied {
			n++
		}
	}
	require.Equal(t, 2, n, "denied.txt resolved against the working directory: %q", resolved)
}

// A handler that panics or returns the zero Action gets its exception
// policy: Kill stops the child at the syscall (it printed "before" and not
// "after"), Continue lets the syscall run, DenyEPERM and DenyEIO fail it.
func TestExceptionPolicies(t *testing.T) {
	faults := []struct {
		name string
		f    func() handler.Action
		msg  string
	}{
		{"panic", func() handler.Action { panic("handler exploded") }, "panicked"},
		{"zero-action", func() handler.Action { return handler.Action{} }, "invalid action"},
	}
	policies := []struct {
		name   string
		policy *handler.ExceptionPolicy
		after  string // the "after" line, "" when the child must be killed
	}{
		{"default", nil, ""},
		{"kill", ptr(handler.ExceptionKill), ""},
		{"continue", ptr(handler.ExceptionContinue), "after ret=" + strconv.Itoa(os.Getpid()) + " errno=0\n"},
		{"eperm", ptr(handler.ExceptionDenyEPERM), "after ret=-1 errno=EPERM\n"},
		{"eio", ptr(handler.ExceptionDenyEIO), "after ret=-1 errno=EIO\n"},
	}
	for _, fault := range faults {
		for _, pol := range policies {
			t.Run(fault.name+"/"+pol.name, func(t *testing.T) {
				r := newRun(t, "getppid")
				var errs errorLog
				r.ServeOptions = &handler.Options{OnError: errs.add}
				var ran atomic.Int32
				var h handler.Handler = handler.Func(func(c *handler.Ctx) handler.Action {
					ran.Add(1)
					return fault.f()
				})
				if pol.policy != nil {
					h = handler.WithExceptionPolicy(h, *pol.policy)
				}
				require.NoError(t, r.Handle("getppid", h))
				out, err := r.run(t)
				require.EqualValues(t, 1, ran.Load(), "the handler must have run once")
				if pol.after == "" {
					require.Error(t, err)
					require.Equal(t, syscall.SIGKILL, r.Signal(), "stdout:\n%s", out)
					require.Equal(t, "before\n", out, "killed at the trapped syscall")
				} else {
					require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
					require.Equal(t, "before\n"+pol.after, out)
				}
				got := errs.all()
				require.Len(t, got, 1, "OnError: %v", got)
				require.ErrorContains(t, got[0], fault.msg)
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }

// Four threads make 10,000 trapped getppid calls each with the argument
// tid<<20|i; the handler checks that the notification's pid is that thread
// and answers arg+1. The victim checks every answer.
func TestMultiThreadedReturnValues(t *testing.T) {
	const threads, iters = 4, 10000
	r := newRun(t, "threads", strconv.Itoa(threads), strconv.Itoa(iters))
	var calls, wrongPid atomic.Int64
	r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
		calls.Add(1)
		arg := c.Arg(0)
		if int(arg>>20) != c.Pid() {
			wrongPid.Add(1)
			return handler.Errno(unix.ESRCH)
		}
		return handler.ReturnValue(int64(arg + 1))
	})
	start := time.Now()
	out := r.mustRun(t)
	elapsed := time.Since(start)
	require.Contains(t, out, fmt.Sprintf("threads=%d calls=%d ok\n", threads, threads*iters))
	require.Zero(t, wrongPid.Load())
	require.GreaterOrEqual(t, calls.Load(), int64(threads*iters))
	t.Logf("%d trapped calls in %s (%.1f µs per call)", calls.Load(), elapsed.Round(time.Millisecond),
		float64(elapsed.Microseconds())/float64(calls.Load()))
}

// The Ctx shows the notification the kernel built: syscall number and
// name, architecture, trapped thread, instruction pointer and all six
// raw arguments; Observe sees the final action with the time spent.
func TestCtxFields(t *testing.T) {
	// Args of tests/victims/victim.
	want := [6]uint64{0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666}
	r := newRun(t, "args")
	type seen struct {
		nr, pid    int
		name, arch string
		audit      uint32
		ip         uint64
		args       [6]uint64
		arg5       uint64
		tgid       int
	}
	got := make(chan seen, 1)
	observed := make(chan string, 1)
	r.ServeOptions = &handler.Options{Observe: func(c *handler.Ctx, a handler.Action, d time.Duration) {
		if c.SyscallName() == "getppid" {
			select { // the first call is the one checked; never block the run
			case observed <- a.String():
			default:
			}
		}
	}}
	r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
		// The thread's process, checked against the command's pid
		// after the run: r.Process may not be set yet when the command
		// makes its first call.
		tgid := tgidOf(c.Pid())
		select {
		case got <- seen{
			nr: c.Syscall(), pid: c.Pid(), name: c.SyscallName(), arch: c.Arch().String(),
			audit: c.Notif().Data.Arch, ip: c.InstructionPointer(), args: c.Args(), arg5: c.Arg(5),
			tgid: tgid,
		}:
		default:
		}
		var sum int64
		for _, a := range c.Args() {
			sum += int64(a)
		}
		return handler.ReturnValue(sum)
	})
	out := r.mustRun(t)
	require.Equal(t, "args ret="+strconv.Itoa(0x1111+0x2222+0x3333+0x4444+0x5555+0x6666)+" errno=0\n", out)
	s := receive(t, got, time.Second, "handler call")
	require.Equal(t, nr(t, "getppid"), s.nr)
	require.Equal(t, "getppid", s.name)
	require.Equal(t, syscalls.Native().String(), s.arch)
	require.Equal(t, syscalls.Native().AuditArch(), s.audit)
	require.NotZero(t, s.ip)
	require.Equal(t, want, s.args)
	require.Equal(t, want[5], s.arg5)
	require.Equal(t, r.Process.Pid, s.tgid, "pid %d is a thread of the victim", s.pid)
	require.Equal(t, "return:"+strconv.Itoa(0x1111+0x2222+0x3333+0x4444+0x5555+0x6666), receive(t, observed, time.Second, "Observe call"))
}

// A command without handlers runs (only the launcher's execve is
// trapped); registration rejects unknown syscalls and nil handlers.
func TestRegistration(t *testing.T) {
	r := newRun(t, "exit", "0")
	require.Equal(t, "exiting code=0\n", r.mustRun(t))

	r = newRun(t, "exit", "0")
	err := r.Handle("no_such_syscall", handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() }))
	require.ErrorIs(t, err, handler.ErrUnknownSyscall)
	require.Error(t, r.Handle("getppid", nil))
	require.ErrorIs(t, r.HandleNumber(syscalls.Native().MaxNumber()+1,
		handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() })), handler.ErrUnknownSyscall)
}
