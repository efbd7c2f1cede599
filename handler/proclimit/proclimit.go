package proclimit

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// settle is how long an allowed fork counts as pending before the limiter
// relies on /proc alone.
const settle = 50 * time.Millisecond

// Limiter is the handler; register it on every name of Syscalls.
type Limiter struct {
	max int

	mu sync.Mutex
	// pending maps a thread allowed to fork to when it was: its child
	// may not be visible in /proc yet.
	pending map[int]time.Time
	denied  int
}

// New returns a Limiter allowing at most max processes (the first one
// included) at once.
func New(max int) (*Limiter, error) {
	if max < 1 {
		return nil, fmt.Errorf("process limit %d: must be at least 1", max)
	}
	return &Limiter{max: max, pending: map[int]time.Time{}}, nil
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
		args, err := c.Read(c.Arg(0), 8)
		if err != nil {
			return handler.Errno(unix.EFAULT)
		}
		if binary.LittleEndian.Uint64(args)&unix.CLONE_THREAD != 0 {
			return handler.Continue()
		}
	}
	pgid, err := processGroup(c.Pid())
	if err != nil {
		return handler.Errno(unix.EAGAIN)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	live, err := countGroup(pgid)
	if err != nil {
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
	if live+len(l.pending) >= l.max {
		l.denied++
		return handler.Errno(unix.EAGAIN)
	}
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
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	_, pgrp, _, err := parseStat(stat)
	return pgrp, err
}

// parseStat returns the state, process group and parent of a /proc/PID/stat
// line. The command name may hold spaces and parentheses; it ends at the
// last ')'.
func parseStat(stat []byte) (state byte, pgrp, ppid int, err error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 || end+2 >= len(stat) {
		return 0, 0, 0, fmt.Errorf("parse /proc stat %q", stat)
	}
	fields := bytes.Fields(stat[end+2:])
	if len(fields) < 3 {
		return 0, 0, 0, fmt.Errorf("parse /proc stat %q", stat)
	}
	ppid, err1 := strconv.Atoi(string(fields[1]))
	pgrp, err2 := strconv.Atoi(string(fields[2]))
	if err1 != nil || err2 != nil {
		return 0, 0, 0, fmt.Errorf("parse /proc stat %q", stat)
	}
	return fields[0][0], pgrp, ppid, nil
}

// countGroup counts the live (not zombie) processes of process group pgid.
func countGroup(pgid int) (int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		state, pgrp, _, err := parseStat(stat)
		if err == nil && pgrp == pgid && state != 'Z' && state != 'X' {
			n++
		}
	}
	return n, nil
}
