package tests

// The runner's lifecycle: exit status and signals, cancellation, a child
// killed while its notification is in a handler, leftover processes, start
// errors and resource leaks.

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// promptly bounds how long Wait may take once the child is dead.
const promptly = 3 * time.Second

// The exit code and the killing signal reach ExitStatus, Signal and Wait's
// error.
func TestExitStatus(t *testing.T) {
	cases := []struct {
		args   []string
		status int
		signal syscall.Signal
	}{
		{[]string{"exit", "0"}, 0, 0},
		{[]string{"exit", "3"}, 3, 0},
		{[]string{"kill", "SIGKILL"}, 128 + 9, syscall.SIGKILL},
		{[]string{"kill", "SIGTERM"}, 128 + 15, syscall.SIGTERM},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, "-"), func(t *testing.T) {
			r := newRun(t, tc.args...)
			// A handler makes this a supervised run.
			r.handle(t, "getppid", func(*handler.Ctx) handler.Action { return handler.Continue() })
			out, err := r.run(t)
			require.Equal(t, tc.status, r.ExitStatus(), "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
			require.Equal(t, tc.signal, r.Signal())
			if tc.status == 0 {
				require.NoError(t, err)
				return
			}
			var ee *sandbox.ExitError
			require.ErrorAs(t, err, &ee)
			var xe *exec.ExitError
			require.ErrorAs(t, err, &xe)
			if tc.signal == 0 {
				require.Equal(t, tc.status, xe.ExitCode())
			}
		})
	}
	t.Run("killed-by-test", func(t *testing.T) {
		r := newRun(t, "sleep", "30s")
		r.handle(t, "getppid", func(*handler.Ctx) handler.Action { return handler.Continue() })
		require.NoError(t, r.Start())
		r.waitOutput(t, "sleeping")
		require.NoError(t, r.Process.Signal(syscall.SIGKILL))
		elapsed, err := r.waitWithin(t, promptly, nil)
		require.Error(t, err)
		require.Less(t, elapsed, promptly)
		require.Equal(t, 128+9, r.ExitStatus())
		require.Equal(t, syscall.SIGKILL, r.Signal())
	})
}

// Cancelling the context kills the child and Wait returns promptly, with
// no goroutine left behind: while the child sleeps, while a handler holds
// its notification until the context ends, and while a handler is stuck
// past the shutdown grace.
func TestCancel(t *testing.T) {
	t.Run("sleeping", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := newRunContext(t, ctx, victim(t), "sleep", "30s")
		r.handle(t, "getppid", func(*handler.Ctx) handler.Action { return handler.Continue() })
		require.NoError(t, r.Start())
		r.waitOutput(t, "sleeping\n")
		cancel()
		elapsed, err := r.waitWithin(t, promptly, r.kill)
		require.Less(t, elapsed, promptly)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, syscall.SIGKILL, r.Signal())
		require.NotContains(t, r.stdout.String(), "woke")
	})

	t.Run("handler-holds-notification", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := newRunContext(t, ctx, victim(t), "getppid")
		entered := make(chan struct{})
		var finished atomic.Bool
		r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
			close(entered)
			// Hold the notification until the child is gone.
			for c.Valid() == nil {
				time.Sleep(time.Millisecond)
			}
			finished.Store(true)
			return handler.ReturnValue(1)
		})
		require.NoError(t, r.Start())
		receive(t, entered, runTimeout, "handler call")
		cancel()
		elapsed, err := r.waitWithin(t, promptly, r.kill)
		require.Less(t, elapsed, promptly)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, syscall.SIGKILL, r.Signal())
		require.Equal(t, "before\n", r.stdout.String())
		require.True(t, finished.Load(), "Wait returned before the handler did")
	})

	t.Run("handler-stuck-past-grace", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := newRunContext(t, ctx, victim(t), "getppid")
		const grace = 200 * time.Millisecond
		var errs errorLog
		r.ServeOptions = &handler.Options{ShutdownGrace: grace, OnError: errs.add}
		entered := make(chan struct{})
		release := make(chan struct{})
		handlerDone := make(chan struct{})
		r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
			defer close(handlerDone)
			close(entered)
			<-release
			return handler.ReturnValue(1)
		})
		released := sync.OnceFunc(func() { close(release) })
		defer released() // before VerifyNone, also when the test fails
		require.NoError(t, r.Start())
		receive(t, entered, runTimeout, "handler call")
		cancel()
		elapsed, err := r.waitWithin(t, grace+promptly, released)
		require.Less(t, elapsed, grace+promptly)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, syscall.SIGKILL, r.Signal())
		require.Equal(t, "before\n", r.stdout.String())
		// The stuck handler keeps its goroutine until it returns; its late
		// answer is dropped.
		released()
		receive(t, handlerDone, runTimeout, "handler return")
		got := errs.all()
		require.Len(t, got, 1, "OnError: %v", got)
		require.ErrorContains(t, got[0], "still running at shutdown")
	})
}

