package pathpolicy

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/runset"
)

// lookupHow says how a path is resolved.
type lookupHow struct {
	follow bool   // follow a trailing symlink
	dir    bool   // the object must be a directory (O_DIRECTORY)
	empty  bool   // AT_EMPTY_PATH: "" names the dirfd itself
	under  uint64 // openat2 resolve flags the process gave (openat2 only)
	// then, when set, runs as the process right after a lookup that
	// needed no walk, in the same confined call (one thread hand-off
	// less); the lookup's result is returned as usual.
	then func(obj int, canon string)
}

// maxSymlinks is the kernel's bound on symlinks followed in one lookup.
const maxSymlinks = 40

// maxMagicHops bounds the magic links followed in one lookup.
const maxMagicHops = 8

// lookup resolves path as the process would, relative to its dirfd or
// working directory, and returns an O_PATH descriptor of the object with
// its canonical path. The resolution runs as the process (Ctx.AsProcess),
// so its search permissions and Landlock rules apply; magic links are
// never followed by the kernel on the process's behalf: a path that needs
// one (/dev/stdin, /dev/fd/N, /proc/self/fd/N) is walked component by
// component, /proc/self meaning the process, and the descriptor behind a
// /proc/PID/fd/N link of a process of the run is taken by the supervisor
// (see walk). Nothing is checked against the rules here.
func (p *OpenPolicy) lookup(c *handler.Ctx, dirfd int32, path string, how lookupHow) (int, string, unix.Errno) {
	if path == "" {
		if !how.empty {
			return -1, "", unix.ENOENT
		}
		return fdObject(c, p.root, dirfd)
	}
	if strings.HasSuffix(path, "/") {
		how.dir = true
	}
	underRoot := how.under&(unix.RESOLVE_IN_ROOT|unix.RESOLVE_BENEATH) != 0
	if filepath.IsAbs(path) && !underRoot {
		var errno unix.Errno
		if path, errno = p.root.selfPath(c.Pid(), path, "/"); errno != 0 {
			return -1, "", errno
		}
	}
	base, baseDir := -1, "/"
	if !filepath.IsAbs(path) || underRoot {
		var errno unix.Errno
		if base, baseDir, errno = baseDirFD(c, p.root, dirfd, "."); errno != 0 {
			return -1, "", errno
		}
		if !underRoot && (baseDir == "/proc" || strings.HasPrefix(baseDir, "/proc/")) {
			// "self/status" relative to /proc means the process's too.
			if abs, errno := p.root.selfPath(c.Pid(), path, baseDir); errno != 0 || abs != path {
				unix.Close(base)
				if errno != 0 {
					return -1, "", errno
				}
				path, base, baseDir = abs, -1, "/"
			}
		}
	}
	if base >= 0 {
		defer unix.Close(base)
	}
	if err := c.Valid(); err != nil {
		return -1, "", unix.ESRCH
	}
	at := base
	if at < 0 {
		at = unix.AT_FDCWD
	}
	flags := uint64(unix.O_PATH | unix.O_CLOEXEC)
	if !how.follow {
		flags |= unix.O_NOFOLLOW
	}
	if how.dir {
		flags |= unix.O_DIRECTORY
	}
	fd, canon, errno := -1, "", unix.Errno(unix.EACCES)
	if err := c.AsProcess(func() {
		obj, err := p.root.openat2(at, path, &unix.OpenHow{Flags: flags, Resolve: how.under | unix.RESOLVE_NO_MAGICLINKS})
		if err != nil {
			errno = errnoOf(err, unix.EACCES)
			return
		}
		if canon, errno = p.root.path(obj); errno != 0 {
			unix.Close(obj)
			return
		}
		fd = obj
		if how.then != nil && !p.supervisorProc(canon) {
			how.then(obj, canon)
		}
	}); err != nil {
		return -1, "", unix.EACCES
	}
	switch {
	case errno == 0 && !p.supervisorProc(canon):
		return fd, canon, 0
	case errno == 0:
		// A symlink led to the supervisor's /proc/self (/dev/fd is
		// /proc/self/fd): walk it as the process.
		unix.Close(fd)
	case errno == unix.ELOOP:
	case (errno == unix.ENOENT || errno == unix.EACCES) && mayBeMagic(filepath.Join(baseDir, path)):
		// A magic link the kernel would follow for the process: as
		// the confined thread, following it fails the ptrace check
		// (EACCES) or reaches the supervisor's /proc/self (ENOENT).
	default:
		return -1, "", errno
	}
	if how.under != 0 {
		// The process asked for a restricted resolution: a magic link
		// fails as the kernel fails it, whatever it names.
		return -1, "", p.restrictedMagic(c, at, path, how)
	}
	return p.walkMagic(c, at, path, how)
}

