package handler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/notif"
)

// Options tune Serve. A nil *Options means the defaults.
type Options struct {
	// Workers is the number of notifications handled at once. One worker
	// at a time waits for the next notification and handles it on its own
	// locked OS thread; when its handler runs longer than HandoffAfter,
	// another worker takes over receiving. Default 8.
	Workers int
	// HandoffAfter is how long a handler may run before another worker
	// starts receiving: the most a slow handler delays the next
	// notification. Each dispatch arms a runtime timer for it and stops
	// it on return; nothing ticks between notifications. Default 100µs.
	HandoffAfter time.Duration
	// Prefilter, when set, sees each notification first, on the receiving
	// thread; when it returns true the syscall is answered Continue and no
	// handler sees it. The sandbox runner uses it for the launcher's own
	// syscalls before the target starts.
	Prefilter func(n *notif.Notif) bool
	// Observe, when set, is called after the chain decided and before the
	// answer is sent, with the Ctx still live (so it may read memory), the
	// final action and the time spent in handlers. A panic in Observe is
	// recovered and reported to OnError; the answer is the chain's
	// decision all the same (an observer does not decide).
	Observe func(c *Ctx, a Action, latency time.Duration)
	// ShutdownGrace is how long Serve waits for running handlers when it
	// stops before answering their notifications with the handlers'
	// exception policy. Default 1s.
	ShutdownGrace time.Duration
	// OnError receives unexpected errors: handler panics, invalid actions,
	// failed answers other than "task gone". Default: ignored.
	OnError func(error)
	// AsProcess, when set, runs fn confined as the supervised processes
	// are (their credentials, capabilities and Landlock rules) and
	// returns when fn has returned, or an error when that confinement
	// cannot be had; Ctx.AsProcess uses it. The sandbox sets it.
	AsProcess func(fn func()) error
	// AsTask, when set, is used by Ctx.AsProcess instead of AsProcess,
	// with the trapped task's id (a pid of the supervisor's pid
	// namespace): for supervisors whose processes do not all share one
	// identity, such as the containers of an agent, each acted for with
	// its own credentials.
	AsTask func(tid int, fn func()) error
	// InRun, when set, reports whether a task (a pid of the supervisor's
	// pid namespace) belongs to the run being served; Ctx.InRun uses it.
	// The sandbox sets it to the command's session.
	InRun func(pid int) bool
}

func (o *Options) workers() int {
	if o == nil || o.Workers <= 0 {
		return 8
	}
	return o.Workers
}

func (o *Options) handoffAfter() time.Duration {
	if o == nil || o.HandoffAfter <= 0 {
		return 100 * time.Microsecond
	}
	return o.HandoffAfter
}

func (o *Options) grace() time.Duration {
	if o == nil || o.ShutdownGrace <= 0 {
		return time.Second
	}
	return o.ShutdownGrace
}

// ErrAlreadyAnswered is returned by Responder.Respond for a notification
// that has been answered already.
var ErrAlreadyAnswered = errors.New("notification already answered")

// server is the state of one Serve call.
type server struct {
	n    notif.Notifier
	t    *Table
	opts Options

	// inflight holds, per worker, the Ctx being handled.
	inflight []atomic.Pointer[Ctx]
	// scratch is each worker's answer buffer for notifications that have
	// no Ctx, so that answering does not allocate.
	scratch []notif.Resp

	workers []workerState

	// recvToken holds the right to receive while no worker has it: one
	// worker at a time waits in Recv, because the kernel wakes every
	// waiter of a listener for each notification.
	recvToken chan struct{}
	stopped   chan struct{}

	held heldSet
}

