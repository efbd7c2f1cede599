package tests

// Scenario 1: the child is SIGKILLed while 1, 10 and 100 of its
// notifications are pending in the kernel or held by handlers.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
)

// TestReliabilityKilledWithPending: N threads of the victim are trapped in
// getppid, Workers of them in handlers that block until the test has
// killed the child, the others still queued in the kernel. After the
// SIGKILL every handler sees its notification gone, every answer (return
// value, errno, injected fd, continue, kill) fails quietly: OnError hears
// nothing, and no descriptor or goroutine is left behind.
//
// "released-after-wait" keeps the handlers blocked until Wait has
// returned: Serve answers them after ShutdownGrace with their policy,
// OnError hears one "still running at shutdown" per stuck handler and
// nothing else (no ErrNotificationGone).
func TestReliabilityKilledWithPending(t *testing.T) {
	counts := pick([]int{1, 10, 100}, []int{1, 10, 100, 1000})
	rounds := pick(1, 10)
	for _, n := range counts {
		t.Run("pending-"+strconv.Itoa(n), func(t *testing.T) {
			var worst time.Duration
			for round := range rounds {
				worst = max(worst, killedWithPending(t, n, false, round))
			}
			if rounds > 1 {
				figure(t, "%d rounds, Wait at most %s after the kill", rounds, worst)
			}
		})
	}
	t.Run("released-after-wait", func(t *testing.T) {
		var worst time.Duration
		for round := range rounds {
			worst = max(worst, killedWithPending(t, 100, true, round))
		}
		if rounds > 1 {
			figure(t, "%d rounds, Wait at most %s after the kill", rounds, worst)
		}
	})
}

// killedWithPending runs one round and returns how long Wait took after
// the kill.
func killedWithPending(t *testing.T, n int, releaseAfterWait bool, round int) time.Duration {
	const workers = 8
	bin := hostile(t)
	warmUp(t)
	fds := countFDs(t)
	ignore := goleak.IgnoreCurrent()

	r := newRunContext(t, context.Background(), bin, "pending", strconv.Itoa(n))
	var errs errorLog
	r.ServeOptions = &handler.Options{Workers: workers, ShutdownGrace: 100 * time.Millisecond, OnError: errs.add}
	killed := make(chan struct{})
	release := func() {
		select {
		case <-killed:
		default:
			close(killed)
		}
	}
	defer release()
	var entered, returned, sawGone atomic.Int32
	r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
		if c.Arg(0) != magicPending {
			return handler.Continue()
		}
		entered.Add(1)
		defer returned.Add(1)
		<-killed
		deadline := time.Now().Add(promptly)
		err := c.Valid()
		for err == nil && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			err = c.Valid()
		}
		if errors.Is(err, notif.ErrNotificationGone) || errors.Is(err, handler.ErrExpired) {
			sawGone.Add(1)
		}
		switch c.Arg(1) % 5 {
		case 0:
			return handler.ReturnValue(1)
		case 1:
			return handler.Errno(unix.EACCES)
		case 2:
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				panic(err)
			}
			return handler.InjectFD(fd, unix.O_CLOEXEC)
		case 3:
			return handler.Continue()
		}
		return handler.Kill()
	})
	require.NoError(t, r.Start())
	pid := r.Process.Pid
	handled := min(n, workers)
	getppid := nr(t, "getppid")
	waitFor(t, runTimeout, func() string {
		return fmt.Sprintf("%d of %d threads trapped, %d handlers entered\nstdout:\n%s", threadsInSyscall(pid, getppid, magicPending), n, entered.Load(), r.stdout.String())
	}, func() bool {
		return threadsInSyscall(pid, getppid, magicPending) == n && int(entered.Load()) == handled
	})

	start := time.Now()
	require.NoError(t, r.Process.Signal(syscall.SIGKILL))
	if !releaseAfterWait {
		release()
	}
	elapsed, err := r.waitWithin(t, promptly, nil)
	require.Error(t, err)
	require.Less(t, elapsed, promptly)
	require.Equal(t, syscall.SIGKILL, r.Signal())
	release()
	// A worker freed by the kill may still receive a notification of a
	// thread that has not died yet: it is handled (and gone) as well.
	waitFor(t, promptly, func() string { return fmt.Sprintf("%d of %d handlers returned", returned.Load(), entered.Load()) },
		func() bool { return returned.Load() == entered.Load() })

	require.GreaterOrEqual(t, int(entered.Load()), handled)
	require.LessOrEqual(t, int(entered.Load()), n)
	require.Equal(t, entered.Load(), sawGone.Load(), "handlers that saw their notification gone")
	got := errs.all()
	for _, e := range got {
		require.NotErrorIs(t, e, notif.ErrNotificationGone)
		require.NotErrorIs(t, e, unix.ENOENT)
	}
	if releaseAfterWait {
		require.Len(t, got, int(entered.Load()), "OnError: %v", got)
		for _, e := range got {
			require.ErrorContains(t, e, "still running at shutdown")
		}
	} else {
		require.Empty(t, got, "OnError")
	}
	runtime.GC()
	require.Equal(t, fds, countFDs(t), "open descriptors:\n%s", listFDs())
	goleak.VerifyNone(t, ignore)
	if round > 0 {
		return elapsed
	}
	figure(t, "%d trapped, %d in handlers at the kill (%d handler calls in all): Wait %s after the kill, run %s; OnError %d; fds %d before, %d after",
		n, handled, entered.Load(), elapsed.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), len(got), fds, countFDs(t))
	return elapsed
}
