package handler_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Each Action becomes the matching kernel answer. The handler's exception
// policy is DenyEIO so that an action mistaken for an exception shows.
func TestActionAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    handler.Action
		want notif.Resp
	}{
		{"continue", handler.Continue(), notif.Resp{Flags: notif.RespFlagContinue}},
		{"errno", handler.Errno(unix.EACCES), notif.Resp{Error: -int32(unix.EACCES)}},
		{"errno EPERM", handler.Errno(unix.EPERM), notif.Resp{Error: -1}},
		{"errno max", handler.Errno(4095), notif.Resp{Error: -4095}},
		{"return value", handler.ReturnValue(777), notif.Resp{Val: 777}},
		{"return negative", handler.ReturnValue(-2), notif.Resp{Val: -2}},
		{"return zero", handler.ReturnValue(0), notif.Resp{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			tab := table(t, "openat", policy(handler.Func(func(c *handler.Ctx) handler.Action {
				calls.Add(1)
				return tc.a
			}), handler.ExceptionDenyEIO))
			r := serve(t, tab, nil)
			id := r.push(trap(t, "openat"))
			want := tc.want
			want.ID = id
			assert.Equal(t, want, r.answer(id))
			require.NoError(t, r.stop())
			assert.Equal(t, int32(1), calls.Load())
			assert.Len(t, r.f.Responses(), 1, "exactly one answer")
			assert.Empty(t, r.f.AddFDs())
			r.assertNoErrors()
		})
	}
}

// A syscall without handlers runs.
func TestNoHandlerContinues(t *testing.T) {
	r := serve(t, table(t, "openat", handler.Func(func(*handler.Ctx) handler.Action {
		t.Error("openat handler called for getpid")
		return handler.Errno(unix.EPERM)
	})), nil)
	id := r.push(trap(t, "getpid"))
	assert.Equal(t, contResp(id), r.answer(id))
	// A number beyond any table.
	n := trap(t, "getpid")
	n.Data.Nr = int32(syscalls.Native().MaxNumber() + 100)
	id = r.push(n)
	assert.Equal(t, contResp(id), r.answer(id))
	require.NoError(t, r.stop())
	r.assertNoErrors()
}

// A notification of another ABI than the table's is refused with ENOSYS
// without asking handlers.
func TestForeignArch(t *testing.T) {
	var called atomic.Bool
	r := serve(t, table(t, "openat", handler.Func(func(*handler.Ctx) handler.Action {
		called.Store(true)
		return handler.Continue()
	})), nil)
	var foreign *syscalls.Arch
	for _, a := range syscalls.Arches() {
		if a != syscalls.Native() {
			foreign = a
		}
	}
	require.NotNil(t, foreign)
	n := trap(t, "openat")
	n.Data.Arch = foreign.AuditArch()
	id := r.push(n)
	assert.Equal(t, errnoResp(id, unix.ENOSYS), r.answer(id))
	require.NoError(t, r.stop())
	assert.False(t, called.Load())
}

// Kill kills the trapped process by SIGKILL. The handler's policy is
// Continue, so the kill can only come from the action itself.
func TestKillAction(t *testing.T) {
	v := newVictim(t)
	r := serve(t, table(t, "openat", policy(handler.Func(func(*handler.Ctx) handler.Action {
		return handler.Kill()
	}), handler.ExceptionContinue)), nil)
	n := trap(t, "openat")
	n.Pid = v.pid()
	id := r.push(n)
	// The answer to a killed task does not matter; EPERM in case the
	// kill failed.
	assert.Equal(t, errnoResp(id, unix.EPERM), r.answer(id))
	v.requireKilled()
	assert.Contains(t, r.f.IDValidCalls(), id, "the notification is checked before the kill")
	require.NoError(t, r.stop())
	r.assertNoErrors()
}