// Serve receives notifications from n and answers each with the handlers of
// t, on Workers goroutines at once, until every supervised task has exited,
// n is closed, or ctx is cancelled.
//
// When it stops, Serve makes n's blocked receivers return (n.Shutdown),
// waits up to ShutdownGrace for running handlers, answers the notifications
// of handlers still running and of Responders never used with each
// handler's exception policy, and returns. It does not close n. A handler
// that never returns keeps its goroutine until it does; its late answer is
// dropped.
//
// Serve returns nil when the tasks exited or n was closed, ctx.Err() when
// ctx was cancelled, and the receive error otherwise.
func Serve(ctx context.Context, n notif.Notifier, t *Table, opts *Options) error {
	if n == nil || t == nil {
		return errors.New("serve: nil notifier or table")
	}
	s := &server{n: n, t: t}
	if opts != nil {
		s.opts = *opts
	}
	workers := s.opts.workers()
	s.inflight = make([]atomic.Pointer[Ctx], workers)
	s.scratch = make([]notif.Resp, workers)
	s.recvToken = make(chan struct{}, 1)
	s.recvToken <- struct{}{}
	s.workers = make([]workerState, workers)

	var (
		wg       sync.WaitGroup
		stopOnce sync.Once
		recvErr  error
		errMu    sync.Mutex
	)
	s.stopped = make(chan struct{})
	stopped := s.stopped
	stop := func(err error) {
		errMu.Lock()
		if recvErr == nil {
			recvErr = err
		}
		errMu.Unlock()
		stopOnce.Do(func() { close(stopped) })
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stop(s.work(w))
		}()
	}
	allDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(allDone)
	}()

	var result error
	select {
	case <-ctx.Done():
		result = ctx.Err()
	case <-stopped:
		errMu.Lock()
		if !errors.Is(recvErr, notif.ErrClosed) && !errors.Is(recvErr, notif.ErrTargetsExited) {
			result = fmt.Errorf("serve: %w", recvErr)
		}
		errMu.Unlock()
	}
	n.Shutdown()

	timer := time.NewTimer(s.opts.grace())
	defer timer.Stop()
	select {
	case <-allDone:
	case <-timer.C:
		for i := range s.inflight {
			if c := s.inflight[i].Load(); c != nil {
				s.failStuck(c)
			}
		}
	}
	for c, policy := range s.held.end() {
		// Held and never answered.
		_ = s.answer(c, policy.action())
	}
	return result
}

// Worker states for the receive handoff.
const (
	stateIdle int32 = iota
	stateBusy
	stateHandedOff
)

// workerState is what a worker's hand-off timer sees of it. A worker in
// stateBusy holds the receive token: it received the notification it is
// dispatching.
type workerState struct {
	state atomic.Int32
}

// handOff gives the receive token to another worker when ws is still
// dispatching. It runs from ws's hand-off timer. A timer of an earlier
// dispatch that fires late finds ws idle (nothing happens) or busy with a
// later dispatch (an early hand-off: harmless, ws holds the token then).
func (s *server) handOff(ws *workerState) {
	if ws.state.CompareAndSwap(stateBusy, stateHandedOff) {
		// One token exists: held by the busy worker until now, so the
		// channel is empty and the send does not block.
		s.recvToken <- struct{}{}
	}
}

// work is one worker: wait for the receive token, then receive and
// dispatch until a handler runs long enough that the worker's hand-off
// timer gave the token to another worker. It returns the receive error
// that ended it, nil when Serve stopped first.
//
// The timer is armed when a dispatch starts and stopped when it ends: a
// runtime timer that is reset and stopped makes no system call and wakes
// no thread, so fast handlers cost no timer tick and an idle supervisor
// no wake-up. Only a handler that outlives HandoffAfter fires it.
func (s *server) work(w int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ws := &s.workers[w]
	after := s.opts.handoffAfter()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var n notif.Notif
	for {
		select {
		case <-s.recvToken:
		case <-s.stopped:
			return nil
		}
		for {
			if err := s.n.Recv(&n); err != nil {
				s.recvToken <- struct{}{} // let the others see it too
				return err
			}
			ws.state.Store(stateBusy)
			if timer == nil {
				timer = time.AfterFunc(after, func() { s.handOff(ws) })
			} else {
				timer.Reset(after)
			}
			s.dispatch(w, &n)
			timer.Stop()
			if !ws.state.CompareAndSwap(stateBusy, stateIdle) {
				break // another worker receives now
			}
		}
	}
}

