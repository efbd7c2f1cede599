// Command fileattack is a hostile victim for the files policy: each
// subcommand tries one way to reach a file the policy guards other than by
// opening it, and prints one line that says what happened:
//
//	NAME: LEAK <what>      the attack reached the guarded file
//	NAME: refused errno=E  the attack was refused
//	NAME: ok <what>        a legitimate operation worked
//
// Usage: fileattack ATTACK ARGS...
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// secretMarker starts the content of every guarded file in the tests.
const secretMarker = "DENIED-SECRET"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: fileattack ATTACK ARGS...")
		os.Exit(2)
	}
	name, args := os.Args[1], os.Args[2:]
	f, ok := attacks[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "fileattack: unknown attack %q\n", name)
		os.Exit(2)
	}
	fmt.Printf("%s: %s\n", name, f(args))
}

var attacks = map[string]func(args []string) string{
	// hardlink-out SECRET NEW: link a guarded file to NEW, read NEW.
	"hardlink-out": func(a []string) string {
		if err := unix.Link(a[0], a[1]); err != nil {
			return refused(err)
		}
		return readReport(a[1])
	},
	// linkat-follow-out SECRET NEW: linkat with AT_SYMLINK_FOLLOW.
	"linkat-follow-out": func(a []string) string {
		if err := unix.Linkat(unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], unix.AT_SYMLINK_FOLLOW); err != nil {
			return refused(err)
		}
		return readReport(a[1])
	},
	// rename-out SECRET NEW: move a guarded file to NEW, read NEW.
	"rename-out": func(a []string) string {
		if err := unix.Renameat2(unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0); err != nil {
			return refused(err)
		}
		return readReport(a[1])
	},
	// rename-dir-out DIR NEW FILE: move a directory that holds a guarded
	// tree, then read NEW/FILE.
	"rename-dir-out": func(a []string) string {
		if err := unix.Renameat2(unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0); err != nil {
			return refused(err)
		}
		return readReport(a[1] + "/" + a[2])
	},
	// exchange SECRET OTHER: RENAME_EXCHANGE a guarded file with another,
	// read OTHER.
	"exchange": func(a []string) string {
		if err := unix.Renameat2(unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], unix.RENAME_EXCHANGE); err != nil {
			return refused(err)
		}
		return readReport(a[1])
	},
	// link-in OUTSIDE INSIDE: link a file from outside the allowed tree
	// into it, read it there.
	"link-in": func(a []string) string {
		if err := unix.Link(a[0], a[1]); err != nil {
			return refused(err)
		}
		return readReport(a[1])
	},
	// rename-out-of-allowed INSIDE OUTSIDE: move data out of the allowed
	// tree.
	"rename-out-of-allowed": func(a []string) string {
		if err := unix.Rename(a[0], a[1]); err != nil {
			return refused(err)
		}
		return "LEAK renamed out"
	},
	// rename-in OUTSIDE INSIDE: move a file from outside into the allowed
	// tree, read it there.
	"rename-in": func(a []string) string {
		if err := unix.Rename(a[0], a[1]); err != nil {
			return refused(err)
		}
		return readReport(a[1])
	},
	// symlink-in TARGET INSIDE: a symlink is made (its target is a string),
	// but reading through it is still decided on the target.
	"symlink-in": func(a []string) string {
		if err := unix.Symlink(a[0], a[1]); err != nil {
			return refused(err)
		}
		return readReport(a[1])
	},
	// truncate SECRET
	"truncate": func(a []string) string {
		if err := unix.Truncate(a[0], 0); err != nil {
			return refused(err)
		}
		return "LEAK truncated"
	},
	// chmod SECRET
	"chmod": func(a []string) string {
		if err := unix.Fchmodat(unix.AT_FDCWD, a[0], 0o777, 0); err != nil {
			return refused(err)
		}
		return "LEAK chmod"
	},
	// chown SECRET
	"chown": func(a []string) string {
		if err := unix.Fchownat(unix.AT_FDCWD, a[0], os.Getuid(), 12345, 0); err != nil {
			return refused(err)
		}
		return "LEAK chown"
	},
	// utimes SECRET
	"utimes": func(a []string) string {
		ts := []unix.Timespec{{Sec: 1}, {Sec: 1}}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, a[0], ts, 0); err != nil {
			return refused(err)
		}
		return "LEAK utimes"
	},
	// setxattr SECRET
	"setxattr": func(a []string) string {
		if err := unix.Setxattr(a[0], "user.x", []byte("1"), 0); err != nil {
			return refused(err)
		}
		return "LEAK setxattr"
	},
	// unlink SECRET
	"unlink": func(a []string) string {
		if err := unix.Unlinkat(unix.AT_FDCWD, a[0], 0); err != nil {
			return refused(err)
		}
		return "LEAK unlinked"
	},
	// mkdir DIR: make a directory in a guarded tree.
	"mkdir": func(a []string) string {
		if err := unix.Mkdirat(unix.AT_FDCWD, a[0], 0o755); err != nil {
			return refused(err)
		}
		return "LEAK mkdir"
	},
	// mknod PATH: make a fifo in a guarded tree.
	"mknod": func(a []string) string {
		if err := unix.Mknodat(unix.AT_FDCWD, a[0], unix.S_IFIFO|0o600, 0); err != nil {
			return refused(err)
		}
		return "LEAK mknod"
	},
	// bind PATH: bind a unix socket in a guarded tree.
	"bind": func(a []string) string {
		s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return "error " + err.Error()
		}
		defer unix.Close(s)
		if err := unix.Bind(s, &unix.SockaddrUnix{Name: a[0]}); err != nil {
			return refused(err)
		}
		return "LEAK bound"
	},
	// inotify SECRET: watch a guarded file.
	"inotify": func(a []string) string {
		fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
		if err != nil {
			return "error " + err.Error()
		}
		defer unix.Close(fd)
		if _, err := unix.InotifyAddWatch(fd, a[0], unix.IN_ALL_EVENTS); err != nil {
			return refused(err)
		}
		return "LEAK watched"
	},
	// fanotify PATH: mark a guarded file in an unprivileged fanotify
	// group.
	"fanotify": func(a []string) string {
		fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_REPORT_FID|unix.FAN_CLOEXEC, unix.O_RDONLY)
		if err != nil {
			return "error fanotify_init " + errName(err)
		}
		defer unix.Close(fd)
		if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD, unix.FAN_MODIFY|unix.FAN_CLOSE_WRITE, unix.AT_FDCWD, a[0]); err != nil {
			return refused(err)
		}
		return "LEAK marked"
	},
	// read PATH: a plain read (the spelling through a symlinked directory).
	"read": func(a []string) string { return readReport(a[0]) },
	// opath-reopen PATH: O_PATH open, then reopen for reading through
	// /proc/self/fd.
	"opath-reopen": func(a []string) string {
		fd, err := unix.Open(a[0], unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return refused(err)
		}
		defer unix.Close(fd)
		return readReport("/proc/self/fd/" + strconv.Itoa(fd))
	},
	// opath-link PATH NEW: O_PATH open, then linkat of the descriptor.
	"opath-link": func(a []string) string {
		fd, err := unix.Open(a[0], unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return refused(err)
		}
		defer unix.Close(fd)
		err = unix.Linkat(fd, "", unix.AT_FDCWD, a[1], unix.AT_EMPTY_PATH)
		if err != nil {
			err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, a[1], unix.AT_SYMLINK_FOLLOW)
		}
		if err != nil {
			return refused(err)
		}
		return readReport(a[1])
	},
	// openat2 DIR PATH RESOLVE EXTRA: openat2(open(DIR), PATH) for
	// reading with the RESOLVE flags (a number) and an open_how EXTRA
	// bytes longer than the first one, its last byte EXTRA's value when
	// EXTRA > 0 ("0:1" means 8 extra bytes, the last one 1).
	"openat2": func(a []string) string {
		dir, err := unix.Open(a[0], unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "error " + err.Error()
		}
		defer unix.Close(dir)
		resolve, _ := strconv.ParseUint(a[2], 0, 64)
		extra, last := 0, 0
		if x, y, ok := strings.Cut(a[3], ":"); ok {
			extra, _ = strconv.Atoi(x)
			last, _ = strconv.Atoi(y)
		}
		how := make([]byte, 24+extra)
		binary.LittleEndian.PutUint64(how[0:], unix.O_RDONLY|unix.O_CLOEXEC)
		binary.LittleEndian.PutUint64(how[16:], resolve)
		if extra > 0 {
			how[len(how)-1] = byte(last)
		}
		path := append([]byte(a[1]), 0)
		fd, _, e := unix.Syscall6(unix.SYS_OPENAT2, uintptr(dir), uintptr(unsafe.Pointer(&path[0])), uintptr(unsafe.Pointer(&how[0])), uintptr(len(how)), 0, 0)
		runtime.KeepAlive(path)
		runtime.KeepAlive(how)
		if e != 0 {
			return refused(e)
		}
		defer unix.Close(int(fd))
		return readReport("/proc/self/fd/" + strconv.Itoa(int(fd)))
	},
	// io-uring: io_uring_setup, whose OPENAT would never reach seccomp.
	"io-uring": func([]string) string {
		params := make([]byte, 120) // struct io_uring_params
		fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
		runtime.KeepAlive(params)
		if e != 0 {
			return refused(e)
		}
		unix.Close(int(fd))
		return "LEAK io_uring"
	},
	// bench DIR N [OPS]: time N rounds (of the comma-separated OPS only) of each mediated operation in DIR and
	// print ns per call.
	"bench": bench,
	// opath-race ALLOWED DENIED N NEWDIR: O_PATH opens of a path another
	// thread flips between ALLOWED and DENIED; every descriptor is
	// reopened for reading through /proc/self/fd, linked into NEWDIR
	// (linkat AT_EMPTY_PATH and AT_SYMLINK_FOLLOW through /proc/self/fd)
	// and read back, and each content is checked.
	"opath-race": opathRace,
	// magic PATH...: open each path for reading (or writing when it names
	// stdout/stderr) and report.
	"magic": func(a []string) string {
		var out []string
		for _, p := range a {
			flags := unix.O_RDONLY
			if strings.HasSuffix(p, "stdout") || strings.HasSuffix(p, "stderr") || strings.HasSuffix(p, "/1") || strings.HasSuffix(p, "/2") {
				flags = unix.O_WRONLY
			}
			fd, err := unix.Open(p, flags|unix.O_CLOEXEC, 0)
			if err != nil {
				out = append(out, p+"="+errName(err))
				continue
			}
			unix.Close(fd)
			out = append(out, p+"=ok")
		}
		return "ok " + strings.Join(out, " ")
	},
}

