package pathpolicy

import (
	"encoding/binary"
	"errors"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/internal/procfs"
	"github.com/sandlock-go/sandlock-go/mem"
)

// handleOp performs a file operation other than an open on the process's
// behalf: the objects are resolved and checked, then the operation is
// done on them, as the process, so that nothing the process changes in
// its memory or its directories afterwards changes what is acted on.
func (p *OpenPolicy) handleOp(c *handler.Ctx) handler.Action {
	a := c.Args()
	at := func(i int) int32 { return int32(a[i]) }
	cwd := int32(unix.AT_FDCWD)
	var errno unix.Errno
	var canon string
	switch c.SyscallName() {
	case "link":
		canon, errno = p.link(c, cwd, 0, cwd, 1, 0)
	case "linkat":
		canon, errno = p.link(c, at(0), 1, at(2), 3, int(a[4]))
	case "symlink":
		canon, errno = p.symlink(c, 0, cwd, 1)
	case "symlinkat":
		canon, errno = p.symlink(c, 0, at(1), 2)
	case "rename":
		canon, errno = p.rename(c, cwd, 0, cwd, 1, 0)
	case "renameat":
		canon, errno = p.rename(c, at(0), 1, at(2), 3, 0)
	case "renameat2":
		canon, errno = p.rename(c, at(0), 1, at(2), 3, uint(a[4]))
	case "unlink":
		canon, errno = p.remove(c, cwd, 0, 0)
	case "rmdir":
		canon, errno = p.remove(c, cwd, 0, unix.AT_REMOVEDIR)
	case "unlinkat":
		canon, errno = p.remove(c, at(0), 1, int(a[2]))
	case "mkdir":
		canon, errno = p.make(c, cwd, 0, unix.S_IFDIR|uint32(a[1]), 0)
	case "mkdirat":
		canon, errno = p.make(c, at(0), 1, unix.S_IFDIR|uint32(a[2]), 0)
	case "mknod":
		canon, errno = p.make(c, cwd, 0, uint32(a[1]), int(a[2]))
	case "mknodat":
		canon, errno = p.make(c, at(0), 1, uint32(a[2]), int(a[3]))
	case "truncate":
		canon, errno = p.onObject(c, cwd, 0, 0, func(obj int) error {
			return unix.Truncate(procSelfFD(obj), int64(a[1]))
		})
	case "chmod":
		canon, errno = p.chmod(c, cwd, 0, uint32(a[1]), 0)
	case "fchmodat":
		canon, errno = p.chmod(c, at(0), 1, uint32(a[2]), 0)
	case "fchmodat2":
		canon, errno = p.chmod(c, at(0), 1, uint32(a[2]), int(a[3]))
	case "chown":
		canon, errno = p.chown(c, cwd, 0, a[1], a[2], 0)
	case "lchown":
		canon, errno = p.chown(c, cwd, 0, a[1], a[2], unix.AT_SYMLINK_NOFOLLOW)
	case "fchownat":
		canon, errno = p.chown(c, at(0), 1, a[2], a[3], int(a[4]))
	case "utime", "utimes", "futimesat", "utimensat":
		if c.SyscallName() == "utimensat" && a[1] == 0 {
			// utimensat(fd, NULL, ...) acts on an open file the
			// process holds (not an O_PATH one: EBADF).
			return handler.Continue()
		}
		canon, errno = p.utimes(c)
	case "setxattr", "lsetxattr", "setxattrat", "removexattr", "lremovexattr", "removexattrat":
		canon, errno = p.xattr(c)
	case "inotify_add_watch":
		return p.inotify(c)
	case "fanotify_mark":
		return p.fanotify(c)
	case "file_setattr":
		canon, errno = p.fileSetattr(c)
	case "bind":
		return p.bind(c)
	case "execve":
		return p.exec(c, cwd, 0, 0)
	case "execveat":
		return p.exec(c, at(0), 1, int(a[4]))
	default:
		return handler.Continue()
	}
	p.decided(c, canon, errno)
	if errno != 0 {
		return handler.Errno(errno)
	}
	return handler.ReturnValue(0)
}