// restrictedMagic is the errno of an openat2 with resolve flags that
// failed in the supervisor with ELOOP or ENOENT: EXDEV when the path has a
// magic link and RESOLVE_BENEATH or RESOLVE_IN_ROOT was asked (without
// RESOLVE_NO_MAGICLINKS), ELOOP for a magic link otherwise, else the
// kernel's error.
func (p *OpenPolicy) restrictedMagic(c *handler.Ctx, at int, path string, how lookupHow) unix.Errno {
	fd, _, errno := p.walkMagic(c, at, path, lookupHow{follow: how.follow, dir: how.dir, under: how.under})
	if fd >= 0 {
		unix.Close(fd)
	}
	if errno != errMagic {
		if errno == 0 {
			return unix.ELOOP
		}
		return errno
	}
	if how.under&unix.RESOLVE_NO_MAGICLINKS == 0 && how.under&(unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) != 0 {
		return unix.EXDEV
	}
	return unix.ELOOP
}

// errMagic is walkMagic's answer, with lookupHow.under set, for a path
// that reaches a magic link: the caller turns it into the errno the
// process's resolve flags ask for.
const errMagic = unix.Errno(0x7fff)

// walkMagic resolves path relative to at through magic links to the
// process's descriptors.
func (p *OpenPolicy) walkMagic(c *handler.Ctx, at int, path string, how lookupHow) (int, string, unix.Errno) {
	tgid, tid, err := p.root.self(c.Pid())
	if err != nil {
		return -1, "", unix.ESRCH
	}
	start := at
	for range maxMagicHops {
		var w walked
		if err := c.AsProcess(func() { w = walk(p.root, start, path, how, tgid, tid) }); err != nil {
			w = walked{fd: -1, errno: unix.EACCES}
		}
		if start != at {
			unix.Close(start)
		}
		if w.errno != 0 {
			return -1, "", w.errno
		}
		if w.fdDir == "" {
			canon, errno := p.root.path(w.fd)
			if errno != 0 {
				unix.Close(w.fd)
				return -1, "", errno
			}
			return w.fd, canon, 0
		}
		if how.under != 0 {
			return -1, "", errMagic
		}
		// A descriptor of a process: only of the run, never the
		// supervisor's; taken by the supervisor, which may follow the
		// link.
		pid, ok := p.root.procPid(w.fdDir)
		if !ok || !p.member(c, pid) {
			return -1, "", p.errno
		}
		if err := c.Valid(); err != nil {
			return -1, "", unix.ESRCH
		}
		obj, errno := p.root.fdLink(w.fdDir, w.num)
		if errno != 0 {
			return -1, "", errno
		}
		if w.rest == "" {
			canon, errno := p.root.path(obj)
			if errno != 0 {
				unix.Close(obj)
				return -1, "", errno
			}
			if how.dir && !isDir(obj) {
				unix.Close(obj)
				return -1, "", unix.ENOTDIR
			}
			return obj, canon, 0
		}
		start, path = obj, w.rest
	}
	if start != at {
		unix.Close(start)
	}
	return -1, "", unix.ELOOP
}

// walked is the result of walk: an object, or a magic link to a
// process's descriptor that the supervisor must take (fdDir, num), with
// what remains of the path after it.
type walked struct {
	fd    int
	fdDir string // canonical path of the /proc/PID/fd directory
	num   string
	rest  string
	errno unix.Errno
}