func (s *server) dispatch(w int, n *notif.Notif) {
	if s.opts.Prefilter != nil && s.opts.Prefilter(n) {
		s.scratch[w] = notif.Resp{ID: n.ID, Flags: notif.RespFlagContinue}
		s.report(s.n.Send(&s.scratch[w]))
		return
	}
	if n.Data.Arch != s.t.arch.AuditArch() {
		// The filter kills foreign ABIs; this is a bug or a foreign filter.
		s.scratch[w] = notif.Resp{ID: n.ID, Error: -int32(unix.ENOSYS)}
		s.report(s.n.Send(&s.scratch[w]))
		return
	}
	c := newCtx(n, s.n, s.t.arch, s)
	s.inflight[w].Store(c)
	defer s.inflight[w].Store(nil)
	defer s.runAfter(c) // after the answer: deferred calls run last

	var start time.Time
	if s.opts.Observe != nil {
		start = time.Now()
	}
	a, policy := s.decide(c)
	if a.kind == KindHold {
		if r := c.heldResponder(); r != nil && s.held.add(c, policy) {
			// Until c is in held, r's cleanup would not answer it.
			runtime.KeepAlive(r)
			if s.opts.Observe != nil {
				s.observe(c, a, time.Since(start))
			}
			c.expire()
			return
		}
		if c.answered.Load() {
			c.expire() // answered by its Responder already
			return
		}
		s.report(fmt.Errorf("%s: Hold without taking the Responder", c.SyscallName()))
		a = policy.action()
		if a.kind == KindContinue {
			a = Continue()
		}
	}
	if s.opts.Observe != nil {
		s.observe(c, a, time.Since(start))
	}
	c.expire()
	s.answer(c, a)
}

// runAfter runs what handlers and Observe deferred with Ctx.AfterAnswer,
// once c is answered or held, turning a panic into a reported error.
func (s *server) runAfter(c *Ctx) {
	c.expire() // already, on every path but a panic
	for _, fn := range c.takeAfter() {
		s.runDeferred(c, fn)
	}
}

func (s *server) runDeferred(c *Ctx, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			s.report(fmt.Errorf("AfterAnswer for %s panicked: %v", c.SyscallName(), r))
		}
	}()
	fn()
}

// observe runs Options.Observe, turning a panic into a reported error.
func (s *server) observe(c *Ctx, a Action, latency time.Duration) {
	defer func() {
		if r := recover(); r != nil {
			s.report(fmt.Errorf("Observe for %s panicked: %v", c.SyscallName(), r))
		}
	}()
	s.opts.Observe(c, a, latency)
}

// decide runs the chain of c's syscall and returns the answer and the
// exception policy of the handler that gave it.
func (s *server) decide(c *Ctx) (Action, ExceptionPolicy) {
	for _, h := range s.t.chain(c.n.Data.Nr) {
		policy := policyOf(h)
		c.policy.Store(int32(policy))
		a, ok := s.call(h, c)
		if !ok {
			a = policy.action()
		}
		if a.kind != KindContinue {
			return a, policy
		}
	}
	return Continue(), ExceptionKill
}

// call runs one handler, turning a panic or an invalid action into ok=false.
func (s *server) call(h Handler, c *Ctx) (a Action, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s.report(fmt.Errorf("handler for %s panicked: %v", c.SyscallName(), r))
			a, ok = Action{}, false
		}
	}()
	a = h.Handle(c)
	if err := a.Valid(); err != nil {
		s.report(fmt.Errorf("handler for %s: %w", c.SyscallName(), err))
		if a.kind == KindInjectFD && a.value >= 0 {
			_ = unix.Close(int(a.value))
		}
		return Action{}, false
	}
	return a, true
}

