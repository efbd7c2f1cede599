package pathpolicy

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler/internal/procfs"
)

// Root is the directory that "/" means in the paths of the processes a
// policy serves when it is not the supervisor's own root: a container's
// root, reached through /proc/PID/root of its first process. Under a Root
// (OpenPolicy.WithRoot, ExecPolicy.WithRoot) every path is resolved in it
// with RESOLVE_IN_ROOT: an absolute path, an absolute symlink and ".."
// stay inside it, whatever the supervisor's own root holds; the rules
// name paths as the processes see them ("/secret" is the container's
// /secret); /proc/self in a path names the calling task by its pid in its
// own (innermost) pid namespace, as the container's procfs numbers it.
//
// A Root is safe for concurrent use. Close it when the processes it serves
// are gone.
type Root struct {
	fd int // set once; -1 only when no call uses it any more
	// prefix is the root's path as the supervisor reads it from
	// /proc/self/fd ("" for "/", what a pivoted container root shows):
	// a descriptor's path in the root is what follows it.
	prefix string

	mu      sync.Mutex
	users   int  // policy calls using fd (acquire)
	closing bool // Close was called
}

// OpenRoot opens the root directory of process pid (/proc/PID/root) as a
// Root. pid must be alive and have its final root already: for a
// container, the pid the runtime sends (its init, which has pivoted into
// its rootfs before the seccomp filter is installed). The Root keeps that
// directory and its mounts for as long as it is open, also after pid
// exits.
func OpenRoot(pid int) (*Root, error) {
	link := "/proc/" + strconv.Itoa(pid) + "/root"
	fd, err := unix.Open(link, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root of %d: %w", pid, err)
	}
	r, err := NewRoot(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("root of %d: %w", pid, err)
	}
	return r, nil
}

// NewRoot returns the Root of the directory open at fd (O_PATH is
// enough); the Root owns fd and closes it on Close.
func NewRoot(fd int) (*Root, error) {
	if !isDir(fd) {
		return nil, unix.ENOTDIR
	}
	p, errno := fdPath(fd)
	if errno != 0 {
		return nil, fmt.Errorf("path of the root: %w", errno)
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("root %q is not a directory of a file system", p)
	}
	r := &Root{fd: fd}
	if p != "/" {
		r.prefix = strings.TrimSuffix(p, "/")
	}
	return r, nil
}

// Close closes the root's descriptor, at once or, when policy calls are
// still using it (a handler that outlived its dispatch loop), when the
// last one returns. The policies given the Root then answer every call
// with their errno. A second Close does nothing.
func (r *Root) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return nil
	}
	r.closing = true
	if r.users > 0 {
		return nil
	}
	fd := r.fd
	r.fd = -1
	return unix.Close(fd)
}

// acquire counts a call that uses the root, false once it is closed.
// A nil Root (the supervisor's) is always there.
func (r *Root) acquire() bool {
	if r == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	r.users++
	return true
}

// release ends a call that acquire counted; the last one after Close
// closes the descriptor.
func (r *Root) release() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users--
	if r.users == 0 && r.closing && r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

// openat2 is unix.Openat2 of path relative to at, in the root: an absolute
// path is resolved from the root with RESOLVE_IN_ROOT; a relative one from
// at, beneath it (RESOLVE_BENEATH), or, when it leaves at (".." above it,
// an absolute symlink), from the root again with at's path in the root
// joined in front, RESOLVE_IN_ROOT. With a nil Root it is unix.Openat2.
// The resolve flags the process asked for (RESOLVE_BENEATH or
// RESOLVE_IN_ROOT of at) are kept as they are: at is then the root.
func (r *Root) openat2(at int, path string, how *unix.OpenHow) (int, error) {
	if r == nil || how.Resolve&(unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) != 0 {
		return unix.Openat2(at, path, how)
	}
	in := *how
	in.Resolve |= unix.RESOLVE_IN_ROOT
	if filepath.IsAbs(path) || at == unix.AT_FDCWD {
		if !filepath.IsAbs(path) {
			// The supervisor's working directory means nothing here.
			return -1, unix.EBADF
		}
		return unix.Openat2(r.fd, path, &in)
	}
	beneath := *how
	beneath.Resolve |= unix.RESOLVE_BENEATH
	fd, err := unix.Openat2(at, path, &beneath)
	if err != unix.EXDEV {
		return fd, err
	}
	base, errno := r.path(at)
	if errno != 0 {
		return -1, errno
	}
	if !strings.HasPrefix(base, "/") {
		return -1, unix.EXDEV // a directory outside the root
	}
	return unix.Openat2(r.fd, base+"/"+path, &in)
}

