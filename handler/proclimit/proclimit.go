package proclimit

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/internal/procfs"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// settle is how long an allowed fork counts as pending before the limiter
// relies on /proc alone.
const settle = 50 * time.Millisecond

// Limiter is the handler; register it on every name of Syscalls.
type Limiter struct {
	max int // 0: count only (NewCounter)

	mu sync.Mutex
	// pending maps a thread allowed to fork to when it was: its child
	// may not be visible in /proc yet.
	pending  map[int]time.Time
	denied   int
	peak     int
	countErr error
}

// New returns a Limiter allowing at most max processes (the first one
// included) at once.
func New(max int) (*Limiter, error) {
	if max < 1 {
		return nil, fmt.Errorf("process limit %d: must be at least 1", max)
	}
	return &Limiter{max: max, pending: map[int]time.Time{}, peak: 1}, nil
}

// NewCounter returns a Limiter that refuses no process creation and
// records, in Peak, the most processes the run had at once, counted as a
// Limiter with a cap counts them: the smallest cap under which the run
// would have gone the same way. clone3 still fails with ENOSYS, setsid and
// setpgid with EPERM, as under a cap.
func NewCounter() *Limiter {
	return &Limiter{pending: map[int]time.Time{}, peak: 1}
}

// Peak returns the most processes counted at once, the first one
// included: the live processes of the group, the creations allowed in the
// last moments that /proc may not show yet, and the one being created.
func (l *Limiter) Peak() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}

// Err returns the first error met while counting processes, nil if none.
// A Limiter with a cap refuses the creation on such an error; a counter
// lets it run, and Peak may then be low.
func (l *Limiter) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.countErr
}

// Syscalls returns the names to register the Limiter on that exist on arch
// (nil: native).
func (l *Limiter) Syscalls(arch *syscalls.Arch) []string {
	if arch == nil {
		arch = syscalls.Native()
	}
	var out []string
	for _, n := range []string{"fork", "vfork", "clone", "clone3", "setsid", "setpgid"} {
		if _, err := arch.Number(n); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// Denied returns how many process creations were refused.
func (l *Limiter) Denied() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.denied
}

// Handle decides one process creation.
func (l *Limiter) Handle(c *handler.Ctx) handler.Action {
	switch c.SyscallName() {
	case "setsid", "setpgid":
		return handler.Errno(unix.EPERM)
	case "clone":
		if c.Arg(0)&unix.CLONE_THREAD != 0 {
			return handler.Continue()
		}
	case "clone3":
		// Its flags are in memory: a thread could turn the thread the
		// limiter saw into a process after the check. ENOSYS makes
		// libc fall back to clone, whose flags are in a register (the
		// sandbox's isolation rules answer it so in the kernel
		// already, unless Policy.AllowSyscalls names clone3).
		return handler.Errno(unix.ENOSYS)
	}
	pgid, err := processGroup(c.Pid())
	l.mu.Lock()
	defer l.mu.Unlock()
	live := 0
	if err == nil {
		live, err = countGroup(pgid)
	}
	if err != nil {
		if l.countErr == nil {
			l.countErr = fmt.Errorf("count the processes of task %d: %w", c.Pid(), err)
		}
		if l.max == 0 {
			return handler.Continue()
		}
		return handler.Errno(unix.EAGAIN)
	}
	now := time.Now()
	// This thread's previous fork has completed: it is in live now.
	delete(l.pending, c.Pid())
	for tid, t := range l.pending {
		if now.Sub(t) >= settle {
			delete(l.pending, tid)
		}
	}
	if l.max > 0 && live+len(l.pending) >= l.max {
		l.denied++
		return handler.Errno(unix.EAGAIN)
	}
	l.peak = max(l.peak, live+len(l.pending)+1)
	l.pending[c.Pid()] = now
	return handler.Continue()
}

// GroupSize counts the live (not zombie) processes in the process group of
// task pid, as the Limiter does.
func GroupSize(pid int) (int, error) {
	pgid, err := processGroup(pid)
	if err != nil {
		return 0, err
	}
	return countGroup(pgid)
}

// processGroup returns the process group of task pid.
func processGroup(pid int) (int, error) {
	st, err := procfs.ReadStat(pid)
	return st.Pgrp, err
}

// countGroup counts the live (not zombie) processes of process group pgid.
func countGroup(pgid int) (int, error) {
	pids, err := procfs.Pids()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, pid := range pids {
		st, err := procfs.ReadStat(pid)
		if err == nil && st.Pgrp == pgid && st.Live() {
			n++ // an error: exited meanwhile
		}
	}
	return n, nil
}
