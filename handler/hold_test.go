package handler_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
)

// holder is a handler that takes the Responder, hands it over on a channel
// and returns Hold.
func holder(out chan<- *handler.Responder) handler.Func {
	return func(c *handler.Ctx) handler.Action {
		out <- c.Responder()
		return handler.Hold()
	}
}

// A held notification stays pending without holding a worker, and is
// answered later from another goroutine.
func TestHoldAnsweredLater(t *testing.T) {
	responders := make(chan *handler.Responder, 1)
	tab := handler.NewTable(nil)
	require.NoError(t, tab.RegisterName("openat", policy(holder(responders), handler.ExceptionDenyEIO)))
	require.NoError(t, tab.RegisterName("getpid", handler.Func(func(*handler.Ctx) handler.Action {
		return handler.ReturnValue(1)
	})))
	r := serve(t, tab, &handler.Options{Workers: 1})
	id := r.push(trap(t, "openat"))
	resp := <-responders
	require.NotNil(t, resp)
	assert.Equal(t, id, resp.ID())
	requirePending(t, r.f, id)

	// The only worker is free again.
	other := r.push(trap(t, "getpid"))
	assert.Equal(t, notif.Resp{ID: other, Val: 1}, r.answer(other))
	assert.True(t, r.f.Pending(id))

	done := make(chan error)
	go func() { done <- resp.Respond(handler.ReturnValue(5)) }()
	require.NoError(t, <-done)
	assert.Equal(t, notif.Resp{ID: id, Val: 5}, r.answer(id))

	assert.ErrorIs(t, resp.Respond(handler.ReturnValue(6)), handler.ErrAlreadyAnswered)
	assert.ErrorIs(t, resp.Respond(handler.Errno(unix.EPERM)), handler.ErrAlreadyAnswered)
	require.NoError(t, r.stop())
	assert.Len(t, r.f.Responses(), 2, "no second answer, none from the policy at the end")
	r.assertNoErrors()
}

// Every action can be given through a Responder; Hold and invalid actions
// cannot, and such a refusal does not use the Responder up.
func TestRespondActions(t *testing.T) {
	v := newVictim(t)
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	defer unix.Close(p[1])
	for _, tc := range []struct {
		name string
		a    handler.Action
		want func(id uint64) notif.Resp
	}{
		{"continue", handler.Continue(), contResp},
		{"errno", handler.Errno(unix.ENOENT), func(id uint64) notif.Resp { return errnoResp(id, unix.ENOENT) }},
		{"return", handler.ReturnValue(-7), func(id uint64) notif.Resp { return notif.Resp{ID: id, Val: -7} }},
		{"inject", handler.InjectFD(p[0], 0), func(id uint64) notif.Resp { return notif.Resp{ID: id, Val: 100} }},
		{"kill", handler.Kill(), func(id uint64) notif.Resp { return errnoResp(id, unix.EPERM) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			responders := make(chan *handler.Responder, 1)
			r := serve(t, table(t, "openat", policy(holder(responders), handler.ExceptionContinue)), nil)
			n := trap(t, "openat")
			n.Pid = v.pid()
			id := r.push(n)
			resp := <-responders

			assert.Error(t, resp.Respond(handler.Hold()))
			assert.Error(t, resp.Respond(handler.Errno(0)))
			assert.Error(t, resp.Respond(handler.Action{}))
			assert.True(t, r.f.Pending(id), "refused answers are not sent")

			require.NoError(t, resp.Respond(tc.a))
			assert.Equal(t, tc.want(id), r.answer(id))
			require.NoError(t, r.stop())
			r.assertNoErrors()
		})
	}
	assert.True(t, fdClosed(p[0]), "the injected fd was closed")
	v.requireKilled()
}

// A Responder may answer before its handler returns Hold.
func TestHoldAnsweredBeforeReturn(t *testing.T) {
	r := serve(t, table(t, "openat", handler.Func(func(c *handler.Ctx) handler.Action {
		if err := c.Responder().Respond(handler.ReturnValue(3)); err != nil {
			return handler.Errno(unix.EIO)
		}
		return handler.Hold()
	})), nil)
	id := r.push(trap(t, "openat"))
	assert.Equal(t, notif.Resp{ID: id, Val: 3}, r.answer(id))
	require.NoError(t, r.stop())
	assert.Len(t, r.f.Responses(), 1)
	r.assertNoErrors()
}