// A Kill for a notification that is no longer pending must not signal the
// pid: it may belong to another process by now.
func TestKillActionTaskGone(t *testing.T) {
	v := newVictim(t)
	release := make(chan struct{})
	started := make(chan struct{})
	r := serve(t, table(t, "openat", handler.Func(func(*handler.Ctx) handler.Action {
		close(started)
		<-release
		return handler.Kill()
	})), nil)
	n := trap(t, "openat")
	n.Pid = v.pid()
	id := r.push(n)
	<-started
	r.f.Kill(id) // the task died; its pid may be reused
	close(release)
	require.Eventually(t, func() bool { return slices.Contains(r.f.IDValidCalls(), id) }, timeout, time.Millisecond)
	v.requireAlive()
	require.NoError(t, r.stop())
	assert.Empty(t, r.f.Responses())
	r.assertNoErrors()
}

// InjectFD installs the fd with ADDFD+SEND, answers with the new number,
// and closes the supervisor's copy.
func TestInjectFD(t *testing.T) {
	for _, flags := range []int{0, unix.O_CLOEXEC} {
		t.Run(fmt.Sprintf("flags=%#x", flags), func(t *testing.T) {
			var p [2]int
			require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
			defer unix.Close(p[1])
			r := serve(t, table(t, "openat", policy(handler.Func(func(*handler.Ctx) handler.Action {
				return handler.InjectFD(p[0], flags)
			}), handler.ExceptionDenyEIO)), nil)
			id := r.push(trap(t, "openat"))
			resp := r.answer(id)
			assert.Equal(t, notif.Resp{ID: id, Val: 100}, resp, "answered with the fd number in the task")
			assert.Equal(t, []notif.AddFD{{ID: id, Flags: notif.AddFDFlagSend, SrcFD: uint32(p[0]), NewFDFlags: uint32(flags)}}, r.f.AddFDs())
			require.NoError(t, r.stop())
			assert.True(t, fdClosed(p[0]), "the supervisor's fd is closed after the injection")
			assert.False(t, fdClosed(p[1]))
			r.assertNoErrors()
		})
	}
}

// addFDFails is a Fake whose AddFD fails like a task out of descriptors.
type addFDFails struct {
	*notif.Fake
	err error
}

func (n addFDFails) AddFD(*notif.AddFD) (int, error) { return -1, n.err }

// A failed injection tells the task the errno and still closes the fd.
func TestInjectFDFails(t *testing.T) {
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	defer unix.Close(p[1])
	f := notif.NewFake()
	tab := table(t, "openat", handler.Func(func(*handler.Ctx) handler.Action {
		return handler.InjectFD(p[0], 0)
	}))
	var errs []error
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- handler.Serve(ctx, addFDFails{f, fmt.Errorf("addfd: %w", unix.EMFILE)}, tab, &handler.Options{OnError: func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}})
	}()
	id := f.Push(trap(t, "openat"))
	assert.Equal(t, errnoResp(id, unix.EMFILE), waitAnswer(t, f, id))
	f.Drain()
	require.NoError(t, <-done)
	assert.True(t, fdClosed(p[0]))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], unix.EMFILE)
}

// An invalid InjectFD gets the exception policy; a valid fd in it is still
// closed, as the Action owns it.
func TestInjectFDInvalid(t *testing.T) {
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	defer unix.Close(p[1])
	for _, tc := range []struct {
		name string
		a    handler.Action
	}{
		{"negative fd", handler.InjectFD(-1, 0)},
		{"fd too large", handler.InjectFD(1<<31, 0)},
		{"bad flags", handler.InjectFD(p[0], unix.O_NONBLOCK)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := serve(t, table(t, "openat", policy(handler.Func(func(*handler.Ctx) handler.Action {
				return tc.a
			}), handler.ExceptionDenyEIO)), nil)
			id := r.push(trap(t, "openat"))
			assert.Equal(t, errnoResp(id, unix.EIO), r.answer(id))
			require.NoError(t, r.stop())
			assert.Empty(t, r.f.AddFDs(), "nothing injected")
			require.Len(t, r.Errors(), 1)
			assert.Contains(t, r.Errors()[0].Error(), "inject-fd")
		})
	}
	assert.True(t, fdClosed(p[0]), "the fd of the rejected action was closed")
	assert.False(t, fdClosed(p[1]))
}