// readPath reads the path in argument i.
func readPath(c *handler.Ctx, i int) (string, unix.Errno) {
	path, err := c.ReadCString(c.Arg(i), handler.PathMax)
	switch {
	case err == nil:
		return path, 0
	case errors.Is(err, mem.ErrTooLong):
		return "", unix.ENAMETOOLONG
	default:
		return "", errnoOf(err, unix.EFAULT)
	}
}

func procSelfFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// asProcess runs op as the process and returns its errno.
func asProcess(c *handler.Ctx, op func() error) unix.Errno {
	errno := unix.Errno(unix.EACCES)
	if err := c.AsProcess(func() { errno = errnoOf(op(), 0) }); err != nil {
		return unix.EACCES
	}
	return errno
}

// creating runs op as the process, with the process's umask: a file,
// directory, node or socket it makes gets the mode the process's own call
// would give. The umask is the calling thread's while op runs: the
// confined threads of the sandbox have file-system contexts of their own;
// without them (a bare dispatch loop) the supervisor's umask changes for
// that moment.
func creating(c *handler.Ctx, op func() error) unix.Errno {
	mask, err := procfs.Umask(c.Pid())
	if err != nil {
		return unix.ESRCH
	}
	return asProcess(c, func() error {
		old := unix.Umask(mask)
		defer unix.Umask(old)
		return op()
	})
}

// entry is a name in a resolved, open parent directory: what unlink,
// rename, link, mkdir and the like act on.
type entry struct {
	parent int
	dir    string // canonical path of parent
	name   string // as the kernel acts on it (a trailing slash kept)
	path   string // canonical path of the entry
}

func (e entry) close() { unix.Close(e.parent) }

// entryOf reads the path in argument i and resolves its parent.
func (p *OpenPolicy) entryOf(c *handler.Ctx, dirfd int32, i int) (entry, unix.Errno) {
	path, errno := readPath(c, i)
	if errno != 0 {
		return entry{}, errno
	}
	parent, dir, name, errno := p.lookupParent(c, dirfd, path, 0)
	if errno != 0 {
		return entry{}, errno
	}
	return entry{parent: parent, dir: dir, name: name, path: entryPath(dir, name)}, 0
}

// allowedEntry reports whether a name may be made or removed there.
func (p *OpenPolicy) allowedEntry(c *handler.Ctx, e entry) bool {
	return p.r.allowed(e.path) && !p.strangerProc(c, e.parent, e.dir)
}

// movable reports whether the existing entry e may be removed, moved or
// linked elsewhere (moved: a directory, with what is beneath it): its
// name is allowed, it is not a file the deny list names, and, when it is
// a directory that moves, no denied tree lies beneath it.
func (p *OpenPolicy) movable(c *handler.Ctx, e entry, moves bool) bool {
	if !p.allowedEntry(c, e) {
		return false
	}
	var st unix.Stat_t
	if err := unix.Fstatat(e.parent, strings.TrimRight(e.name, "/"), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return true // nothing there: the kernel fails the call
	}
	if _, denied := p.r.deniedFiles[fileID{st.Dev, st.Ino}]; denied {
		return false
	}
	return !(moves && st.Mode&unix.S_IFMT == unix.S_IFDIR && p.r.deny.beneath(e.path))
}

// object resolves the path in argument i (relative to dirfd) to the
// object an operation acts on, following a trailing symlink unless
// AT_SYMLINK_NOFOLLOW is in flags, the dirfd itself for AT_EMPTY_PATH and
// "", and checks it.
func (p *OpenPolicy) object(c *handler.Ctx, dirfd int32, i int, flags int) (int, string, unix.Errno) {
	path, errno := readPath(c, i)
	if errno != 0 {
		return -1, "", errno
	}
	return p.objectAt(c, dirfd, path, flags)
}

