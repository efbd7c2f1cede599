package notif

import (
	"errors"
	"fmt"
	"os"
	"runtime"
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
// Closing the fd does not wake a thread blocked in SECCOMP_IOCTL_NOTIF_RECV,
// and waiting in poll() first would lose the kernel's synchronous wake-up,
// which is worth ten times in latency. So Recv blocks in the ioctl itself and
// Close interrupts it with SIGURG, which the Go runtime already uses for
// preemption and ignores when unexpected; the ioctl returns EINTR and Recv
// sees the listener closed.
type Listener struct {
	fd int

	// mu is held shared by every ioctl and exclusively by Close, so the
	// fd number is never closed (and reused) under a running ioctl.
	mu       sync.RWMutex
	closed   atomic.Bool
	stopping atomic.Bool

	// receivers counts the threads blocked (or about to block) in Recv.
	recvMu    sync.Mutex
	receivers map[int32]int
}

var _ Notifier = (*Listener)(nil)

// NewListener takes ownership of fd, a seccomp listener returned by
// seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, ...).
func NewListener(fd int) (*Listener, error) {
	if fd < 0 {
		return nil, fmt.Errorf("new listener: invalid fd %d", fd)
	}
	return &Listener{fd: fd, receivers: make(map[int32]int)}, nil
}

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
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := int32(unix.Gettid())
	l.addReceiver(tid, 1)
	defer l.addReceiver(tid, -1)
	for {
		if l.stopping.Load() {
			return ErrClosed
		}
		*n = Notif{}
		err := ioctlRecv(l.fd, n)
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.ENOENT:
			if l.hungUp() {
				return fmt.Errorf("recv: %w", ErrTargetsExited)
			}
			continue
		default:
			return fmt.Errorf("recv: %w", err)
		}
	}
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
// number (Linux 5.14+).
func (l *Listener) AddFD(a *AddFD) (int, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed.Load() {
		return -1, ErrClosed
	}
	fd, err := ioctlAddFD(l.fd, a)
	if err != nil {
		if err == unix.ENOENT {
			return -1, gone("addfd", a.ID)
		}
		return -1, fmt.Errorf("addfd id %#x: %w", a.ID, err)
	}
	return fd, nil
}

// SetSyncWakeUp asks the kernel to switch directly between the trapped task
// and the receiving thread (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, Linux 6.6+).
// On older kernels it returns an error matching ErrNotSupported.
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
	return nil
}

func (l *Listener) addReceiver(tid int32, delta int) {
	l.recvMu.Lock()
	defer l.recvMu.Unlock()
	if l.receivers[tid] += delta; l.receivers[tid] == 0 {
		delete(l.receivers, tid)
	}
}

// anyReceiver returns one thread in Recv, 0 when none.
func (l *Listener) anyReceiver() int32 {
	l.recvMu.Lock()
	defer l.recvMu.Unlock()
	for tid := range l.receivers {
		return tid
	}
	return 0
}

// Shutdown makes every blocked and future Recv return ErrClosed and waits
// until no thread is in Recv. Send, IDValid and AddFD keep working.
func (l *Listener) Shutdown() {
	l.stopping.Store(true)
	l.interruptRecv()
}

// Close shuts down, waits for running ioctls and closes the fd. Pending
// notifications of a still-running target then fail with ENOSYS in the
// target. Closing twice is safe.
func (l *Listener) Close() error {
	l.Shutdown()
	if l.closed.Swap(true) {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := unix.Close(l.fd); err != nil {
		return fmt.Errorf("close listener: %w", err)
	}
	return nil
}

// interruptRecv signals the threads in Recv until they have left. Recv
// registers its thread before it checks stopping, and Shutdown sets stopping
// before it looks for threads, so one of the two always sees the other.
func (l *Listener) interruptRecv() {
	pid := os.Getpid()
	for backoff := 20 * time.Microsecond; ; {
		tid := l.anyReceiver()
		if tid == 0 {
			return
		}
		if err := unix.Tgkill(pid, int(tid), unix.SIGURG); err != nil && !errors.Is(err, unix.ESRCH) {
			return
		}
		time.Sleep(backoff)
		if backoff < 10*time.Millisecond {
			backoff *= 2
		}
	}
}