// faults are the ways a handler can fail.
var faults = []struct {
	name string
	h    handler.Func
	msg  string
}{
	{"panic", func(*handler.Ctx) handler.Action { panic("boom") }, "panicked: boom"},
	{"zero action", func(*handler.Ctx) handler.Action { return handler.Action{} }, "invalid action"},
	{"errno 0", func(*handler.Ctx) handler.Action { return handler.Errno(0) }, "errno 0 out of range"},
	{"errno too large", func(*handler.Ctx) handler.Action { return handler.Errno(4096) }, "errno 4096 out of range"},
}

// Every exception policy answers every kind of handler failure. A real
// victim process shows whether the answer killed the task.
func TestExceptionPolicies(t *testing.T) {
	for _, pc := range []struct {
		policy   handler.ExceptionPolicy
		declared bool // false: no WithExceptionPolicy, the default applies
		want     func(id uint64) notif.Resp
		killed   bool
	}{
		{handler.ExceptionKill, false, func(id uint64) notif.Resp { return errnoResp(id, unix.EPERM) }, true},
		{handler.ExceptionKill, true, func(id uint64) notif.Resp { return errnoResp(id, unix.EPERM) }, true},
		{handler.ExceptionDenyEPERM, true, func(id uint64) notif.Resp { return errnoResp(id, unix.EPERM) }, false},
		{handler.ExceptionContinue, true, contResp, false},
		{handler.ExceptionDenyEIO, true, func(id uint64) notif.Resp { return errnoResp(id, unix.EIO) }, false},
	} {
		for _, fc := range faults {
			name := pc.policy.String() + "/" + fc.name
			if !pc.declared {
				name = "default/" + fc.name
			}
			t.Run(name, func(t *testing.T) {
				v := newVictim(t)
				var h handler.Handler = fc.h
				if pc.declared {
					h = policy(h, pc.policy)
				}
				r := serve(t, table(t, "openat", h), nil)
				n := trap(t, "openat")
				n.Pid = v.pid()
				id := r.push(n)
				assert.Equal(t, pc.want(id), r.answer(id))
				if pc.killed {
					v.requireKilled()
				} else {
					v.requireAlive()
				}
				require.NoError(t, r.stop())
				require.Len(t, r.Errors(), 1, "the failure is reported")
				assert.Contains(t, r.Errors()[0].Error(), fc.msg)
				assert.Contains(t, r.Errors()[0].Error(), "openat")
			})
		}
	}
}

// recorder is a chain element that records its name when called.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (rec *recorder) handler(name string, a handler.Action) handler.Func {
	return func(*handler.Ctx) handler.Action {
		rec.mu.Lock()
		rec.calls = append(rec.calls, name)
		rec.mu.Unlock()
		return a
	}
}

func (rec *recorder) panicker(name string) handler.Func {
	return func(*handler.Ctx) handler.Action {
		rec.mu.Lock()
		rec.calls = append(rec.calls, name)
		rec.mu.Unlock()
		panic(name)
	}
}

func (rec *recorder) Calls() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.calls)
}