// walk resolves path relative to at one component at a time, following
// symlinks itself (at most maxSymlinks), so that /proc/self and
// /proc/thread-self mean task tid of process tgid wherever they appear,
// also in symlink targets. It stops at a magic link in a /proc/PID/fd
// directory; any other magic link (cwd, root, exe) fails with ELOOP.
// It runs as the process.
func walk(root *Root, at int, path string, how lookupHow, tgid, tid int) walked {
	fail := func(e unix.Errno) walked { return walked{fd: -1, errno: e} }
	var cur int
	var err error
	if filepath.IsAbs(path) || at == unix.AT_FDCWD {
		cur, err = root.rootDir()
		if !filepath.IsAbs(path) && err == nil {
			unix.Close(cur)
			if root != nil {
				return fail(unix.EBADF) // no working directory here
			}
			cur, err = unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		}
	} else {
		cur, err = unix.FcntlInt(uintptr(at), unix.F_DUPFD_CLOEXEC, 0)
	}
	if err != nil {
		return fail(errnoOf(err, unix.EBADF))
	}
	comps := splitPath(path)
	links := 0
	for len(comps) > 0 {
		comp := comps[0]
		comps = comps[1:]
		if comp == "." {
			continue
		}
		last := len(comps) == 0
		// One component: ".." of the root stays there.
		next, err := root.openat2(cur, comp, &unix.OpenHow{Flags: unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS})
		if err != nil {
			unix.Close(cur)
			return fail(errnoOf(err, unix.ENOENT))
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(cur)
			unix.Close(next)
			return fail(errnoOf(err, unix.EIO))
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK && (!last || how.follow) {
			links++
			if links > maxSymlinks {
				unix.Close(cur)
				unix.Close(next)
				return fail(unix.ELOOP)
			}
			var fs unix.Statfs_t
			isProc := unix.Fstatfs(next, &fs) == nil && fs.Type == unix.PROC_SUPER_MAGIC
			var target string
			if isProc {
				dir, errno := root.path(cur)
				if errno != 0 {
					unix.Close(cur)
					unix.Close(next)
					return fail(errno)
				}
				switch {
				case root.procRoot(dir) && comp == "self":
					target = strconv.Itoa(tgid)
				case root.procRoot(dir) && comp == "thread-self":
					target = strconv.Itoa(tgid) + "/task/" + strconv.Itoa(tid)
				case root.procRoot(dir):
					target, err = readlinkFD(next) // net, mounts: "self/..."
					if err != nil {
						unix.Close(cur)
						unix.Close(next)
						return fail(errnoOf(err, unix.EIO))
					}
				case filepath.Base(dir) == "fd":
					unix.Close(cur)
					unix.Close(next)
					return walked{fd: -1, fdDir: dir, num: comp, rest: strings.Join(comps, "/")}
				default:
					unix.Close(cur)
					unix.Close(next)
					return fail(unix.ELOOP)
				}
			} else if target, err = readlinkFD(next); err != nil {
				unix.Close(cur)
				unix.Close(next)
				return fail(errnoOf(err, unix.EIO))
			}
			unix.Close(next)
			if filepath.IsAbs(target) {
				top, err := root.rootDir()
				if err != nil {
					unix.Close(cur)
					return fail(errnoOf(err, unix.EACCES))
				}
				unix.Close(cur)
				cur = top
			}
			comps = append(splitPath(target), comps...)
			continue
		}
		if last {
			unix.Close(cur)
			if how.dir && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				unix.Close(next)
				return fail(unix.ENOTDIR)
			}
			return walked{fd: next}
		}
		unix.Close(cur)
		cur = next
	}
	return walked{fd: cur}
}