// A handler that took the Responder but answers by returning an action
// is answered once; the Responder is then used up.
func TestResponderTakenButActionReturned(t *testing.T) {
	responders := make(chan *handler.Responder, 1)
	r := serve(t, table(t, "openat", handler.Func(func(c *handler.Ctx) handler.Action {
		responders <- c.Responder()
		return handler.ReturnValue(4)
	})), nil)
	id := r.push(trap(t, "openat"))
	assert.Equal(t, notif.Resp{ID: id, Val: 4}, r.answer(id))
	resp := <-responders
	assert.ErrorIs(t, resp.Respond(handler.ReturnValue(5)), handler.ErrAlreadyAnswered)
	require.NoError(t, r.stop())
	assert.Len(t, r.f.Responses(), 1)
}

// Many goroutines racing to answer: exactly one wins.
func TestRespondRace(t *testing.T) {
	responders := make(chan *handler.Responder, 1)
	r := serve(t, table(t, "openat", holder(responders)), nil)
	id := r.push(trap(t, "openat"))
	resp := <-responders
	const n = 16
	var wins, lost atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			switch err := resp.Respond(handler.ReturnValue(int64(i))); err {
			case nil:
				wins.Add(1)
			case handler.ErrAlreadyAnswered:
				lost.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
	assert.Equal(t, int32(n-1), lost.Load())
	r.answer(id)
	require.NoError(t, r.stop())
	assert.Len(t, r.f.Responses(), 1)
}

// A Responder never used is answered with the handler's policy when Serve
// ends; using it afterwards reports ErrAlreadyAnswered.
func TestHoldNeverAnswered(t *testing.T) {
	responders := make(chan *handler.Responder, 1)
	r := serve(t, table(t, "openat", policy(holder(responders), handler.ExceptionDenyEIO)), nil)
	id := r.push(trap(t, "openat"))
	resp := <-responders
	requirePending(t, r.f, id)
	require.NoError(t, r.stop())
	assert.Equal(t, errnoResp(id, unix.EIO), r.answer(id))
	assert.ErrorIs(t, resp.Respond(handler.ReturnValue(1)), handler.ErrAlreadyAnswered)
	assert.Len(t, r.f.Responses(), 1)
}

// A held notification is also answered by policy when the run is
// cancelled, and an injected fd given late is still closed.
func TestHoldCancelled(t *testing.T) {
	responders := make(chan *handler.Responder, 1)
	r := serve(t, table(t, "openat", policy(holder(responders), handler.ExceptionDenyEPERM)), nil)
	id := r.push(trap(t, "openat"))
	resp := <-responders
	r.cancel()
	require.Error(t, r.wait())
	assert.Equal(t, errnoResp(id, unix.EPERM), r.answer(id))

	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	defer unix.Close(p[1])
	assert.ErrorIs(t, resp.Respond(handler.InjectFD(p[0], 0)), handler.ErrAlreadyAnswered)
	assert.True(t, fdClosed(p[0]), "the Action owned the fd")
	assert.Empty(t, r.f.AddFDs())
}

// A handler that takes the Responder and drops it: the notification is
// answered with the policy at the latest when Serve ends.
func TestHoldResponderDropped(t *testing.T) {
	r := serve(t, table(t, "openat", policy(handler.Func(func(c *handler.Ctx) handler.Action {
		_ = c.Responder()
		return handler.Hold()
	}), handler.ExceptionDenyEPERM)), nil)
	id := r.push(trap(t, "openat"))
	require.NoError(t, r.stop())
	assert.Equal(t, errnoResp(id, unix.EPERM), r.answer(id))
	assert.Len(t, r.f.Responses(), 1)
}

// A dropped Responder is answered with the policy once it is garbage
// collected, without waiting for the end of the run.
func TestHoldResponderCollected(t *testing.T) {
	responders := make(chan *handler.Responder, 1)
	r := serve(t, table(t, "openat", policy(holder(responders), handler.ExceptionDenyEIO)), nil)
	id := r.push(trap(t, "openat"))
	resp := <-responders
	requirePending(t, r.f, id)
	resp = nil
	_ = resp
	require.Eventually(t, func() bool {
		runtime.GC()
		return !r.f.Pending(id)
	}, timeout, 10*time.Millisecond, "the dropped Responder was never answered")
	assert.Equal(t, errnoResp(id, unix.EIO), r.answer(id))
	require.NoError(t, r.stop())
	assert.Len(t, r.f.Responses(), 1)
}

// Hold without taking the Responder is invalid: the policy answers.
func TestHoldWithoutResponder(t *testing.T) {
	for _, p := range []handler.ExceptionPolicy{handler.ExceptionDenyEPERM, handler.ExceptionContinue, handler.ExceptionDenyEIO} {
		t.Run(p.String(), func(t *testing.T) {
			r := serve(t, table(t, "openat", policy(handler.Func(func(*handler.Ctx) handler.Action {
				return handler.Hold()
			}), p)), nil)
			id := r.push(trap(t, "openat"))
			got := r.answer(id)
			switch p {
			case handler.ExceptionDenyEPERM:
				assert.Equal(t, errnoResp(id, unix.EPERM), got)
			case handler.ExceptionContinue:
				assert.Equal(t, contResp(id), got)
			case handler.ExceptionDenyEIO:
				assert.Equal(t, errnoResp(id, unix.EIO), got)
			}
			require.NoError(t, r.stop())
			require.Len(t, r.Errors(), 1)
			assert.Contains(t, r.Errors()[0].Error(), "Hold without taking the Responder")
		})
	}
}

// Hold without a Responder under the default policy kills the task.
func TestHoldWithoutResponderKills(t *testing.T) {
	v := newVictim(t)
	r := serve(t, table(t, "openat", handler.Func(func(*handler.Ctx) handler.Action {
		return handler.Hold()
	})), nil)
	n := trap(t, "openat")
	n.Pid = v.pid()
	id := r.push(n)
	r.answer(id)
	v.requireKilled()
	require.NoError(t, r.stop())
}

// Responder is nil outside a dispatch loop and after the handler returned.
func TestResponderUnavailable(t *testing.T) {
	c := handler.NewTestCtx(trap(t, "openat"), notif.NewFake())
	assert.Nil(t, c.Responder(), "no dispatch loop")

	ctxs := make(chan *handler.Ctx, 1)
	r := serve(t, table(t, "openat", handler.Func(func(c *handler.Ctx) handler.Action {
		ctxs <- c
		return handler.ReturnValue(1)
	})), nil)
	id := r.push(trap(t, "openat"))
	r.answer(id)
	assert.Nil(t, (<-ctxs).Responder(), "handler returned")
	require.NoError(t, r.stop())
}

// Repeated calls return the same Responder while the handler runs.
func TestResponderSame(t *testing.T) {
	same := make(chan bool, 1)
	r := serve(t, table(t, "openat", handler.Func(func(c *handler.Ctx) handler.Action {
		a := c.Responder()
		b := c.Responder()
		same <- a == b && a != nil
		return handler.Hold()
	})), nil)
	id := r.push(trap(t, "openat"))
	assert.True(t, <-same)
	require.NoError(t, r.stop())
	r.answer(id)
}

// Respond with an invalid InjectFD is refused, and the fd it owned is
// closed all the same; the Responder can still answer.
func TestRespondInvalidInjectFDClosesFD(t *testing.T) {
	responders := make(chan *handler.Responder, 1)
	r := serve(t, table(t, "openat", holder(responders)), nil)
	id := r.push(trap(t, "openat"))
	resp := <-responders
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	defer unix.Close(p[1])
	assert.Error(t, resp.Respond(handler.InjectFD(p[0], unix.O_NONBLOCK)))
	assert.True(t, fdClosed(p[0]), "the Action owned the fd")
	assert.True(t, r.f.Pending(id))
	require.NoError(t, resp.Respond(handler.ReturnValue(2)))
	assert.Equal(t, notif.Resp{ID: id, Val: 2}, r.answer(id))
	require.NoError(t, r.stop())
	assert.Empty(t, r.f.AddFDs())
}