// objectAt is object for a path already read.
func (p *OpenPolicy) objectAt(c *handler.Ctx, dirfd int32, path string, flags int) (int, string, unix.Errno) {
	how := lookupHow{follow: flags&unix.AT_SYMLINK_NOFOLLOW == 0, empty: flags&unix.AT_EMPTY_PATH != 0}
	obj, canon, errno := p.lookup(c, dirfd, path, how)
	if errno == unix.ENOENT {
		return -1, canon, p.missing(c, dirfd, path, 0)
	}
	if errno != 0 {
		return -1, canon, errno
	}
	if errno := p.check(c, obj, canon); errno != 0 {
		unix.Close(obj)
		return -1, canon, errno
	}
	return obj, canon, 0
}

// onObject checks the object of argument i and runs op on it as the
// process.
func (p *OpenPolicy) onObject(c *handler.Ctx, dirfd int32, i int, flags int, op func(obj int) error) (string, unix.Errno) {
	obj, canon, errno := p.object(c, dirfd, i, flags)
	if errno != 0 {
		return canon, errno
	}
	defer unix.Close(obj)
	return canon, asProcess(c, func() error { return op(obj) })
}

func (p *OpenPolicy) link(c *handler.Ctx, olddir int32, oldArg int, newdir int32, newArg int, flags int) (string, unix.Errno) {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return "", unix.EINVAL
	}
	dst, errno := p.entryOf(c, newdir, newArg)
	if errno != 0 {
		return "", errno
	}
	defer dst.close()
	if !p.allowedEntry(c, dst) {
		return dst.path, p.errno
	}
	if flags&(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		// The object behind a symlink or a descriptor: linked from
		// the checked object itself.
		nofollow := 0
		if flags&unix.AT_SYMLINK_FOLLOW == 0 {
			nofollow = unix.AT_SYMLINK_NOFOLLOW
		}
		path, errno := readPath(c, oldArg)
		if errno != 0 {
			return "", errno
		}
		// The check of the object covers a file the deny list names
		// (its inode) too.
		obj, canon, errno := p.objectAt(c, olddir, path, nofollow|flags&unix.AT_EMPTY_PATH)
		if errno != 0 {
			return canon, errno
		}
		defer unix.Close(obj)
		return canon, asProcess(c, func() error {
			if path == "" {
				// AT_EMPTY_PATH: the kernel wants the process's
				// CAP_DAC_READ_SEARCH; so does this.
				return unix.Linkat(obj, "", dst.parent, dst.name, unix.AT_EMPTY_PATH)
			}
			return unix.Linkat(unix.AT_FDCWD, procSelfFD(obj), dst.parent, dst.name, unix.AT_SYMLINK_FOLLOW)
		})
	}
	src, errno := p.entryOf(c, olddir, oldArg)
	if errno != 0 {
		return "", errno
	}
	defer src.close()
	if !p.movable(c, src, false) {
		return src.path, p.errno
	}
	return src.path, asProcess(c, func() error { return unix.Linkat(src.parent, src.name, dst.parent, dst.name, 0) })
}

func (p *OpenPolicy) symlink(c *handler.Ctx, targetArg int, newdir int32, newArg int) (string, unix.Errno) {
	target, errno := readPath(c, targetArg)
	if errno != 0 {
		return "", errno
	}
	dst, errno := p.entryOf(c, newdir, newArg)
	if errno != 0 {
		return "", errno
	}
	defer dst.close()
	if !p.allowedEntry(c, dst) {
		return dst.path, p.errno
	}
	// The target is a string: what it names is decided when it is
	// followed.
	return dst.path, asProcess(c, func() error { return unix.Symlinkat(target, dst.parent, dst.name) })
}

func (p *OpenPolicy) rename(c *handler.Ctx, olddir int32, oldArg int, newdir int32, newArg int, flags uint) (string, unix.Errno) {
	src, errno := p.entryOf(c, olddir, oldArg)
	if errno != 0 {
		return "", errno
	}
	defer src.close()
	dst, errno := p.entryOf(c, newdir, newArg)
	if errno != 0 {
		return src.path, errno
	}
	defer dst.close()
	// Both ends move with RENAME_EXCHANGE; an entry replaced at the
	// destination is removed.
	if !p.movable(c, src, true) || !p.movable(c, dst, flags&unix.RENAME_EXCHANGE != 0) {
		return src.path, p.errno
	}
	if flags&unix.RENAME_EXCHANGE == 0 && p.movesDirInto(src, dst) {
		return src.path, p.errno
	}
	return src.path, asProcess(c, func() error { return unix.Renameat2(src.parent, src.name, dst.parent, dst.name, flags) })
}

