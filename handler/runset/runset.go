// Package runset tells whether a process belongs to a run: the sandboxed
// command and its descendants, as opposed to the supervisor and the rest of
// the host. Handlers that act on the run's behalf use it to refuse what
// belongs to strangers (another process's /proc files, a unix socket that
// no process of the run holds).
//
// # Membership
//
// A membership is a func(pid int) bool, pid as the supervisor's pid
// namespace numbers tasks (a process or a thread). sandbox starts the
// command in a process group of its own and, unless
// Policy.AllowProcessGroups, denies setsid and setpgid, so the process
// group is the run: ProcessGroup(pgid) with the command's pid as pgid is
// the exact membership. Of is the fallback of handlers given none: it can
// only start from the trapped task.
//
// Every membership here fails closed: a task whose /proc entries cannot be
// read does not belong, and the supervisor's own thread group never does,
// whatever its process group.
package runset

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler/internal/procfs"
)

// Func reports whether task pid belongs to the run.
type Func func(pid int) bool

// ProcessGroup returns the membership of the run whose processes are in
// process group pgid (the group sandbox gives the command). A pgid that is
// not positive, or that is the supervisor's own process group (which the
// supervisor's parent and siblings may share), gives a membership that
// holds for nobody.
func ProcessGroup(pgid int) Func {
	if pgid <= 0 || pgid == unix.Getpgrp() {
		return func(int) bool { return false }
	}
	return func(pid int) bool {
		return pid > 0 && inGroup(pid, pgid) && !Supervisor(pid)
	}
}

// ProcessGroupOf is ProcessGroup with the group read when asked, for a
// membership built before the command starts (handlers are registered
// before its pid exists): pgid returns the command's process group, 0
// while there is none (then nobody belongs).
func ProcessGroupOf(pgid func() int) Func {
	return func(pid int) bool {
		return ProcessGroup(pgid())(pid)
	}
}

// Session returns the membership of the run whose processes are in session
// sid (sandbox gives the command a session of its own, denies setsid, and
// lets job control move processes between groups of that session). A sid
// that is not positive, or the supervisor's own session, gives a
// membership that holds for nobody.
func Session(sid int) Func {
	if own, err := unix.Getsid(0); sid <= 0 || err != nil || sid == own {
		return func(int) bool { return false }
	}
	return func(pid int) bool {
		if pid <= 0 || Supervisor(pid) {
			return false
		}
		st, err := procfs.ReadStat(pid)
		return err == nil && st.Session == sid
	}
}

// SessionOf is Session with the session read when asked, for a membership
// built before the command starts: sid returns the command's session, 0
// while there is none (then nobody belongs).
func SessionOf(sid func() int) Func {
	return func(pid int) bool {
		return Session(sid())(pid)
	}
}

// SessionMembers returns the live processes of session sid (not the
// supervisor's own), for ending a run.
func SessionMembers(sid int) ([]int, error) {
	if own, err := unix.Getsid(0); sid <= 0 || err != nil || sid == own {
		return nil, nil
	}
	pids, err := procfs.Pids()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, pid := range pids {
		if st, err := procfs.ReadStat(pid); err == nil && st.Session == sid && st.Live() && pid != os.Getpid() {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Of returns the membership seen from the trapped task tid: its own thread
// group, and the processes of its process group unless that group is the
// supervisor's (a command left in the supervisor's group cannot be told
// apart from the supervisor's parent and siblings). Handlers use it when
// they are given no membership; ProcessGroup with the command's pgid is
// exact where Of guesses.
func Of(tid int) Func {
	tgid, err := procfs.Tgid(tid)
	if err != nil || Supervisor(tid) {
		return func(int) bool { return false }
	}
	group := 0
	if st, err := procfs.ReadStat(tid); err == nil && st.Pgrp > 0 && st.Pgrp != unix.Getpgrp() {
		group = st.Pgrp
	}
	return func(pid int) bool {
		switch {
		case pid <= 0:
			return false
		case pid == tgid || sameThreadGroup(tgid, pid):
			return true
		}
		return group != 0 && inGroup(pid, group) && !Supervisor(pid)
	}
}

// Supervisor reports whether task pid is a thread of the supervisor (this
// process).
func Supervisor(pid int) bool {
	return pid == os.Getpid() || sameThreadGroup(os.Getpid(), pid)
}

// sameThreadGroup reports whether task tid is a thread of process tgid.
func sameThreadGroup(tgid, tid int) bool {
	return unix.Access("/proc/"+strconv.Itoa(tgid)+"/task/"+strconv.Itoa(tid), unix.F_OK) == nil
}

// inGroup reports whether task pid is in process group pgid.
func inGroup(pid, pgid int) bool {
	st, err := procfs.ReadStat(pid)
	return err == nil && st.Pgrp == pgid
}