// Handlers of one syscall are asked in registration order; the first
// answer other than Continue wins and ends the chain.
func TestChain(t *testing.T) {
	type build func(rec *recorder) []handler.Handler
	for _, tc := range []struct {
		name  string
		chain build
		want  func(id uint64) notif.Resp
		calls []string
		errs  int
	}{
		{
			"first non-continue wins",
			func(rec *recorder) []handler.Handler {
				return []handler.Handler{
					rec.handler("a", handler.Continue()),
					rec.handler("b", handler.Errno(unix.EACCES)),
					rec.handler("c", handler.ReturnValue(1)),
				}
			},
			func(id uint64) notif.Resp { return errnoResp(id, unix.EACCES) },
			[]string{"a", "b"}, 0,
		},
		{
			"registration order, not answer kind",
			func(rec *recorder) []handler.Handler {
				return []handler.Handler{
					rec.handler("c", handler.ReturnValue(1)),
					rec.handler("b", handler.Errno(unix.EACCES)),
				}
			},
			func(id uint64) notif.Resp { return notif.Resp{ID: id, Val: 1} },
			[]string{"c"}, 0,
		},
		{
			"all continue",
			func(rec *recorder) []handler.Handler {
				return []handler.Handler{
					rec.handler("a", handler.Continue()),
					rec.handler("b", handler.Continue()),
					rec.handler("c", handler.Continue()),
				}
			},
			contResp,
			[]string{"a", "b", "c"}, 0,
		},
		{
			"continue-policy panic passes to the next",
			func(rec *recorder) []handler.Handler {
				return []handler.Handler{
					policy(rec.panicker("a"), handler.ExceptionContinue),
					rec.handler("b", handler.ReturnValue(42)),
				}
			},
			func(id uint64) notif.Resp { return notif.Resp{ID: id, Val: 42} },
			[]string{"a", "b"}, 1,
		},
		{
			"continue-policy invalid action passes to the next",
			func(rec *recorder) []handler.Handler {
				return []handler.Handler{
					policy(rec.handler("a", handler.Action{}), handler.ExceptionContinue),
					rec.handler("b", handler.ReturnValue(43)),
				}
			},
			func(id uint64) notif.Resp { return notif.Resp{ID: id, Val: 43} },
			[]string{"a", "b"}, 1,
		},
		{
			"deny-policy panic ends the chain",
			func(rec *recorder) []handler.Handler {
				return []handler.Handler{
					rec.handler("a", handler.Continue()),
					policy(rec.panicker("b"), handler.ExceptionDenyEIO),
					rec.handler("c", handler.ReturnValue(1)),
				}
			},
			func(id uint64) notif.Resp { return errnoResp(id, unix.EIO) },
			[]string{"a", "b"}, 1,
		},
		{
			"the failing handler's own policy applies",
			func(rec *recorder) []handler.Handler {
				return []handler.Handler{
					policy(rec.handler("a", handler.Continue()), handler.ExceptionDenyEIO),
					policy(rec.panicker("b"), handler.ExceptionDenyEPERM),
				}
			},
			func(id uint64) notif.Resp { return errnoResp(id, unix.EPERM) },
			[]string{"a", "b"}, 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			r := serve(t, table(t, "openat", tc.chain(rec)...), nil)
			id := r.push(trap(t, "openat"))
			assert.Equal(t, tc.want(id), r.answer(id))
			require.NoError(t, r.stop())
			assert.Equal(t, tc.calls, rec.Calls())
			assert.Len(t, r.Errors(), tc.errs)
		})
	}
}

// Register and RegisterName append to the same chain; other syscalls have
// their own.
func TestChainPerSyscall(t *testing.T) {
	rec := &recorder{}
	tab := handler.NewTable(nil)
	require.NoError(t, tab.RegisterName("openat", rec.handler("open1", handler.Continue())))
	require.NoError(t, tab.RegisterName("getpid", rec.handler("getpid", handler.ReturnValue(7))))
	require.NoError(t, tab.Register(int(nr(t, "openat")), rec.handler("open2", handler.ReturnValue(8))))
	r := serve(t, tab, nil)
	id := r.push(trap(t, "openat"))
	assert.Equal(t, notif.Resp{ID: id, Val: 8}, r.answer(id))
	assert.Equal(t, []string{"open1", "open2"}, rec.Calls())
	id = r.push(trap(t, "getpid"))
	assert.Equal(t, notif.Resp{ID: id, Val: 7}, r.answer(id))
	assert.Equal(t, []string{"open1", "open2", "getpid"}, rec.Calls())
	require.NoError(t, r.stop())
}