// movesDirInto reports whether renaming the directory at src to dst
// would put it where a denied tree lies beneath: its content would take
// denied names.
func (p *OpenPolicy) movesDirInto(src, dst entry) bool {
	var st unix.Stat_t
	if err := unix.Fstatat(src.parent, strings.TrimRight(src.name, "/"), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false
	}
	return st.Mode&unix.S_IFMT == unix.S_IFDIR && p.r.deny.beneath(dst.path)
}

func (p *OpenPolicy) remove(c *handler.Ctx, dirfd int32, arg int, flags int) (string, unix.Errno) {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return "", unix.EINVAL
	}
	e, errno := p.entryOf(c, dirfd, arg)
	if errno != 0 {
		return "", errno
	}
	defer e.close()
	if !p.movable(c, e, false) {
		return e.path, p.errno
	}
	return e.path, asProcess(c, func() error { return unix.Unlinkat(e.parent, e.name, flags) })
}

func (p *OpenPolicy) make(c *handler.Ctx, dirfd int32, arg int, mode uint32, dev int) (string, unix.Errno) {
	e, errno := p.entryOf(c, dirfd, arg)
	if errno != 0 {
		return "", errno
	}
	defer e.close()
	if !p.allowedEntry(c, e) {
		return e.path, p.errno
	}
	return e.path, creating(c, func() error {
		if mode&unix.S_IFMT == unix.S_IFDIR {
			return unix.Mkdirat(e.parent, e.name, mode&0o7777)
		}
		return unix.Mknodat(e.parent, e.name, mode, dev)
	})
}

func (p *OpenPolicy) chmod(c *handler.Ctx, dirfd int32, arg int, mode uint32, flags int) (string, unix.Errno) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return "", unix.EINVAL
	}
	return p.onObject(c, dirfd, arg, flags, func(obj int) error {
		err := fchmodat2(obj, mode, unix.AT_EMPTY_PATH|flags&unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOSYS) && flags&unix.AT_SYMLINK_NOFOLLOW == 0 {
			return unix.Fchmodat(unix.AT_FDCWD, procSelfFD(obj), mode, 0)
		}
		return err
	})
}

func (p *OpenPolicy) chown(c *handler.Ctx, dirfd int32, arg int, uid, gid uint64, flags int) (string, unix.Errno) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return "", unix.EINVAL
	}
	return p.onObject(c, dirfd, arg, flags, func(obj int) error {
		return unix.Fchownat(obj, "", int(int32(uid)), int(int32(gid)), unix.AT_EMPTY_PATH)
	})
}

// utimes decodes the times of utime, utimes, futimesat and utimensat and
// sets them on the checked object.
func (p *OpenPolicy) utimes(c *handler.Ctx) (string, unix.Errno) {
	a := c.Args()
	dirfd, pathArg, timesArg, flags := int32(unix.AT_FDCWD), 0, 1, 0
	switch c.SyscallName() {
	case "futimesat":
		dirfd, pathArg, timesArg = int32(a[0]), 1, 2
	case "utimensat":
		dirfd, pathArg, timesArg, flags = int32(a[0]), 1, 2, int(a[3])
		if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
			return "", unix.EINVAL
		}
	}
	var ts *[2]unix.Timespec
	if addr := a[timesArg]; addr != 0 {
		size := 32
		if c.SyscallName() == "utime" {
			size = 16
		}
		b, err := c.Read(addr, size)
		if err != nil {
			return "", unix.EFAULT
		}
		u := func(i int) int64 { return int64(binary.LittleEndian.Uint64(b[8*i:])) }
		ts = new([2]unix.Timespec)
		switch c.SyscallName() {
		case "utime": // struct utimbuf {actime, modtime}
			ts[0], ts[1] = unix.Timespec{Sec: u(0)}, unix.Timespec{Sec: u(1)}
		case "utimes", "futimesat": // struct timeval[2]
			for i := range 2 {
				if u(2*i+1) < 0 || u(2*i+1) >= 1000000 {
					return "", unix.EINVAL
				}
				ts[i] = unix.Timespec{Sec: u(2 * i), Nsec: u(2*i+1) * 1000}
			}
		default: // struct timespec[2]
			ts[0], ts[1] = unix.Timespec{Sec: u(0), Nsec: u(1)}, unix.Timespec{Sec: u(2), Nsec: u(3)}
		}
	}
	return p.onObject(c, dirfd, pathArg, flags, func(obj int) error {
		return utimensat(obj, ts, unix.AT_EMPTY_PATH|flags&unix.AT_SYMLINK_NOFOLLOW)
	})
}