// The child is killed while a handler holds its notification: the handler
// sees the notification gone (ErrNotificationGone and ENOENT), its answer
// fails quietly, and the run ends at once.
func TestChildKilledMidNotification(t *testing.T) {
	t.Run("blocking-handler", func(t *testing.T) {
		r := newRun(t, "getppid")
		var errs errorLog
		r.ServeOptions = &handler.Options{OnError: errs.add}
		entered := make(chan struct{})
		killed := make(chan struct{})
		var before, after error
		var readErr error
		r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
			before = c.Valid()
			close(entered)
			<-killed
			deadline := time.Now().Add(promptly)
			for after = c.Valid(); after == nil && time.Now().Before(deadline); after = c.Valid() {
				time.Sleep(time.Millisecond)
			}
			_, readErr = c.Read(c.InstructionPointer(), 8)
			return handler.ReturnValue(1)
		})
		require.NoError(t, r.Start())
		receive(t, entered, runTimeout, "handler call")
		require.NoError(t, r.Process.Signal(syscall.SIGKILL))
		close(killed)
		elapsed, err := r.waitWithin(t, promptly, nil)
		require.Error(t, err)
		require.Less(t, elapsed, promptly)
		require.Equal(t, syscall.SIGKILL, r.Signal())
		require.Equal(t, "before\n", r.stdout.String())

		require.NoError(t, before, "the notification was pending while the child lived")
		require.ErrorIs(t, after, notif.ErrNotificationGone)
		require.ErrorIs(t, after, unix.ENOENT)
		require.Error(t, readErr, "reading a dead child's memory")
		require.Empty(t, errs.all(), "the failed answer to a dead child is not an error")
	})

	t.Run("held-responder", func(t *testing.T) {
		r := newRun(t, "getppid")
		var errs errorLog
		r.ServeOptions = &handler.Options{OnError: errs.add}
		entered := make(chan struct{})
		killed := make(chan struct{})
		var valid, sent, again error
		r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
			resp := c.Responder()
			close(entered)
			<-killed
			deadline := time.Now().Add(promptly)
			for valid = c.Valid(); valid == nil && time.Now().Before(deadline); valid = c.Valid() {
				time.Sleep(time.Millisecond)
			}
			// SECCOMP_IOCTL_NOTIF_SEND for a dead child fails with ENOENT.
			sent = resp.Respond(handler.ReturnValue(1))
			again = resp.Respond(handler.ReturnValue(1))
			return handler.Hold()
		})
		require.NoError(t, r.Start())
		receive(t, entered, runTimeout, "handler call")
		require.NoError(t, r.Process.Signal(syscall.SIGKILL))
		close(killed)
		elapsed, err := r.waitWithin(t, promptly, nil)
		require.Error(t, err)
		require.Less(t, elapsed, promptly)
		require.Equal(t, syscall.SIGKILL, r.Signal())
		require.Equal(t, "before\n", r.stdout.String())

		require.ErrorIs(t, valid, notif.ErrNotificationGone)
		require.ErrorIs(t, sent, notif.ErrNotificationGone)
		require.ErrorIs(t, sent, unix.ENOENT)
		require.ErrorIs(t, again, handler.ErrAlreadyAnswered)
		require.Empty(t, errs.all())
	})
}

// 100 short supervised runs leave exactly as many descriptors open as
// before, and no goroutine.
func TestNoLeaks(t *testing.T) {
	const runs = 100
	one := func() {
		r := newRunContext(t, context.Background(), "/bin/true")
		r.handle(t, "openat", func(*handler.Ctx) handler.Action { return handler.Continue() })
		r.handle(t, "close", func(*handler.Ctx) handler.Action { return handler.Continue() })
		r.mustRun(t)
	}
	one()        // warm up: lazily created runtime descriptors (netpoller)
	runtime.GC() // let finalizers close what earlier tests dropped
	fds := countFDs(t)
	goroutines := runtime.NumGoroutine()
	start := time.Now()
	for range runs {
		one()
	}
	elapsed := time.Since(start)
	runtime.GC()
	require.Equal(t, fds, countFDs(t), "open descriptors:\n%s", listFDs())
	got := settleGoroutines(goroutines, 2*time.Second)
	require.LessOrEqual(t, got, goroutines, "goroutines before %d, after %d", goroutines, got)
	t.Logf("%d runs in %s (%s per run); %d fds, %d goroutines", runs, elapsed.Round(time.Millisecond),
		(elapsed / runs).Round(10*time.Microsecond), fds, got)
}

