package notif

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Listener is a seccomp user-notification listener fd, the kernel
// implementation of Notifier.
//
// # Waking a blocked Recv
//
// Neither close() nor a signal wakes a thread blocked in
// SECCOMP_IOCTL_NOTIF_RECV: the kernel restarts the ioctl after Go's
// SA_RESTART signal handlers. So Recv waits in poll() on the listener and an
// eventfd that Shutdown writes, and calls the ioctl only when a notification
// is pending. Poll waiters sit on the same wait queue as RECV waiters, so
// they get the kernel's synchronous wake-up too; the cost is one poll()
// per notification.
//
// Several threads waiting on one listener are all woken for each
// notification (the kernel's wait is not exclusive), so a dispatcher should
// keep one thread in Recv at a time.
type Listener struct {
	fd   int
	wake int

	// mu is held shared by every ioctl and exclusively by Close, so the
	// fd number is never closed (and reused) under a running ioctl.
	mu       sync.RWMutex
	closed   atomic.Bool
	stopping atomic.Bool
	blocking atomic.Bool
	killable atomic.Bool
	// noSyncWakeUp is the NoSyncWakeUp option; syncWakeUp whether the
	// kernel took the flag.
	noSyncWakeUp bool
	syncWakeUp   atomic.Bool
}

var _ Notifier = (*Listener)(nil)

// closeTimeout bounds how long Close waits for a Recv blocked in the RECV
// ioctl.
const closeTimeout = 5 * time.Second

// ErrRecvStuck is returned by Close when a blocking Recv did not return in
// time; the fd is left open.
var ErrRecvStuck = errors.New("a receiver is still blocked in SECCOMP_IOCTL_NOTIF_RECV")

// ListenerOption is a setting of a Listener, given to NewListener.
type ListenerOption func(*Listener)

// BlockingRecv makes Recv wait in the RECV ioctl itself instead of in
// poll(): see SetBlockingRecv.
func BlockingRecv() ListenerOption { return func(l *Listener) { l.blocking.Store(true) } }

// WaitKillableRecv tells the Listener that its filter was installed with
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: see SetWaitKillableRecv.
func WaitKillableRecv() ListenerOption { return func(l *Listener) { l.killable.Store(true) } }

// NoSyncWakeUp leaves SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP off, which
// NewListener otherwise asks for.
func NoSyncWakeUp() ListenerOption { return func(l *Listener) { l.noSyncWakeUp = true } }

// NewListener takes ownership of fd, a seccomp listener returned by
// seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, ...),
// with its settings. It asks the kernel for the synchronous wake-up
// (SetSyncWakeUp) unless told NoSyncWakeUp; on a kernel without it the
// Listener works, only slower (SyncWakeUpEnabled says which).
func NewListener(fd int, opts ...ListenerOption) (*Listener, error) {
	if fd < 0 {
		return nil, fmt.Errorf("new listener: invalid fd %d", fd)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("new listener: eventfd: %w", err)
	}
	l := &Listener{fd: fd, wake: wake}
	for _, o := range opts {
		o(l)
	}
	if !l.noSyncWakeUp {
		_ = l.SetSyncWakeUp() // best effort
	}
	return l, nil
}

// SyncWakeUpEnabled reports whether the kernel switches directly between
// the trapped task and the receiving thread for this listener.
func (l *Listener) SyncWakeUpEnabled() bool { return l.syncWakeUp.Load() }

// FD returns the listener's file descriptor, still owned by the Listener.
func (l *Listener) FD() int { return l.fd }