// xattrSizeMax is XATTR_SIZE_MAX; xattrNameMax XATTR_NAME_MAX.
const (
	xattrSizeMax = 65536
	xattrNameMax = 255
)

// xattr sets or removes an extended attribute of the checked object.
func (p *OpenPolicy) xattr(c *handler.Ctx) (string, unix.Errno) {
	a := c.Args()
	name := c.SyscallName()
	dirfd, pathArg, nameArg, flags := int32(unix.AT_FDCWD), 0, 1, 0
	if strings.HasPrefix(name, "l") {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	var value []byte
	var setFlags int
	set := strings.HasPrefix(strings.TrimPrefix(name, "l"), "set")
	switch name {
	case "setxattr", "lsetxattr":
		if a[3] > xattrSizeMax {
			return "", unix.E2BIG
		}
		if a[3] > 0 {
			v, err := c.Read(a[2], int(a[3]))
			if err != nil {
				return "", unix.EFAULT
			}
			value = v
		}
		setFlags = int(a[4])
	case "setxattrat", "removexattrat":
		dirfd, pathArg, nameArg, flags = int32(a[0]), 1, 3, int(a[2])
		if name == "setxattrat" {
			// struct xattr_args {u64 value; u32 size; u32 flags}
			size := a[5]
			if size < 16 {
				return "", unix.EINVAL
			}
			if size > pageSize {
				return "", unix.E2BIG
			}
			args, err := c.Read(a[4], int(size))
			if err != nil {
				return "", unix.EFAULT
			}
			for _, b := range args[16:] {
				if b != 0 {
					return "", unix.E2BIG
				}
			}
			addr, n := binary.LittleEndian.Uint64(args), binary.LittleEndian.Uint32(args[8:])
			setFlags = int(binary.LittleEndian.Uint32(args[12:]))
			if n > xattrSizeMax {
				return "", unix.E2BIG
			}
			if n > 0 {
				v, err := c.Read(addr, int(n))
				if err != nil {
					return "", unix.EFAULT
				}
				value = v
			}
		}
	}
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return "", unix.EINVAL
	}
	attr, err := c.ReadCString(a[nameArg], xattrNameMax+1)
	switch {
	case errors.Is(err, mem.ErrTooLong):
		return "", unix.ERANGE
	case err != nil:
		return "", unix.EFAULT
	case attr == "":
		return "", unix.ERANGE
	}
	return p.onObject(c, dirfd, pathArg, flags, func(obj int) error {
		var st unix.Stat_t
		if err := unix.Fstat(obj, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			// Through /proc/self/fd the link itself cannot be
			// named; user attributes are refused on symlinks anyway.
			return unix.EPERM
		}
		if set {
			return unix.Setxattr(procSelfFD(obj), attr, value, setFlags)
		}
		return unix.Removexattr(procSelfFD(obj), attr)
	})
}