// open is openat2 with plain open flags.
func (r *Root) open(at int, path string, flags int) (int, error) {
	return r.openat2(at, path, &unix.OpenHow{Flags: uint64(flags) | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS})
}

// rootDir returns a new O_PATH descriptor of "/": the root's, or the
// supervisor's.
func (r *Root) rootDir() (int, error) {
	if r == nil {
		return unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	return unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
}

// path returns the path of the open descriptor fd as the processes of
// the root see it. A descriptor outside the root keeps the supervisor's
// path with a "?" in front, so that it matches no rule and no /proc of
// the root; one with no path (a pipe, a socket) keeps its name.
func (r *Root) path(fd int) (string, unix.Errno) {
	p, errno := fdPath(fd)
	if errno != 0 || r == nil || r.prefix == "" || !strings.HasPrefix(p, "/") {
		return p, errno
	}
	switch {
	case p == r.prefix:
		return "/", 0
	case strings.HasPrefix(p, r.prefix+"/"):
		return p[len(r.prefix):], 0
	}
	return "?" + p, 0
}

// stat is stat(2) of the absolute path in the root, following symlinks.
func (r *Root) stat(path string, st *unix.Stat_t) error {
	if r == nil {
		return unix.Stat(path, st)
	}
	fd, err := r.openat2(unix.AT_FDCWD, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fstat(fd, st)
}

// procRoot reports whether the absolute path, in the root, is the root of
// a procfs mount.
func (r *Root) procRoot(path string) bool {
	fd, err := r.openat2(unix.AT_FDCWD, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var fs unix.Statfs_t
	var st unix.Stat_t
	return unix.Fstatfs(fd, &fs) == nil && fs.Type == unix.PROC_SUPER_MAGIC &&
		unix.Fstat(fd, &st) == nil && st.Ino == procRootIno
}

// self returns the ids that /proc/self and /proc/thread-self name for
// task tid (a pid of the supervisor's namespace): its thread group and
// itself, in the supervisor's pid namespace, or, under a Root, in the
// task's own innermost one.
func (r *Root) self(tid int) (tgid, task int, err error) {
	if r == nil {
		tgid, err := procfs.Tgid(tid)
		return tgid, tid, err
	}
	return procfs.NSIDs(tid)
}

// evalSymlinks is filepath.EvalSymlinks of the absolute path in the root.
func (r *Root) evalSymlinks(path string) (string, error) {
	if r == nil {
		return filepath.EvalSymlinks(path)
	}
	fd, err := r.open(unix.AT_FDCWD, path, unix.O_PATH)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	p, errno := r.path(fd)
	if errno != 0 {
		return "", errno
	}
	if !strings.HasPrefix(p, "/") {
		return "", unix.EXDEV
	}
	return p, nil
}

// fdLink opens (O_PATH) what the magic link num of the /proc/PID/fd
// directory at the canonical path fdDir, in the root, points to: the
// supervisor follows it, as no lookup on a process's behalf may.
func (r *Root) fdLink(fdDir, num string) (int, unix.Errno) {
	dir, err := r.open(unix.AT_FDCWD, fdDir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, errnoOf(err, unix.EBADF)
	}
	defer unix.Close(dir)
	if num == "" || strings.Contains(num, "/") || num == "." || num == ".." {
		return -1, unix.ENOENT
	}
	obj, err := unix.Openat(dir, num, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, errnoOf(err, unix.EBADF)
	}
	return obj, 0
}

// errRootClosed is WithRoot's error for a closed Root.
var errRootClosed = errors.New("the root is closed")