// Recv blocks until the next notification. It retries EINTR and an
// interrupted notification (ENOENT while tasks remain). It returns ErrClosed
// after Close and ErrTargetsExited once every task under the filter has
// exited.
//
// For the kernel's synchronous wake-up to pay off, call Recv in a loop from
// a goroutine locked to its OS thread.
func (l *Listener) Recv(n *Notif) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	blocking := l.blocking.Load()
	for {
		if l.stopping.Load() {
			return ErrClosed
		}
		if !blocking {
			ready, err := l.waitReadable()
			if err != nil {
				return err
			}
			if !ready {
				continue
			}
		}
		*n = Notif{}
		switch err := ioctlRecv(l.fd, n); err {
		case nil:
			if blocking && l.stopping.Load() {
				// Shut down while blocked: answer rather than leave
				// the task hanging on a dispatcher that stopped.
				_ = ioctlSend(l.fd, &Resp{ID: n.ID, Error: -int32(unix.ENOSYS)})
				return ErrClosed
			}
			return nil
		case unix.EINTR:
			continue
		case unix.ENOENT:
			if l.hungUp() {
				return fmt.Errorf("recv: %w", ErrTargetsExited)
			}
		default:
			return fmt.Errorf("recv: %w", err)
		}
	}
}

// waitReadable waits in poll() until a notification is pending (true), the
// listener is shut down (ErrClosed) or no task uses the filter any more
// (ErrTargetsExited).
func (l *Listener) waitReadable() (bool, error) {
	fds := [2]unix.PollFd{{Fd: int32(l.fd), Events: unix.POLLIN}, {Fd: int32(l.wake), Events: unix.POLLIN}}
	if _, err := unix.Poll(fds[:], -1); err != nil {
		if err == unix.EINTR {
			return false, nil
		}
		return false, fmt.Errorf("recv: poll: %w", err)
	}
	switch {
	case fds[1].Revents != 0:
		return false, ErrClosed
	case fds[0].Revents&unix.POLLIN != 0:
		return true, nil
	case fds[0].Revents&unix.POLLHUP != 0:
		return false, fmt.Errorf("recv: %w", ErrTargetsExited)
	}
	return false, nil
}

// SetBlockingRecv makes Recv wait in the RECV ioctl itself instead of in
// poll(): one syscall less per notification (about 15% of the latency), but
// Shutdown and Close can no longer wake a blocked Recv. It returns when a
// notification arrives or when every task under the filter has exited. Use
// it only when the owner ends a run by killing every supervised task, as the
// sandbox runner does when process groups are confined. The BlockingRecv
// option of NewListener sets it when the Listener is made, before any
// Recv.
func (l *Listener) SetBlockingRecv(on bool) { l.blocking.Store(on) }

// TargetsExited reports whether every task under the listener's filter has
// exited (poll() reports POLLHUP), without waiting. It is false after
// Close.
func (l *Listener) TargetsExited() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return !l.closed.Load() && l.hungUp()
}

// hungUp reports whether poll sees POLLHUP on the listener: no task uses
// the filter any more.
func (l *Listener) hungUp() bool {
	fds := []unix.PollFd{{Fd: int32(l.fd), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && fds[0].Revents&unix.POLLHUP != 0
	}
}

// Send answers a notification.
func (l *Listener) Send(r *Resp) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if err := ioctlSend(l.fd, r); err != nil {
		if err == unix.ENOENT {
			return gone("send", r.ID)
		}
		return fmt.Errorf("send id %#x: %w", r.ID, err)
	}
	return nil
}

// IDValid returns nil when the notification is still pending.
func (l *Listener) IDValid(id uint64) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if err := ioctlIDValid(l.fd, id); err != nil {
		if err == unix.ENOENT {
			return gone("id valid", id)
		}
		return fmt.Errorf("id valid %#x: %w", id, err)
	}
	return nil
}