// childFD copies descriptor fd of the trapped process into the
// supervisor (pidfd_getfd: the same open file).
func childFD(c *handler.Ctx, fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(c.Pid(), unix.PIDFD_THREAD)
	if err != nil {
		tgid, terr := procfs.Tgid(c.Pid())
		if terr != nil {
			return -1, terr
		}
		if pidfd, err = unix.PidfdOpen(tgid, 0); err != nil {
			return -1, err
		}
	}
	defer unix.Close(pidfd)
	got, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return -1, err
	}
	if err := c.Valid(); err != nil {
		unix.Close(got)
		return -1, unix.ESRCH
	}
	return got, nil
}

// inotify adds the watch on the checked object to the process's inotify
// instance.
func (p *OpenPolicy) inotify(c *handler.Ctx) handler.Action {
	mask := uint32(c.Arg(2))
	flags := 0
	if mask&unix.IN_DONT_FOLLOW != 0 {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	obj, canon, errno := p.object(c, unix.AT_FDCWD, 1, flags)
	p.decided(c, canon, errno)
	if errno != 0 {
		return handler.Errno(errno)
	}
	defer unix.Close(obj)
	if mask&unix.IN_ONLYDIR != 0 && !isDir(obj) {
		return handler.Errno(unix.ENOTDIR)
	}
	ifd, err := childFD(c, int(int32(c.Arg(0))))
	if err != nil {
		return handler.Errno(errnoOf(err, unix.EBADF))
	}
	defer unix.Close(ifd)
	wd := -1
	errno = asProcess(c, func() error {
		var err error
		wd, err = unix.InotifyAddWatch(ifd, procSelfFD(obj), mask&^(unix.IN_DONT_FOLLOW|unix.IN_ONLYDIR))
		return err
	})
	if errno != 0 {
		return handler.Errno(errno)
	}
	return handler.ReturnValue(int64(wd))
}

// sizeofSockaddrUn is sizeof(struct sockaddr_un).
const sizeofSockaddrUn = 110

// bind binds a unix socket to a path on the process's behalf, in the
// checked parent directory; other binds are left to the kernel and other
// handlers.
func (p *OpenPolicy) bind(c *handler.Ctx) handler.Action {
	size := c.Arg(2)
	if size <= 2 || size > 1<<16 {
		return handler.Continue() // autobind, or the kernel's EINVAL
	}
	raw, err := c.Read(c.Arg(1), int(min(size, sizeofSockaddrUn)))
	if err != nil {
		return handler.Continue() // the kernel's EFAULT
	}
	if binary.LittleEndian.Uint16(raw) != unix.AF_UNIX || raw[2] == 0 {
		return handler.Continue() // not a path: abstract, or another family
	}
	path := string(raw[2:])
	if i := strings.IndexByte(path, 0); i >= 0 {
		path = path[:i]
	}
	parent, dir, name, errno := p.lookupParent(c, unix.AT_FDCWD, path, 0)
	if errno != 0 {
		return handler.Errno(errno)
	}
	defer unix.Close(parent)
	e := entry{parent: parent, dir: dir, name: name, path: entryPath(dir, name)}
	allowed := p.allowedEntry(c, e)
	if !allowed {
		p.decided(c, e.path, p.errno)
		return handler.Errno(p.errno)
	}
	sock, err := childFD(c, int(int32(c.Arg(0))))
	if err != nil {
		return handler.Errno(errnoOf(err, unix.EBADF))
	}
	defer unix.Close(sock)
	errno = creating(c, func() error { return bindAt(sock, parent, name) })
	p.decided(c, e.path, errno)
	if errno != 0 {
		return handler.Errno(errno)
	}
	return handler.ReturnValue(0)
}

// bindAt binds sock to name in the directory dir: on the calling thread,
// given a working directory of its own (unshare(CLONE_FS)) for the call
// and then its old one back. The socket's address is the relative name.
func bindAt(sock, dir int, name string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return err
	}
	old, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(old)
	if err := unix.Fchdir(dir); err != nil {
		return err
	}
	defer unix.Fchdir(old)
	return unix.Bind(sock, &unix.SockaddrUnix{Name: name})
}