// readlinkFD reads the target of the symlink open O_PATH|O_NOFOLLOW at fd.
func readlinkFD(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// fdObject opens, O_PATH, the object behind the process's descriptor
// dirfd (its working directory for AT_FDCWD): what an *at call with
// AT_EMPTY_PATH and "" acts on.
func fdObject(c *handler.Ctx, root *Root, dirfd int32) (int, string, unix.Errno) {
	link := "/proc/" + strconv.Itoa(c.Pid()) + "/cwd"
	if dirfd != unix.AT_FDCWD {
		if dirfd < 0 {
			return -1, "", unix.EBADF
		}
		link = "/proc/" + strconv.Itoa(c.Pid()) + "/fd/" + strconv.Itoa(int(dirfd))
	}
	fd, err := unix.Open(link, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return -1, "", unix.EBADF
		}
		return -1, "", errnoOf(err, unix.EBADF)
	}
	if err := c.Valid(); err != nil {
		unix.Close(fd)
		return -1, "", unix.ESRCH
	}
	canon, errno := root.path(fd)
	if errno != 0 {
		unix.Close(fd)
		return -1, "", errno
	}
	return fd, canon, 0
}

// lookupParent resolves all but the last component of path and returns
// the parent directory (O_PATH), its canonical path and the last
// component as the kernel will act on it (a trailing slash kept).
func (p *OpenPolicy) lookupParent(c *handler.Ctx, dirfd int32, path string, under uint64) (int, string, string, unix.Errno) {
	if path == "" {
		return -1, "", "", unix.ENOENT
	}
	trimmed := strings.TrimRight(path, "/")
	if trimmed == "" {
		return -1, "", "", unix.EBUSY // the root itself
	}
	dir, name := filepath.Split(trimmed)
	if dir == "" {
		dir = "."
	}
	if len(trimmed) < len(path) {
		name += "/"
	}
	parent, canon, errno := p.lookup(c, dirfd, dir, lookupHow{follow: true, dir: true, under: under})
	if errno != 0 {
		return -1, "", "", errno
	}
	return parent, canon, name, 0
}

// entryPath is the canonical path of name in the directory at parentPath.
func entryPath(parentPath, name string) string {
	return filepath.Join(parentPath, strings.TrimRight(name, "/"))
}

// mayBeMagic reports whether the lexical path may lead through a magic
// link to a descriptor (/proc/PID/fd/N, /dev/fd/N, /dev/stdin).
func mayBeMagic(lexical string) bool {
	return strings.HasPrefix(lexical, "/dev/") || strings.HasPrefix(lexical, "/proc/")
}

// supervisorProc reports whether the canonical path is beneath the
// supervisor's own /proc/PID.
func (p *OpenPolicy) supervisorProc(canon string) bool {
	if !strings.HasPrefix(canon, "/proc/") {
		return false
	}
	pid, ok := p.root.procPid(canon)
	return ok && pid > 0 && runset.Supervisor(pid)
}

// isDir reports whether fd is a directory.
func isDir(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// member reports whether the /proc directory of process pid (as the
// policy's procfs numbers it) belongs to the run: never the supervisor's;
// then WithInRun's membership, else, under a Root, every process of its
// procfs, else Ctx.InRun.
func (p *OpenPolicy) member(c *handler.Ctx, pid int) bool {
	switch {
	case pid <= 0 || runset.Supervisor(pid):
		return false
	case p.inRun != nil:
		return p.inRun(pid)
	case p.root != nil:
		return true
	}
	return c.InRun(pid)
}

// check decides an object the process reached: its canonical path and
// its identity against the rules, and /proc objects of strangers (an
// object outside the policy's Root, "?/...", matches no rule). An
// object with no path (a pipe, a socket, an anonymous inode, a memfd) is
// what the process holds already: allowed.
func (p *OpenPolicy) check(c *handler.Ctx, fd int, canon string) unix.Errno {
	if strings.HasPrefix(canon, "?/") {
		// Outside the policy's Root (a descriptor the process was
		// given): its path matches no rule, so an allow list denies it.
		if !p.r.allow.empty() || p.r.deniedObject(fd) || p.strangerProc(c, fd, canon) {
			return p.errno
		}
		return 0
	}
	if !strings.HasPrefix(canon, "/") {
		return 0
	}
	name, deleted := strings.CutSuffix(canon, " (deleted)")
	if deleted && strings.HasPrefix(name, "/memfd:") {
		return 0
	}
	if !p.r.allowed(name) || p.r.deniedObject(fd) || p.strangerProc(c, fd, canon) {
		return p.errno
	}
	return 0
}