// Start errors name their cause, and leak nothing.
func TestStartErrors(t *testing.T) {
	dir := t.TempDir()
	script := writeFile(t, dir, "script", "#!/nonexistent/interpreter\necho never\n")
	require.NoError(t, os.Chmod(script, 0o755))
	notExec := writeFile(t, dir, "not-executable", "#!/bin/sh\necho never\n")

	cases := []struct {
		name string
		path string
		want error
	}{
		{"missing-absolute", dir + "/no-such-program", os.ErrNotExist},
		{"missing-in-PATH", "sandlock-go-no-such-program", exec.ErrNotFound},
		// The helper's execve fails with ENOENT: reported through it.
		{"missing-interpreter", script, os.ErrNotExist},
		{"not-executable", notExec, os.ErrPermission},
	}
	goroutines := runtime.NumGoroutine()
	fds := countFDs(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRunContext(t, context.Background(), tc.path)
			r.handle(t, "getppid", func(*handler.Ctx) handler.Action { return handler.Continue() })
			err := r.Start()
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, fds, countFDs(t), "open descriptors:\n%s", listFDs())
			require.Error(t, r.Wait(), "Wait after a failed Start")
		})
	}
	got := settleGoroutines(goroutines, 2*time.Second)
	require.LessOrEqual(t, got, goroutines)

	t.Run("twice", func(t *testing.T) {
		r := newRun(t, "exit", "0")
		require.NoError(t, r.Start())
		require.ErrorIs(t, r.Start(), sandbox.ErrStarted)
		require.ErrorIs(t, r.Handle("getpid", handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() })), sandbox.ErrStarted)
		require.NoError(t, r.Wait())
	})
	t.Run("cancelled-context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := newRunContext(t, ctx, victim(t), "exit", "0")
		require.ErrorIs(t, r.Start(), context.Canceled)
		require.Equal(t, fds, countFDs(t))
	})
}

// A grandchild outlives its parent inside the run: the victim starts
// "middle" and waits for it, middle starts "leaf" and exits, leaf waits to
// be reparented, then makes trapped calls, which are answered; the victim
// outlives leaf.
func TestGrandchildOutlivesParent(t *testing.T) {
	r := newRun(t, "tree")
	var mu sync.Mutex
	getpidBy := map[int]int{}
	getppidBy := map[int]int{}
	r.handle(t, "getpid", func(c *handler.Ctx) handler.Action {
		if c.Arg(0) != getpidMagic {
			return handler.Continue()
		}
		mu.Lock()
		getpidBy[tgidOf(c.Pid())]++ // a Go program calls from any thread
		mu.Unlock()
		return handler.ReturnValue(4242)
	})
	r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
		mu.Lock()
		getppidBy[tgidOf(c.Pid())]++
		mu.Unlock()
		return handler.Continue()
	})
	out := r.mustRun(t)
	require.Contains(t, out, "tree middle-exited pid=")
	require.Contains(t, out, "tree from-leaf leaf-after-parent-exit getpid=4242 errno=0\n")
	require.True(t, strings.HasSuffix(out, "tree done\n"), "stdout:\n%s", out)
	// The middle exited before the leaf's trapped getpid.
	require.Less(t, strings.Index(out, "tree middle-exited"), strings.Index(out, "tree from-leaf"))

	leaf := lineField(t, out, "leaf pid=", "pid")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, map[int]int{leaf: 1}, getpidBy)
	require.Positive(t, getppidBy[leaf], "the leaf's getppid polls were notified: %v", getppidBy)
}

// Processes the command leaves behind in its process group are killed when
// it exits, so Wait does not wait for the output pipe they hold.
func TestLeftoverProcessGroupKilled(t *testing.T) {
	r := newRun(t, "background")
	r.handle(t, "getppid", func(*handler.Ctx) handler.Action { return handler.Continue() })
	require.NoError(t, r.Start())
	r.waitOutput(t, "background pid=")
	out := r.stdout.String()
	bg := lineField(t, out, "background pid=", "pid")
	elapsed, err := r.waitWithin(t, promptly, func() { _ = unix.Kill(bg, unix.SIGKILL) })
	require.NoError(t, err)
	require.Less(t, elapsed, promptly, "Wait waited for the background process")
	deadline := time.Now().Add(promptly)
	for !processGone(bg) {
		if time.Now().After(deadline) {
			_ = unix.Kill(bg, unix.SIGKILL)
			t.Fatalf("background process %d survived the run", bg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lineField returns the integer value of key on the first line that
// starts with prefix.
func lineField(t testing.TB, out, prefix, key string) int {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		for _, word := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(word, key+"="); ok {
				n, err := strconv.Atoi(v)
				require.NoError(t, err)
				return n
			}
		}
	}
	t.Fatalf("no line %q with %s= in:\n%s", prefix, key, out)
	return 0
}