// Handlers run on several goroutines at once: four handlers that each wait
// for all four can only finish together.
func TestConcurrentHandlers(t *testing.T) {
	const n = 4
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() {
		arrived.Wait()
		close(all)
	}()
	r := serve(t, table(t, "openat", handler.Func(func(*handler.Ctx) handler.Action {
		arrived.Done()
		select {
		case <-all:
			return handler.ReturnValue(1)
		case <-time.After(timeout):
			return handler.Errno(unix.ETIMEDOUT)
		}
	})), &handler.Options{Workers: n})
	var ids []uint64
	for range n {
		ids = append(ids, r.push(trap(t, "openat")))
	}
	for _, id := range ids {
		assert.Equal(t, notif.Resp{ID: id, Val: 1}, r.answer(id))
	}
	require.NoError(t, r.stop())
}

// A handler that blocks holds one worker only: other notifications are
// still answered.
func TestBlockedHandlerDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	tab := handler.NewTable(nil)
	require.NoError(t, tab.RegisterName("getpid", handler.Func(func(*handler.Ctx) handler.Action {
		close(started)
		<-release
		return handler.ReturnValue(1)
	})))
	require.NoError(t, tab.RegisterName("openat", handler.Func(func(*handler.Ctx) handler.Action {
		return handler.ReturnValue(2)
	})))
	r := serve(t, tab, nil)
	blocked := r.push(trap(t, "getpid"))
	<-started
	for range 3 {
		id := r.push(trap(t, "openat"))
		assert.Equal(t, notif.Resp{ID: id, Val: 2}, r.answer(id))
	}
	assert.True(t, r.f.Pending(blocked))
	close(release)
	assert.Equal(t, notif.Resp{ID: blocked, Val: 1}, r.answer(blocked))
	require.NoError(t, r.stop())
}

// With one worker, a blocked handler delays the next notification.
func TestOneWorker(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	r := serve(t, table(t, "openat", handler.Func(func(*handler.Ctx) handler.Action {
		started <- struct{}{}
		<-release
		return handler.ReturnValue(1)
	})), &handler.Options{Workers: 1})
	first := r.push(trap(t, "openat"))
	<-started
	second := r.push(trap(t, "openat"))
	requirePending(t, r.f, second)
	close(release)
	assert.Equal(t, notif.Resp{ID: first, Val: 1}, r.answer(first))
	assert.Equal(t, notif.Resp{ID: second, Val: 1}, r.answer(second))
	require.NoError(t, r.stop())
}

// Serve's return value for each way a run ends.
func TestServeReturns(t *testing.T) {
	tab := table(t, "openat", handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() }))

	t.Run("drain", func(t *testing.T) {
		r := serve(t, tab, nil)
		id := r.push(trap(t, "openat"))
		r.answer(id)
		assert.NoError(t, r.stop())
	})
	t.Run("drain with queued notifications", func(t *testing.T) {
		f := notif.NewFake()
		id := f.Push(trap(t, "openat"))
		f.Drain()
		r := serveOn(t, f, tab, nil)
		assert.NoError(t, r.wait())
		assert.Equal(t, contResp(id), r.answer(id), "queued notifications are answered before Serve ends")
	})
	t.Run("close", func(t *testing.T) {
		r := serve(t, tab, nil)
		require.NoError(t, r.f.Close())
		assert.NoError(t, r.wait())
	})
	t.Run("cancel", func(t *testing.T) {
		r := serve(t, tab, nil)
		id := r.push(trap(t, "openat"))
		r.answer(id)
		r.cancel()
		assert.ErrorIs(t, r.wait(), context.Canceled)
	})
	t.Run("cancelled before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		f := notif.NewFake()
		assert.ErrorIs(t, handler.Serve(ctx, f, tab, nil), context.Canceled)
		var n notif.Notif
		assert.ErrorIs(t, f.Recv(&n), notif.ErrClosed, "Serve shut the notifier down")
		assert.NoError(t, f.Send(&notif.Resp{ID: f.Push(notif.Notif{})}), "but did not close it")
	})
	t.Run("receive error", func(t *testing.T) {
		f := notif.NewFake()
		err := handler.Serve(context.Background(), recvFails{f}, tab, nil)
		assert.ErrorIs(t, err, unix.EBADF)
		assert.NotErrorIs(t, err, notif.ErrClosed)
	})
	t.Run("nil arguments", func(t *testing.T) {
		assert.Error(t, handler.Serve(context.Background(), nil, tab, nil))
		assert.Error(t, handler.Serve(context.Background(), notif.NewFake(), nil, nil))
	})
}

