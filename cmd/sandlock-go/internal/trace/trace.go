// Package trace writes the sandlock-go --trace log: one JSON object per
// line per trapped syscall.
//
// A line looks like this (wrapped here):
//
//	{"time":"2025-01-02T15:04:05.123456789Z","pid":4242,"syscall":"openat","nr":257,
//	 "args":["0xffffffffffffff9c","0x7ffd2c1e8f20","0x0","0x0","0x0","0x0"],
//	 "path":"/etc/hostname","action":"continue","latency_ns":1830}
//
// time is the UTC time of the record in RFC 3339 with nanoseconds; pid is
// the trapped thread; args are the six raw syscall arguments as hex
// strings (64-bit values do not fit a JSON number exactly); path, present
// only for the syscalls of PathArg, is the path argument made absolute by
// handler.Ctx.ReadPath, and path_error replaces it when it could not be
// read; action is handler.Action.String(); latency_ns is the time the
// handlers took.
package trace

import (
	"bufio"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/sandlock-go/sandlock-go/handler"
)

// Record is one line of the trace.
type Record struct {
	Time      time.Time `json:"time"`
	Pid       int       `json:"pid"`
	Syscall   string    `json:"syscall"`
	Nr        int       `json:"nr"`
	Args      [6]string `json:"args"`
	Path      string    `json:"path,omitempty"`
	PathError string    `json:"path_error,omitempty"`
	Action    string    `json:"action"`
	LatencyNS int64     `json:"latency_ns"`
}

// pathArgs maps a syscall name to the index of its path argument. Where a
// syscall has two paths (rename, link), the first is logged.
var pathArgs = map[string]int{
	"open": 0, "openat": 1, "openat2": 1, "creat": 0,
	"execve": 0, "execveat": 1, "uselib": 0,
	"stat": 0, "lstat": 0, "newfstatat": 1, "statx": 1, "statfs": 0,
	"access": 0, "faccessat": 1, "faccessat2": 1,
	"unlink": 0, "unlinkat": 1, "rmdir": 0,
	"mkdir": 0, "mkdirat": 1, "mknod": 0, "mknodat": 1,
	"rename": 0, "renameat": 1, "renameat2": 1,
	"link": 0, "linkat": 1, "symlink": 1, "symlinkat": 2,
	"readlink": 0, "readlinkat": 1,
	"chdir": 0, "chroot": 0,
	"chmod": 0, "fchmodat": 1, "fchmodat2": 1,
	"chown": 0, "lchown": 0, "fchownat": 1,
	"truncate": 0, "utime": 0, "utimes": 0, "futimesat": 1, "utimensat": 1,
	"getxattr": 0, "lgetxattr": 0, "setxattr": 0, "lsetxattr": 0,
	"listxattr": 0, "llistxattr": 0, "removexattr": 0, "lremovexattr": 0,
	"inotify_add_watch": 1, "name_to_handle_at": 1,
	"swapon": 0, "swapoff": 0, "acct": 0,
}

// PathArg returns the index of the path argument of the named syscall.
func PathArg(syscall string) (int, bool) {
	i, ok := pathArgs[syscall]
	return i, ok
}

// Writer encodes records to an io.Writer through a buffer. It is safe for
// concurrent use; call Flush at the end.
type Writer struct {
	mu  sync.Mutex
	buf *bufio.Writer
	err error
	now func() time.Time
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{buf: bufio.NewWriter(w), now: time.Now}
}

// Write appends r as one line. After a write error every later call
// returns that error.
func (w *Writer) Write(r *Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		_, w.err = w.buf.Write(line)
	}
	return w.err
}

// Flush writes out the buffer and returns the first error of the Writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = w.buf.Flush()
	}
	return w.err
}

// Observe records one answered syscall; it has the signature of
// handler.Options.Observe, which calls it while c is live, so that the path
// argument can still be read.
func (w *Writer) Observe(c *handler.Ctx, a handler.Action, latency time.Duration) {
	_ = w.Write(NewRecord(w.now(), c, a, latency))
}

// NewRecord builds the record of one syscall; c must be live to get the
// path.
func NewRecord(t time.Time, c *handler.Ctx, a handler.Action, latency time.Duration) *Record {
	r := &Record{
		Time:      t.UTC(),
		Pid:       c.Pid(),
		Syscall:   c.SyscallName(),
		Nr:        c.Syscall(),
		Action:    a.String(),
		LatencyNS: latency.Nanoseconds(),
	}
	for i, v := range c.Args() {
		r.Args[i] = "0x" + strconv.FormatUint(v, 16)
	}
	if i, ok := PathArg(r.Syscall); ok {
		if p, err := c.ReadPath(i); err != nil {
			r.PathError = err.Error()
		} else {
			r.Path = p
		}
	}
	return r
}