// answer sends a once; a later answer for the same notification is dropped.
func (s *server) answer(c *Ctx, a Action) error {
	if !c.answered.CompareAndSwap(false, true) {
		if a.kind == KindInjectFD {
			_ = unix.Close(int(a.value))
		}
		return ErrAlreadyAnswered
	}
	return s.report(s.send(c, a))
}

// send performs an action on the kernel (or fake) notifier.
func (s *server) send(c *Ctx, a Action) error {
	id := c.n.ID
	switch a.kind {
	case KindContinue:
		c.resp = notif.Resp{ID: id, Flags: notif.RespFlagContinue}
		return s.n.Send(&c.resp)
	case KindErrno:
		c.resp = notif.Resp{ID: id, Error: -int32(a.value)}
		return s.n.Send(&c.resp)
	case KindReturnValue:
		c.resp = notif.Resp{ID: id, Val: a.value}
		return s.n.Send(&c.resp)
	case KindKill:
		err := killTask(s.n, int(c.n.Pid), id)
		// The task is dying; the answer only matters if the kill failed.
		_ = s.n.Send(&notif.Resp{ID: id, Error: -int32(unix.EPERM)})
		return err
	case KindInjectFD:
		return s.inject(c, a)
	}
	return fmt.Errorf("answer %s: cannot send %s", c.SyscallName(), a)
}

func (s *server) inject(c *Ctx, a Action) error {
	fd := int(a.value)
	defer unix.Close(fd)
	// The Notifier answers too, in one step or two (notif.Listener.AddFD).
	req := notif.AddFD{ID: c.n.ID, Flags: notif.AddFDFlagSend, SrcFD: uint32(fd), NewFDFlags: a.flags}
	_, err := s.n.AddFD(&req)
	if err == nil || errors.Is(err, notif.ErrNotificationGone) {
		return err
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		errno = unix.EIO
	}
	// EMFILE and the like belong to the task; tell it.
	_ = s.n.Send(&notif.Resp{ID: c.n.ID, Error: -int32(errno)})
	return fmt.Errorf("inject fd into %s: %w", c.SyscallName(), err)
}

// report passes unexpected errors to OnError and returns err.
func (s *server) report(err error) error {
	if err != nil && s.opts.OnError != nil && !errors.Is(err, notif.ErrNotificationGone) && !errors.Is(err, ErrAlreadyAnswered) {
		s.opts.OnError(err)
	}
	return err
}

// failStuck answers a notification whose handler outlived the grace period.
func (s *server) failStuck(c *Ctx) {
	policy := ExceptionPolicy(c.policy.Load())
	s.report(fmt.Errorf("handler for %s still running at shutdown: answered %s", c.SyscallName(), policy))
	c.expire()
	_ = s.answer(c, policy.action())
}

// killTask sends SIGKILL to the process of the trapped thread pid, after
// making sure that pid still is the trapped task: a pidfd pins the task, and
// the notification is checked after it was taken.
func killTask(n notif.Notifier, pid int, id uint64) error {
	if pid <= 0 || pid > math.MaxInt32 {
		// 0 is a task outside our pid namespace; kill(2) would read it
		// as our own process group, and a value that truncates to -1 as
		// every process we may signal.
		return fmt.Errorf("kill: trapped task has no usable pid (%d)", pid)
	}
	pidfd, err := unix.PidfdOpen(pid, unix.PIDFD_THREAD)
	if err != nil {
		pidfd, err = unix.PidfdOpen(pid, 0)
	}
	if err != nil {
		// No pidfd (old kernel, or a thread before 6.9): check, then kill.
		if err := n.IDValid(id); err != nil {
			return err
		}
		if err := unix.Kill(pid, unix.SIGKILL); err != nil {
			return fmt.Errorf("kill pid %d: %w", pid, err)
		}
		return nil
	}
	defer unix.Close(pidfd)
	if err := n.IDValid(id); err != nil {
		return err
	}
	if err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); err != nil {
		return fmt.Errorf("kill pid %d: %w", pid, err)
	}
	return nil
}