// recvFails is a Fake whose Recv fails with an unexpected error.
type recvFails struct{ *notif.Fake }

func (recvFails) Recv(*notif.Notif) error { return fmt.Errorf("recv: %w", unix.EBADF) }

// Cancelling a run waits for running handlers up to ShutdownGrace; a
// handler still stuck then has its notification answered with the
// exception policy of that handler, and its late answer is dropped.
func TestShutdownStuckHandler(t *testing.T) {
	const grace = 150 * time.Millisecond
	release := make(chan struct{})
	started := make(chan struct{})
	handlerDone := make(chan struct{})
	rec := &recorder{}
	tab := table(t, "openat",
		policy(rec.handler("first", handler.Continue()), handler.ExceptionDenyEPERM),
		policy(handler.Func(func(*handler.Ctx) handler.Action {
			defer close(handlerDone)
			close(started)
			<-release
			return handler.ReturnValue(1)
		}), handler.ExceptionDenyEIO))
	r := serve(t, tab, &handler.Options{ShutdownGrace: grace})
	id := r.push(trap(t, "openat"))
	<-started

	begin := time.Now()
	r.cancel()
	err := r.wait()
	took := time.Since(begin)
	assert.ErrorIs(t, err, context.Canceled)
	assert.GreaterOrEqual(t, took, grace-10*time.Millisecond, "Serve waited for the handler")
	assert.Less(t, took, grace+3*time.Second, "Serve returned soon after the grace period")

	assert.Equal(t, errnoResp(id, unix.EIO), r.answer(id), "answered with the stuck handler's policy")
	errs := r.Errors()
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "still running at shutdown")

	close(release)
	<-handlerDone
	time.Sleep(20 * time.Millisecond)
	assert.Len(t, r.f.Responses(), 1, "the late answer is dropped")
}

// A handler that finishes within the grace period gives its own answer.
func TestShutdownWaitsForHandler(t *testing.T) {
	started := make(chan struct{})
	r := serve(t, table(t, "openat", policy(handler.Func(func(*handler.Ctx) handler.Action {
		close(started)
		time.Sleep(50 * time.Millisecond)
		return handler.ReturnValue(5)
	}), handler.ExceptionDenyEIO)), &handler.Options{ShutdownGrace: 5 * time.Second})
	id := r.push(trap(t, "openat"))
	<-started
	begin := time.Now()
	r.cancel()
	assert.ErrorIs(t, r.wait(), context.Canceled)
	assert.Less(t, time.Since(begin), 4*time.Second, "Serve did not wait for the whole grace period")
	assert.Equal(t, notif.Resp{ID: id, Val: 5}, r.answer(id))
	r.assertNoErrors()
}

// The Prefilter answers Continue before any handler, on the receiving
// thread.
func TestPrefilter(t *testing.T) {
	var seen []uint64
	var mu sync.Mutex
	var handled atomic.Int32
	tab := table(t, "openat", handler.Func(func(*handler.Ctx) handler.Action {
		handled.Add(1)
		return handler.Errno(unix.EACCES)
	}))
	r := serve(t, tab, &handler.Options{Prefilter: func(n *notif.Notif) bool {
		mu.Lock()
		seen = append(seen, n.ID)
		mu.Unlock()
		return n.Data.Args[0] == 1
	}})
	skipped := r.push(trap(t, "openat", 1))
	assert.Equal(t, contResp(skipped), r.answer(skipped))
	assert.Zero(t, handled.Load(), "the handler did not see the prefiltered call")

	handledID := r.push(trap(t, "openat", 2))
	assert.Equal(t, errnoResp(handledID, unix.EACCES), r.answer(handledID))
	assert.Equal(t, int32(1), handled.Load())

	// The Prefilter comes before the architecture check, too.
	foreign := trap(t, "openat", 1)
	foreign.Data.Arch = 0
	fid := r.push(foreign)
	assert.Equal(t, contResp(fid), r.answer(fid))

	require.NoError(t, r.stop())
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []uint64{skipped, handledID, fid}, seen)
}