func bench(a []string) string {
	dir := a[0]
	n, _ := strconv.Atoi(a[1])
	f, g := dir+"/bench-f", dir+"/bench-g"
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		return "error " + err.Error()
	}
	ops := []struct {
		name string
		op   func() error
	}{
		{"open", func() error {
			fd, err := unix.Open(f, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
		{"opath", func() error {
			fd, err := unix.Open(f, unix.O_PATH|unix.O_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
		{"chmod", func() error { return unix.Fchmodat(unix.AT_FDCWD, f, 0o644, 0) }},
		{"rename", func() error {
			if err := unix.Rename(f, g); err != nil {
				return err
			}
			return unix.Rename(g, f)
		}},
		{"link+unlink", func() error {
			if err := unix.Link(f, g); err != nil {
				return err
			}
			return unix.Unlink(g)
		}},
		{"/dev/fd/0", func() error {
			fd, err := unix.Open("/dev/fd/0", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}},
	}
	var out []string
	for _, o := range ops {
		if len(a) > 2 && !strings.Contains(","+a[2]+",", ","+o.name+",") {
			continue
		}
		start := time.Now()
		for range n {
			if err := o.op(); err != nil {
				return o.name + " error " + err.Error()
			}
		}
		out = append(out, fmt.Sprintf("%s=%dns", o.name, time.Since(start).Nanoseconds()/int64(n)))
	}
	return "ok " + strings.Join(out, " ")
}

func opathRace(a []string) string {
	allowed, denied := a[0], a[1]
	n, _ := strconv.Atoi(a[2])
	dir := a[3]
	size := max(len(allowed), len(denied)) + 1
	buf := make([]byte, size)
	al := append([]byte(allowed), make([]byte, size-len(allowed))...)
	de := append([]byte(denied), make([]byte, size-len(denied))...)
	copy(buf, al)
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			if i%2 == 0 {
				copy(buf, de)
			} else {
				copy(buf, al)
			}
		}
	}()
	runtime.LockOSThread()
	atFDCWD := unix.AT_FDCWD
	var opened, leaks, links int
	for i := 0; i < n; i++ {
		fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&buf[0])), unix.O_PATH|unix.O_CLOEXEC, 0, 0, 0)
		if e != 0 {
			continue
		}
		opened++
		self := "/proc/self/fd/" + strconv.Itoa(int(fd))
		if leaked(self) {
			leaks++
		}
		name := dir + "/l" + strconv.Itoa(i)
		if unix.Linkat(int(fd), "", unix.AT_FDCWD, name, unix.AT_EMPTY_PATH) == nil {
			links++
			if leaked(name) {
				leaks++
			}
			unix.Unlink(name)
		}
		if unix.Linkat(unix.AT_FDCWD, self, unix.AT_FDCWD, name, unix.AT_SYMLINK_FOLLOW) == nil {
			links++
			if leaked(name) {
				leaks++
			}
			unix.Unlink(name)
		}
		unix.Close(int(fd))
	}
	stop.Store(true)
	<-done
	runtime.KeepAlive(buf)
	if leaks > 0 {
		return fmt.Sprintf("LEAK opened=%d links=%d leaked=%d", opened, links, leaks)
	}
	return fmt.Sprintf("ok opened=%d links=%d leaked=0", opened, links)
}

// leaked reports whether path opens for reading and starts with the
// secret marker.
func leaked(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.HasPrefix(string(b), secretMarker)
}

// readReport reads path and says whether it held the secret.
func readReport(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "refused-read " + refused(err)
	}
	if strings.HasPrefix(string(b), secretMarker) {
		return "LEAK read " + strconv.Quote(string(b))
	}
	return "ok read " + strconv.Quote(string(b))
}

func refused(err error) string { return "refused errno=" + errName(err) }

func errName(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
		return strconv.Itoa(int(e))
	}
	return err.Error()
}
