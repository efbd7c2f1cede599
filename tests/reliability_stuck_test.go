package tests

// Scenario 3: a handler that never returns.

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sandlock-go/sandlock-go/handler"
)

// TestReliabilityStuckHandler: with Workers=4, one handler blocks forever
// on one thread's call while three other threads keep making calls, which
// keep being answered (each thread's count grows). Cancelling the context
// ends the run within ShutdownGrace plus a few seconds; the stuck
// notification gets its handler's exception policy (DenyEIO, seen in the
// OnError report), and the only goroutine left is the stuck handler's,
// until it returns.
func TestReliabilityStuckHandler(t *testing.T) {
	rounds := pick(1, 20)
	var worst time.Duration
	for round := range rounds {
		worst = max(worst, stuckHandler(t, round))
	}
	if rounds > 1 {
		figure(t, "%d rounds, Wait at most %s after the cancel", rounds, worst)
	}
}

// stuckHandler runs one round and returns how long Wait took after the
// cancel.
func stuckHandler(t *testing.T, round int) time.Duration {
	const (
		workers = 4
		flow    = 3
		grace   = 200 * time.Millisecond
	)
	flowCalls := pick(3000, 30000) // per flowing thread, while one is stuck
	ignore := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := newRunContext(t, ctx, hostile(t), "flowstuck", fmt.Sprint(flow))
	var errs errorLog
	r.ServeOptions = &handler.Options{Workers: workers, ShutdownGrace: grace, OnError: errs.add}

	entered := make(chan struct{})
	release := make(chan struct{})
	stuckDone := make(chan struct{})
	released := sync.OnceFunc(func() { close(release) })
	defer released()
	// First in the chain, policy DenyEIO: blocks on the stuck call, lets
	// the others through.
	stuck := handler.Func(func(c *handler.Ctx) handler.Action {
		if c.Arg(0) != magicStuck {
			return handler.Continue()
		}
		defer close(stuckDone)
		close(entered)
		<-release
		return handler.ReturnValue(1)
	})
	require.NoError(t, r.Handle("getppid", handler.WithExceptionPolicy(stuck, handler.ExceptionDenyEIO)))
	var mu sync.Mutex
	byPid := map[int]int{}
	var total atomic.Int64
	r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
		if c.Arg(0) == magicValue {
			mu.Lock()
			byPid[c.Pid()]++
			mu.Unlock()
			total.Add(1)
		}
		return valueHandler(c)
	})
	require.NoError(t, r.Start())
	receive(t, entered, runTimeout, "the stuck handler's call")
	mu.Lock()
	before := map[int]int{}
	for pid, n := range byPid {
		before[pid] = n
	}
	mu.Unlock()
	stuckAt := time.Now()
	waitFor(t, runTimeout, func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("calls per thread while one handler is stuck: %v (before: %v)", byPid, before)
	}, func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(byPid) < flow {
			return false
		}
		for pid, n := range byPid {
			if n-before[pid] < flowCalls {
				return false
			}
		}
		return true
	})
	flowing := time.Since(stuckAt)
	answered := total.Load()

	cancel()
	elapsed, err := r.waitWithin(t, grace+promptly, released)
	require.Less(t, elapsed, grace+promptly)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, syscall.SIGKILL, r.Signal())
	require.NotContains(t, r.stdout.String(), "FAIL")
	got := errs.all()
	require.Len(t, got, 1, "OnError: %v", got)
	require.ErrorContains(t, got[0], "handler for getppid still running at shutdown: answered eio")

	// Everything is gone but the stuck handler's goroutine, until it
	// returns.
	released()
	receive(t, stuckDone, runTimeout, "the stuck handler's return")
	goleak.VerifyNone(t, ignore)
	if round > 0 {
		return elapsed
	}
	figure(t, "Workers=%d, 1 handler stuck, %d threads answered %d calls (>= %d each) in %s meanwhile; cancel -> Wait %s (grace %s); OnError: %q",
		workers, flow, answered, flowCalls, flowing.Round(time.Millisecond), elapsed.Round(time.Millisecond), grace, got[0])
	return elapsed
}