// Observe sees each decision with a live Ctx before the answer is sent.
func TestObserve(t *testing.T) {
	type obs struct {
		id      uint64
		action  string
		latency time.Duration
		valid   error
		pending bool
	}
	var mu sync.Mutex
	var got []obs
	var f *notif.Fake
	tab := handler.NewTable(nil)
	require.NoError(t, tab.RegisterName("openat", handler.Func(func(*handler.Ctx) handler.Action {
		time.Sleep(10 * time.Millisecond)
		return handler.ReturnValue(9)
	})))
	require.NoError(t, tab.RegisterName("close", policy(handler.Func(func(*handler.Ctx) handler.Action {
		panic("observe me")
	}), handler.ExceptionDenyEIO)))
	responders := make(chan *handler.Responder, 1)
	require.NoError(t, tab.RegisterName("read", holder(responders)))
	f = notif.NewFake()
	r := serveOn(t, f, tab, &handler.Options{
		Prefilter: func(n *notif.Notif) bool { return n.Data.Args[0] == 1 },
		Observe: func(c *handler.Ctx, a handler.Action, latency time.Duration) {
			o := obs{id: c.ID(), action: a.String(), latency: latency, valid: c.Valid(), pending: f.Pending(c.ID())}
			mu.Lock()
			got = append(got, o)
			mu.Unlock()
		},
	})
	open := r.push(trap(t, "openat"))
	r.answer(open)
	failing := r.push(trap(t, "close"))
	assert.Equal(t, errnoResp(failing, unix.EIO), r.answer(failing))
	none := r.push(trap(t, "getpid"))
	r.answer(none)
	r.answer(r.push(trap(t, "openat", 1))) // prefiltered: not observed
	held := r.push(trap(t, "read"))
	resp := <-responders
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 4
	}, timeout, time.Millisecond, "a held notification is observed when its handler returns")
	require.NoError(t, resp.Respond(handler.ReturnValue(1)))
	r.answer(held)
	require.NoError(t, r.stop())

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 4)
	assert.Equal(t, open, got[0].id)
	assert.Equal(t, "return:9", got[0].action)
	assert.GreaterOrEqual(t, got[0].latency, 10*time.Millisecond)
	assert.Less(t, got[0].latency, timeout)
	assert.NoError(t, got[0].valid, "the Ctx is live in Observe")
	assert.True(t, got[0].pending, "Observe runs before the answer")
	assert.Equal(t, failing, got[1].id)
	assert.Equal(t, "errno:EIO", got[1].action, "Observe sees the policy's answer")
	assert.Equal(t, none, got[2].id)
	assert.Equal(t, "continue", got[2].action)
	assert.Equal(t, held, got[3].id)
	assert.Equal(t, "hold", got[3].action)
	assert.True(t, got[3].pending)
}

// Errors about tasks that are gone are not reported: they are normal.
func TestGoneIsNotAnError(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	r := serve(t, table(t, "openat", handler.Func(func(*handler.Ctx) handler.Action {
		close(started)
		<-release
		return handler.ReturnValue(1)
	})), nil)
	id := r.push(trap(t, "openat"))
	<-started
	r.f.Kill(id)
	close(release)
	require.NoError(t, r.stop())
	assert.Empty(t, r.f.Responses())
	r.assertNoErrors()
}

// OnError is optional.
func TestNoOnError(t *testing.T) {
	f := notif.NewFake()
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		done <- handler.Serve(ctx, f, table(t, "openat", policy(handler.Func(func(*handler.Ctx) handler.Action {
			panic("nobody listens")
		}), handler.ExceptionDenyEIO)), &handler.Options{})
	}()
	id := f.Push(trap(t, "openat"))
	assert.Equal(t, errnoResp(id, unix.EIO), waitAnswer(t, f, id))
	f.Drain()
	require.NoError(t, <-done)
}

