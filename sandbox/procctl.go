package sandbox

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/runset"
	"github.com/sandlock-go/sandlock-go/handler/unixguard"
	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Some syscalls act on another process with no more than a matching user
// ID: a lower resource limit, CPU affinity, scheduling policy, nice value
// or I/O priority of the supervisor would end or starve supervision, and
// "every process of my user" is every root process for a root command.
// Neither Landlock nor the capabilities cover them. The filter lets a call
// on the caller itself (pid 0) through and traps the others; the guard
// lets a call on a process of the run through and fails the rest with
// EPERM. The pid is a register argument: there is nothing to race.

// Who the "which" of setpriority and ioprio_set names (linux/resource.h,
// linux/ioprio.h): a process, a process group or a user.
const (
	prioProcess   = 0 // PRIO_PROCESS
	ioprioProcess = 1 // IOPRIO_WHO_PROCESS
)

// targetSyscall is a syscall that names another process: the argument
// holding its pid, and for setpriority and ioprio_set the one saying
// which kind of ID it is, with the value meaning "a process".
type targetSyscall struct {
	name         string
	pidArg       int
	whichArg     int // -1: the pid is always a process
	whichProcess uint64
}

var targetSyscalls = []targetSyscall{
	{"prlimit64", 0, -1, 0},
	{"sched_setaffinity", 0, -1, 0},
	{"sched_setscheduler", 0, -1, 0},
	{"sched_setparam", 0, -1, 0},
	{"sched_setattr", 0, -1, 0},
	{"setpriority", 1, 0, prioProcess},
	{"ioprio_set", 1, 0, ioprioProcess},
}

// targetRules returns the filter rules that trap the calls of the target
// syscalls on another process (on 32 bits: a pid is an int). A syscall
// that has a handler of its own is trapped whole and left out.
func targetRules(arch *syscalls.Arch, handled map[int]bool) []seccomp.Rule {
	var rules []seccomp.Rule
	for _, ts := range targetSyscalls {
		nr, err := arch.Number(ts.name)
		if err != nil || handled[nr] {
			continue
		}
		self := []seccomp.Cond{seccomp.ArgMaskedEq(ts.pidArg, lowWord, 0)}
		if ts.whichArg >= 0 {
			// A group or a user with who == 0 means the caller's own,
			// which may hold processes outside the run: trapped.
			self = append(self, seccomp.ArgMaskedEq(ts.whichArg, lowWord, ts.whichProcess))
		}
		rules = append(rules,
			seccomp.Rule{Syscall: nr, Action: seccomp.Allow, Conds: self},
			seccomp.Rule{Syscall: nr, Action: seccomp.Notify})
	}
	return rules
}

// runGuard is the handler of the target syscalls: it lets a call on a
// process of the run (its process group) through.
type runGuard struct {
	sid atomic.Int64 // the run's session, set at Start
}

// Handle implements handler.Handler.
func (g *runGuard) Handle(c *handler.Ctx) handler.Action {
	name := c.SyscallName()
	for _, ts := range targetSyscalls {
		if ts.name != name {
			continue
		}
		pid := int32(c.Arg(ts.pidArg))
		if ts.whichArg >= 0 && uint32(c.Arg(ts.whichArg)) != uint32(ts.whichProcess) {
			return handler.Errno(unix.EPERM) // a group or a user
		}
		if pid == 0 || (pid > 0 && g.inRun(int(pid))) {
			return handler.Continue()
		}
		return handler.Errno(unix.EPERM)
	}
	return handler.Continue()
}

// inRun reports whether pid (a process or a thread) is in the run's
// session.
func (g *runGuard) inRun(pid int) bool {
	return runset.Session(int(g.sid.Load()))(pid)
}

// registerGuards registers the sandbox's own handlers after the caller's:
// the run guard on the syscalls acting on other processes, and the
// unix-socket guard. It returns the filter rules that trap those syscalls
// only when they need a decision (on another process, with a destination);
// a syscall that already has a handler is trapped whole.
func (c *Cmd) registerGuards() ([]seccomp.Rule, error) {
	handled := map[int]bool{}
	for _, nr := range c.table.Syscalls() {
		handled[nr] = true
	}
	rules := targetRules(c.table.Arch(), handled)
	c.guard = &runGuard{}
	for _, ts := range targetSyscalls {
		if _, err := c.table.Arch().Number(ts.name); err == nil {
			if err := c.table.RegisterName(ts.name, c.guard); err != nil {
				return nil, fmt.Errorf("sandbox: %w", err)
			}
		}
	}
	unixRules, err := c.guardUnixSockets(handled)
	if err != nil {
		return nil, err
	}
	return append(rules, unixRules...), nil
}

// guardUnixSockets registers the unix-socket guard (handler/unixguard) on
// the syscalls that reach a unix socket by address, so that the command
// reaches no host daemon (a container runtime's socket, D-Bus, a terminal
// multiplexer) unless Policy.AllowUnix names it; sockets that a process of
// the run holds stay reachable. It returns the filter rules that trap
// sendto only with a destination. IdentityHostRoot has no such boundary.
func (c *Cmd) guardUnixSockets(handled map[int]bool) ([]seccomp.Rule, error) {
	if c.Policy.Identity == IdentityHostRoot {
		if len(c.Policy.AllowUnix) > 0 {
			return nil, fmt.Errorf("sandbox: AllowUnix: IdentityHostRoot reaches every unix socket already")
		}
		return nil, nil
	}
	// Membership: Ctx.InRun, the run's session (Cmd.serve).
	ug, err := unixguard.New(unixguard.Options{Allow: c.Policy.AllowUnix})
	if err != nil {
		return nil, fmt.Errorf("sandbox: AllowUnix: %w", err)
	}
	arch := c.table.Arch()
	var rules []seccomp.Rule
	for _, name := range ug.Syscalls(arch) {
		if err := c.table.RegisterName(name, ug); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		nr, _ := arch.Number(name)
		if arg, ok := unixguard.NonZeroArg(name); ok && !handled[nr] {
			rules = append(rules,
				seccomp.Rule{Syscall: nr, Action: seccomp.Allow, Conds: []seccomp.Cond{seccomp.ArgEq(arg, 0)}},
				seccomp.Rule{Syscall: nr, Action: seccomp.Notify})
		}
	}
	return rules, nil
}