// AddFD installs a copy of a.SrcFD in the trapped process and returns its
// number there. With AddFDFlagSend the notification is answered with that
// number: in one ioctl on Linux 5.14+, in two (ADDFD, then SEND) before
// that and under SetWaitKillableRecv. This is the only emulation of
// AddFDFlagSend; callers need none.
func (l *Listener) AddFD(a *AddFD) (int, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return -1, ErrClosed
	}
	req := *a
	twoStep := a.Flags&AddFDFlagSend != 0 && l.killable.Load()
	if twoStep {
		req.Flags &^= AddFDFlagSend
	}
	fd, err := ioctlAddFD(l.fd, &req)
	if err == unix.EINVAL && req.Flags&AddFDFlagSend != 0 && HaveAddFDSend.Check() != nil {
		// Before Linux 5.14: install, then answer with the number.
		req.Flags &^= AddFDFlagSend
		twoStep = true
		fd, err = ioctlAddFD(l.fd, &req)
	}
	if err != nil {
		if err == unix.ENOENT {
			return -1, gone("addfd", a.ID)
		}
		return -1, fmt.Errorf("addfd id %#x: %w", a.ID, err)
	}
	if twoStep {
		if err := ioctlSend(l.fd, &Resp{ID: a.ID, Val: int64(fd)}); err != nil {
			if err == unix.ENOENT {
				return -1, gone("send", a.ID)
			}
			return -1, fmt.Errorf("send id %#x: %w", a.ID, err)
		}
	}
	return fd, nil
}

// SetWaitKillableRecv tells the Listener that its filter was installed with
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19+), as seccomp.Install
// does where the kernel has it: a received notification can then be
// interrupted only by the death of its task.
//
// AddFD with AddFDFlagSend then installs the descriptor and answers in two
// ioctls (ADDFD, then SEND with the new number) instead of one. The
// one-step form is not safe against a stop of the supervisor (SIGSTOP, the
// cgroup freezer): the kernel marks the notification answered before it
// waits for the task to take the descriptor, a stop interrupts that wait
// and withdraws the descriptor, and the trapped syscall returns 0, a
// descriptor the task already had. An interrupted ADDFD without SEND is
// withdrawn or completed whole and restarted, and with killable waits the
// task cannot leave its syscall between the two steps but by dying.
//
// The WaitKillableRecv option of NewListener sets it when the Listener is
// made.
func (l *Listener) SetWaitKillableRecv(on bool) { l.killable.Store(on) }

// SetSyncWakeUp asks the kernel to switch directly between the trapped task
// and the receiving thread (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux 6.6+).
// On older kernels it returns an error matching ErrNotSupported. NewListener
// does it already unless told NoSyncWakeUp.
func (l *Listener) SetSyncWakeUp() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if err := ioctlSetFlags(l.fd, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP); err != nil {
		if err == unix.EINVAL || err == unix.ENOTTY {
			return fmt.Errorf("set sync wake-up: %w", &UnsupportedFeatureError{Name: "sync wake-up", MinimumVersion: "6.6"})
		}
		return fmt.Errorf("set sync wake-up: %w", err)
	}
	l.syncWakeUp.Store(true)
	return nil
}

// Shutdown makes every blocked and future Recv return ErrClosed. Send,
// IDValid and AddFD keep working.
func (l *Listener) Shutdown() {
	l.stopping.Store(true)
	one := [8]byte{1}
	_, _ = unix.Write(l.wake, one[:])
}

// Close shuts down, waits for running ioctls and closes the fd. Pending
// notifications of a still-running target then fail with ENOSYS in the
// target. Closing twice is safe.
//
// A Recv blocked in RECV (SetBlockingRecv) cannot be woken: Close waits up to
// closeTimeout for it, then gives up and leaves the fd open rather than
// close it under a running ioctl, returning ErrRecvStuck.
func (l *Listener) Close() error {
	l.Shutdown()
	if l.closed.Swap(true) {
		return nil
	}
	for deadline := time.Now().Add(closeTimeout); !l.mu.TryLock(); {
		if time.Now().After(deadline) {
			return fmt.Errorf("close listener: %w", ErrRecvStuck)
		}
		time.Sleep(time.Millisecond)
	}
	defer l.mu.Unlock()
	err := unix.Close(l.fd)
	_ = unix.Close(l.wake)
	if err != nil {
		return fmt.Errorf("close listener: %w", err)
	}
	return nil
}