// exec decides an execve or execveat: the object reached through a
// descriptor (AT_EMPTY_PATH, /proc/self/fd/N, /dev/fd/N) is checked like
// an open; a file reached by path only against Deny (which programs may
// run is ExecPolicy's). The kernel execs again from the path: this is
// not race-free (see "Exec" in the package documentation).
func (p *OpenPolicy) exec(c *handler.Ctx, dirfd int32, arg int, flags int) handler.Action {
	path, errno := readPath(c, arg)
	if errno != 0 {
		return handler.Continue() // the kernel fails it the same
	}
	how := lookupHow{follow: flags&unix.AT_SYMLINK_NOFOLLOW == 0, empty: flags&unix.AT_EMPTY_PATH != 0}
	obj, canon, errno := p.lookup(c, dirfd, path, how)
	if errno != 0 {
		return handler.Continue()
	}
	defer unix.Close(obj)
	viaFD := path == "" || strings.HasPrefix(path, "/proc/") || strings.HasPrefix(path, "/dev/")
	denied := p.r.deny.match(strings.TrimSuffix(canon, " (deleted)")) || p.r.deniedObject(obj)
	if viaFD {
		denied = p.check(c, obj, canon) != 0
	}
	if denied {
		p.decided(c, canon, p.errno)
		return handler.Errno(p.errno)
	}
	return handler.Continue()
}

// fanotify_mark flags the policy handles.
const (
	fanMarkDontFollow = 0x4
	fanMarkOnlyDir    = 0x8
	fanMarkFlush      = 0x80
)

// fanotify adds (or removes) the mark on the checked object in the
// process's fanotify group; FAN_MARK_FLUSH names no object.
func (p *OpenPolicy) fanotify(c *handler.Ctx) handler.Action {
	a := c.Args()
	flags, mask := uint32(a[1]), a[2]
	if flags&fanMarkFlush != 0 {
		return handler.Continue()
	}
	at := 0
	if flags&fanMarkDontFollow != 0 {
		at = unix.AT_SYMLINK_NOFOLLOW
	}
	var obj int
	var canon string
	var errno unix.Errno
	if a[4] == 0 {
		// No path: the dirfd itself.
		obj, canon, errno = fdObject(c, p.root, int32(a[3]))
		if errno == 0 {
			if e := p.check(c, obj, canon); e != 0 {
				unix.Close(obj)
				obj, errno = -1, e
			}
		}
	} else {
		obj, canon, errno = p.object(c, int32(a[3]), 4, at)
	}
	p.decided(c, canon, errno)
	if errno != 0 {
		return handler.Errno(errno)
	}
	defer unix.Close(obj)
	if flags&fanMarkOnlyDir != 0 && !isDir(obj) {
		return handler.Errno(unix.ENOTDIR)
	}
	group, err := childFD(c, int(int32(a[0])))
	if err != nil {
		return handler.Errno(errnoOf(err, unix.EBADF))
	}
	defer unix.Close(group)
	errno = asProcess(c, func() error {
		// Through /proc/self/fd: a NULL path wants an open descriptor,
		// not an O_PATH one.
		return unix.FanotifyMark(group, uint(flags&^(fanMarkDontFollow|fanMarkOnlyDir)), mask, unix.AT_FDCWD, procSelfFD(obj))
	})
	if errno != 0 {
		return handler.Errno(errno)
	}
	return handler.ReturnValue(0)
}

// fileAttrSizeMax bounds struct file_attr (FILE_ATTR_SIZE_LATEST is 24).
const fileAttrSizeMax = pageSize

// fileSetattr sets the inode flags (struct file_attr) of the checked
// object.
func (p *OpenPolicy) fileSetattr(c *handler.Ctx) (string, unix.Errno) {
	a := c.Args()
	size := a[3]
	if size > fileAttrSizeMax {
		return "", unix.E2BIG
	}
	var attr []byte
	if size > 0 {
		b, err := c.Read(a[2], int(size))
		if err != nil {
			return "", unix.EFAULT
		}
		attr = b
	}
	flags := int(a[4])
	return p.onObject(c, int32(a[0]), 1, flags, func(obj int) error {
		return fileSetattr(obj, attr, unix.AT_EMPTY_PATH|flags&unix.AT_SYMLINK_NOFOLLOW)
	})
}
