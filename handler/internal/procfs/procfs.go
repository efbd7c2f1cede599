// Package procfs reads the few facts about tasks that handlers need from
// /proc: the state, parent and process group in /proc/PID/stat and the
// thread group in /proc/PID/status. Paths are those of the supervisor's
// /proc: task IDs as its pid namespace numbers them.
package procfs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Stat is the part of /proc/PID/stat that handlers use.
type Stat struct {
	// State is the one-letter state: 'R', 'S', 'D', 'Z' (zombie), 'X'
	// (dead), ...
	State byte
	// Ppid is the parent's process ID; Pgrp the process group; Session
	// the session.
	Ppid, Pgrp, Session int
}

// Live reports whether the task has not exited (neither zombie nor dead).
func (s Stat) Live() bool { return s.State != 'Z' && s.State != 'X' }

// ReadStat reads /proc/PID/stat of task pid (a process or a thread).
func ReadStat(pid int) (Stat, error) {
	var buf [512]byte
	b, err := readSmall("/proc/"+strconv.Itoa(pid)+"/stat", buf[:])
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(b)
}

// readSmall reads a small file into buf in one read, or whole when it does
// not fit.
func readSmall(path string, buf []byte) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	switch {
	case err != nil:
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	case n < len(buf):
		return buf[:n], nil
	}
	return os.ReadFile(path)
}

// ParseStat parses a /proc/PID/stat line. The command name may hold spaces
// and parentheses; it ends at the last ')'.
func ParseStat(stat []byte) (Stat, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 || end+2 >= len(stat) {
		return Stat{}, fmt.Errorf("parse /proc stat %q", stat)
	}
	fields := bytes.Fields(stat[end+2:])
	if len(fields) < 4 {
		return Stat{}, fmt.Errorf("parse /proc stat %q", stat)
	}
	ppid, err1 := strconv.Atoi(string(fields[1]))
	pgrp, err2 := strconv.Atoi(string(fields[2]))
	session, err3 := strconv.Atoi(string(fields[3]))
	if err1 != nil || err2 != nil || err3 != nil {
		return Stat{}, fmt.Errorf("parse /proc stat %q", stat)
	}
	return Stat{State: fields[0][0], Ppid: ppid, Pgrp: pgrp, Session: session}, nil
}

// Tgid returns the thread group (process) ID of task tid.
func Tgid(tid int) (int, error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, err
	}
	return ParseTgid(status)
}

// ParseTgid returns the Tgid of a /proc/PID/status file.
func ParseTgid(status []byte) (int, error) {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("Tgid:")); ok {
			tgid, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return 0, fmt.Errorf("parse /proc status Tgid %q: %w", v, err)
			}
			return tgid, nil
		}
	}
	return 0, fmt.Errorf("no Tgid in /proc status")
}

// Pids returns the numeric entries of /proc: the processes (thread
// groups) of the supervisor's pid namespace, in directory order.
func Pids() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		if pid, err := strconv.Atoi(name); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Umask returns the file mode creation mask of task tid (the Umask line
// of /proc/TID/status, Linux 4.7).
func Umask(tid int) (int, error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, err
	}
	return ParseUmask(status)
}

// ParseUmask returns the Umask of a /proc/PID/status file.
func ParseUmask(status []byte) (int, error) {
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("Umask:")); ok {
			m, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 8, 32)
			if err != nil {
				return 0, fmt.Errorf("parse /proc status Umask %q: %w", v, err)
			}
			return int(m), nil
		}
	}
	return 0, fmt.Errorf("no Umask in /proc status")
}

// NSIDs returns the thread group and the id of task tid in the task's
// innermost pid namespace (the last fields of the NStgid and NSpid lines
// of /proc/TID/status, Linux 4.1): the pids a procfs mounted in that
// namespace shows.
func NSIDs(tid int) (tgid, pid int, err error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	return ParseNSIDs(status)
}

// ParseNSIDs returns the innermost NStgid and NSpid of a /proc/PID/status
// file.
func ParseNSIDs(status []byte) (tgid, pid int, err error) {
	last := func(key string) (int, error) {
		for line := range bytes.SplitSeq(status, []byte("\n")) {
			if v, ok := bytes.CutPrefix(line, []byte(key)); ok {
				f := bytes.Fields(v)
				if len(f) == 0 {
					break
				}
				n, err := strconv.Atoi(string(f[len(f)-1]))
				if err != nil {
					return 0, fmt.Errorf("parse /proc status %s %q: %w", key, v, err)
				}
				return n, nil
			}
		}
		return 0, fmt.Errorf("no %s in /proc status", key)
	}
	if tgid, err = last("NStgid:"); err != nil {
		return 0, 0, err
	}
	if pid, err = last("NSpid:"); err != nil {
		return 0, 0, err
	}
	return tgid, pid, nil
}