func TestErrorsMentionSyscall(t *testing.T) {
	r := serve(t, table(t, "getpid", handler.Func(func(*handler.Ctx) handler.Action {
		return handler.Errno(0)
	})), &handler.Options{})
	// The default policy is Kill; the task is noPid, so the kill fails.
	id := r.push(trap(t, "getpid"))
	assert.Equal(t, errnoResp(id, unix.EPERM), r.answer(id))
	require.NoError(t, r.stop())
	var msgs []string
	for _, err := range r.Errors() {
		msgs = append(msgs, err.Error())
	}
	require.NotEmpty(t, msgs)
	assert.True(t, strings.Contains(msgs[0], "getpid"), "%q", msgs)
	assert.True(t, errors.Is(r.Errors()[len(msgs)-1], unix.ESRCH), "the failed kill is reported: %q", msgs)
}

// A panic in Observe is recovered and reported; the chain's answer is sent
// and the loop keeps serving.
func TestObservePanic(t *testing.T) {
	tab := handler.NewTable(nil)
	require.NoError(t, tab.RegisterName("openat", handler.Func(func(*handler.Ctx) handler.Action {
		return handler.ReturnValue(7)
	})))
	var mu sync.Mutex
	var errs []error
	f := notif.NewFake()
	r := serveOn(t, f, tab, &handler.Options{
		Observe: func(c *handler.Ctx, a handler.Action, latency time.Duration) {
			if c.Arg(0) == 1 {
				panic("observer bug")
			}
		},
		OnError: func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		},
	})
	id := r.push(trap(t, "openat", 1))
	assert.Equal(t, notif.Resp{ID: id, Val: 7}, r.answer(id), "the chain's answer")
	id = r.push(trap(t, "openat", 2))
	assert.Equal(t, notif.Resp{ID: id, Val: 7}, r.answer(id), "the loop still serves")
	require.NoError(t, r.stop())
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, errs, 1)
	assert.ErrorContains(t, errs[0], "Observe for openat panicked: observer bug")
}

// AfterAnswer runs deferred work once the notification is answered, on
// the worker: the answer is already sent when it runs, the Ctx has expired
// (its memory is out of reach), and a panic is reported, not fatal.
func TestAfterAnswer(t *testing.T) {
	type seen struct {
		answered bool
		live     bool
	}
	ran := make(chan seen, 2)
	var f *notif.Fake
	tab := handler.NewTable(nil)
	require.NoError(t, tab.RegisterName("openat", handler.Func(func(c *handler.Ctx) handler.Action {
		id := c.ID()
		c.AfterAnswer(func() {
			answered := slices.ContainsFunc(f.Responses(), func(r notif.Resp) bool { return r.ID == id })
			ran <- seen{answered: answered, live: c.Valid() == nil}
		})
		return handler.ReturnValue(5)
	})))
	require.NoError(t, tab.RegisterName("close", handler.Func(func(c *handler.Ctx) handler.Action {
		c.AfterAnswer(func() { panic("after") })
		return handler.ReturnValue(0)
	})))
	f = notif.NewFake()
	f.Record = true
	r := serveOn(t, f, tab, nil)

	id := r.push(trap(t, "openat"))
	assert.Equal(t, notif.Resp{ID: id, Val: 5}, r.answer(id))
	select {
	case s := <-ran:
		assert.True(t, s.answered, "the answer was sent before the deferred call")
		assert.False(t, s.live, "the Ctx has expired")
	case <-time.After(timeout):
		t.Fatal("the deferred call never ran")
	}

	id = r.push(trap(t, "close"))
	assert.Equal(t, notif.Resp{ID: id, Val: 0}, r.answer(id))
	require.Eventually(t, func() bool { return len(r.Errors()) == 1 }, timeout, time.Millisecond)
	assert.Contains(t, r.Errors()[0].Error(), "AfterAnswer for close panicked")

	// Outside a dispatch loop it runs at once.
	c := handler.NewTestCtx(trap(t, "openat"), notif.NewFake())
	now := false
	c.AfterAnswer(func() { now = true })
	assert.True(t, now)
}
