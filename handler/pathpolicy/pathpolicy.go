package pathpolicy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/internal/procfs"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Rules lists allowed and denied paths. A path is denied when it matches
// Deny, or when Allow is not empty and it matches nothing in Allow.
//
// Patterns are absolute: "/etc" covers /etc and everything beneath it;
// "/home/*/.ssh" is a glob (filepath.Match) that covers every path that
// matches it or lies beneath one that does.
type Rules struct {
	Allow []string
	Deny  []string
}

type rules struct {
	allow, deny matcher
	// deniedFiles are the identities of the files Deny names exactly, so
	// that a hard link to one under another name is denied too.
	deniedFiles map[fileID]string
}

type fileID struct{ dev, ino uint64 }

func compile(r Rules) (rules, error) { return compileIn(r, nil) }

// compileIn compiles r for the processes of root (nil: the supervisor's
// root): symlinks in patterns and the denied files are looked up there.
func compileIn(r Rules, root *Root) (rules, error) {
	allow, err := newMatcher(r.Allow)
	if err != nil {
		return rules{}, fmt.Errorf("allow: %w", err)
	}
	deny, err := newMatcher(r.Deny)
	if err != nil {
		return rules{}, fmt.Errorf("deny: %w", err)
	}
	// Rules mean real directories: /var/run/x is /run/x.
	allow, deny = allow.canonical(root), deny.canonical(root)
	files := map[fileID]string{}
	for _, p := range deny.prefixes {
		var st unix.Stat_t
		if err := root.stat(p, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			files[fileID{st.Dev, st.Ino}] = p
		}
	}
	return rules{allow: allow, deny: deny, deniedFiles: files}, nil
}

// deniedObject reports whether the open descriptor fd is one of the denied
// files, whatever name it was reached by.
func (r rules) deniedObject(fd int) bool {
	if len(r.deniedFiles) == 0 {
		return false
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return true // fail closed
	}
	_, denied := r.deniedFiles[fileID{st.Dev, st.Ino}]
	return denied
}

func (r rules) allowed(p string) bool {
	if r.deny.match(p) {
		return false
	}
	return r.allow.empty() || r.allow.match(p)
}

// Decision is one open or exec the policy decided, for auditing and for
// learning a profile.
type Decision struct {
	Syscall string
	Pid     int
	// Path is the canonical path of what was opened or would have been
	// (the lexical absolute path when the target could not be resolved).
	Path    string
	Allowed bool
	// Errno is the error the process got, 0 on success.
	Errno unix.Errno
}

// OpenPolicy is the handler for open, openat, openat2 and creat that opens
// files on the process's behalf. Register it with Syscalls.
type OpenPolicy struct {
	src   Rules
	r     rules
	errno unix.Errno
	inRun func(pid int) bool
	root  *Root
	// OnDecision, when set, is called for every decided open. It must be
	// safe for concurrent use.
	OnDecision func(Decision)
}

// NewOpenPolicy returns an OpenPolicy; denied opens fail with EACCES.
func NewOpenPolicy(r Rules) (*OpenPolicy, error) {
	compiled, err := compile(r)
	if err != nil {
		return nil, fmt.Errorf("open policy: %w", err)
	}
	return &OpenPolicy{src: r, r: compiled, errno: unix.EACCES}, nil
}

// WithRoot returns the policy for processes whose "/" is root (a
// container's): paths are resolved in root and never leave it, the rules
// name paths as those processes see them, and the denied files are
// looked up there (see Root). The policy's /proc membership (WithInRun)
// then takes pids as root's procfs shows them; without WithInRun, every
// process that procfs shows belongs (a container's procfs shows its own
// pid namespace), and the kernel checks each access as the process
// (handler.Ctx.AsProcess). A nil root means the supervisor's own.
func (p *OpenPolicy) WithRoot(root *Root) (*OpenPolicy, error) {
	if !root.acquire() {
		return nil, fmt.Errorf("open policy: %w", errRootClosed)
	}
	defer root.release()
	compiled, err := compileIn(p.src, root)
	if err != nil {
		return nil, fmt.Errorf("open policy: %w", err)
	}
	q := *p
	q.r, q.root = compiled, root
	return &q, nil
}

// WithErrno returns the policy answering denied opens with e instead of
// EACCES.
func (p *OpenPolicy) WithErrno(e unix.Errno) *OpenPolicy {
	q := *p
	q.errno = e
	return &q
}

// WithInRun returns the policy with the membership of the run: a /proc
// object of a process for which inRun does not hold is refused, whatever
// the rules allow (see "The /proc of other processes" in the package
// documentation). Nil, the default, means runset.Of the trapped task;
// sandbox should pass runset.ProcessGroup of the command's process group.
func (p *OpenPolicy) WithInRun(inRun func(pid int) bool) *OpenPolicy {
	q := *p
	q.inRun = inRun
	return &q
}

// Allowed reports whether the policy allows the clean absolute path.
func (p *OpenPolicy) Allowed(path string) bool { return p.r.allowed(path) }

// fileSyscalls are the syscalls that reach a file by path, or by a
// descriptor that an O_PATH open may have given (fd-relative calls with
// AT_EMPTY_PATH, execveat), and that the policy performs or decides.
var fileSyscalls = []string{
	"open", "openat", "openat2", "creat",
	"link", "linkat", "symlink", "symlinkat",
	"rename", "renameat", "renameat2",
	"unlink", "unlinkat", "rmdir", "mkdir", "mkdirat", "mknod", "mknodat",
	"truncate", "chmod", "fchmodat", "fchmodat2", "chown", "lchown", "fchownat",
	"utime", "utimes", "utimensat", "futimesat",
	"setxattr", "lsetxattr", "removexattr", "lremovexattr", "setxattrat", "removexattrat",
	"inotify_add_watch", "fanotify_mark", "file_setattr", "bind", "execve", "execveat",
}

// bypassSyscalls reach files without a path the policy sees: they are
// denied in the kernel while the policy is active.
var bypassSyscalls = []string{
	"open_by_handle_at", "io_uring_setup", "io_uring_enter", "io_uring_register", "uselib",
	"open_tree", "open_tree_attr",
}

// Syscalls returns the names the policy must be registered on that exist on
// arch (nil means native): every file operation by path.
func (p *OpenPolicy) Syscalls(arch *syscalls.Arch) []string {
	return existing(arch, fileSyscalls...)
}

// KernelDenies returns the syscalls that would bypass the policy and must
// be denied in the kernel while it is active: open_by_handle_at (opens by
// file handle, no path), io_uring (its OPENAT never reaches seccomp),
// uselib, and open_tree (a descriptor of a path, opened by the kernel).
func (p *OpenPolicy) KernelDenies(arch *syscalls.Arch) []string {
	return existing(arch, bypassSyscalls...)
}

var (
	_ handler.Policy       = (*OpenPolicy)(nil)
	_ handler.KernelDenier = (*OpenPolicy)(nil)
)

func existing(arch *syscalls.Arch, names ...string) []string {
	if arch == nil {
		arch = syscalls.Native()
	}
	var out []string
	for _, n := range names {
		if _, err := arch.Number(n); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// openRequest is an open as the process asked for it.
type openRequest struct {
	dirfd   int32
	pathArg int
	flags   uint64
	mode    uint64
	resolve uint64
}

// sizeofOpenHow is the size of struct open_how the kernel first shipped.
const sizeofOpenHow = 24

// pageSize bounds an extensible struct (copy_struct_from_user).
const pageSize = 4096

// knownResolve are the RESOLVE_* flags the kernel knows.
const knownResolve = unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS |
	unix.RESOLVE_BENEATH | unix.RESOLVE_IN_ROOT | resolveCached

// resolveCached is RESOLVE_CACHED (Linux 5.12), missing from x/sys.
const resolveCached = 0x20

func (p *OpenPolicy) request(c *handler.Ctx) (openRequest, unix.Errno) {
	a := c.Args()
	switch c.SyscallName() {
	case "open":
		return openRequest{dirfd: unix.AT_FDCWD, pathArg: 0, flags: a[1], mode: a[2]}, 0
	case "creat":
		return openRequest{dirfd: unix.AT_FDCWD, pathArg: 0, flags: unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC, mode: a[1]}, 0
	case "openat":
		return openRequest{dirfd: int32(a[0]), pathArg: 1, flags: a[2], mode: a[3]}, 0
	case "openat2":
		// As the kernel's copy_struct_from_user: too small is EINVAL,
		// more than a page E2BIG, and bytes beyond the struct this
		// kernel knows must be zero, else E2BIG.
		size := a[3]
		if size < sizeofOpenHow {
			return openRequest{}, unix.EINVAL
		}
		if size > pageSize {
			return openRequest{}, unix.E2BIG
		}
		how, err := c.Read(a[2], int(size))
		if err != nil {
			return openRequest{}, unix.EFAULT
		}
		for _, b := range how[sizeofOpenHow:] {
			if b != 0 {
				return openRequest{}, unix.E2BIG
			}
		}
		req := openRequest{
			dirfd:   int32(a[0]),
			pathArg: 1,
			flags:   binary.LittleEndian.Uint64(how[0:]),
			mode:    binary.LittleEndian.Uint64(how[8:]),
			resolve: binary.LittleEndian.Uint64(how[16:]),
		}
		if req.resolve&^knownResolve != 0 || req.mode&^0o7777 != 0 ||
			(req.mode != 0 && req.flags&(unix.O_CREAT|unix.O_TMPFILE) == 0) ||
			req.resolve&(unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) == unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT {
			return openRequest{}, unix.EINVAL
		}
		return req, 0
	}
	return openRequest{}, unix.ENOSYS
}

// Handle performs the process's file operation on its behalf, or denies
// it (see the package documentation).
func (p *OpenPolicy) Handle(c *handler.Ctx) handler.Action {
	if !p.root.acquire() {
		return handler.Errno(p.errno) // the processes' root is gone
	}
	defer p.root.release()
	switch c.SyscallName() {
	case "open", "openat", "openat2", "creat":
		return p.handleOpen(c)
	}
	return p.handleOp(c)
}

func (p *OpenPolicy) handleOpen(c *handler.Ctx) handler.Action {
	req, errno := p.request(c)
	if errno == unix.ENOSYS {
		return handler.Continue()
	}
	if errno != 0 {
		return handler.Errno(errno)
	}
	path, err := c.ReadCString(c.Arg(req.pathArg), handler.PathMax)
	if err != nil {
		return handler.Errno(errnoOf(err, unix.EFAULT))
	}
	fd, canon, errno := p.open(c, req, path)
	p.decided(c, canon, errno)
	if fd == continueOPath {
		// ADDFD refuses O_PATH files: the kernel opens it again, and
		// may reach another object than the one checked (the path is
		// read again); every use of an O_PATH descriptor is mediated
		// on its object (see "O_PATH" in the package documentation).
		return handler.Continue()
	}
	if fd < 0 {
		return handler.Errno(errno)
	}
	var injectFlags int
	if req.flags&unix.O_CLOEXEC != 0 {
		injectFlags = unix.O_CLOEXEC
	}
	return handler.InjectFD(fd, injectFlags)
}

// decided reports a decision to OnDecision.
func (p *OpenPolicy) decided(c *handler.Ctx, canon string, errno unix.Errno) {
	if p.OnDecision != nil {
		denied := errno == p.errno && canon != ""
		p.OnDecision(Decision{Syscall: c.SyscallName(), Pid: c.Pid(), Path: canon, Allowed: !denied, Errno: errno})
	}
}

// continueOPath is open's descriptor for an allowed O_PATH open, which
// the kernel must perform.
const continueOPath = -2

// open performs the process's open. It returns the descriptor (or
// continueOPath), the canonical path it decided on, and an errno when
// there is no descriptor.
func (p *OpenPolicy) open(c *handler.Ctx, req openRequest, path string) (int, string, unix.Errno) {
	// Reopen the very object that was checked, as the process.
	flags := int(req.flags&^(unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NOCTTY)) | unix.O_CLOEXEC
	fd, errno := -1, unix.Errno(unix.EACCES)
	decided := false
	mask := -1 // the process's umask, for a new O_TMPFILE file
	if req.flags&unix.O_TMPFILE == unix.O_TMPFILE {
		m, err := procfs.Umask(c.Pid())
		if err != nil {
			return -1, "", unix.ESRCH
		}
		mask = m
	}
	decide := func(obj int, canon string) {
		decided = true
		if errno = p.check(c, obj, canon); errno != 0 {
			return
		}
		switch {
		case req.flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL:
			errno = unix.EEXIST
		case req.flags&unix.O_PATH != 0:
			fd = continueOPath
		default:
			if mask >= 0 {
				old := unix.Umask(mask)
				defer unix.Umask(old)
			}
			f, err := unix.Open("/proc/self/fd/"+strconv.Itoa(obj), flags, uint32(req.mode))
			fd, errno = f, errnoOf(err, 0)
		}
	}
	how := lookupHow{
		follow: req.flags&unix.O_NOFOLLOW == 0,
		dir:    req.flags&unix.O_DIRECTORY != 0,
		under:  req.resolve,
		then:   decide,
	}
	obj, canon, lerr := p.lookup(c, req.dirfd, path, how)
	if lerr == unix.ENOENT && req.flags&unix.O_CREAT != 0 && req.flags&unix.O_TMPFILE != unix.O_TMPFILE {
		return p.create(c, req, path)
	}
	if lerr == unix.ENOENT {
		return -1, canon, p.missing(c, req.dirfd, path, req.resolve)
	}
	if lerr != 0 {
		return -1, canon, lerr
	}
	defer unix.Close(obj)
	if !decided {
		// Reached through a magic link: decide and reopen now.
		if err := c.AsProcess(func() { decide(obj, canon) }); err != nil {
			return -1, canon, unix.EACCES
		}
	}
	if fd == continueOPath {
		return continueOPath, canon, 0
	}
	if errno != 0 {
		return -1, canon, errno
	}
	return fd, canon, 0
}

// missing is the errno of an open of a path that does not exist: ENOENT
// when the name would be allowed, the policy's errno when not.
func (p *OpenPolicy) missing(c *handler.Ctx, dirfd int32, path string, under uint64) unix.Errno {
	if p.r.allow.empty() {
		return unix.ENOENT
	}
	parent, parentPath, name, errno := p.lookupParent(c, dirfd, path, under)
	if errno != 0 {
		return errno
	}
	unix.Close(parent)
	if !p.r.allowed(entryPath(parentPath, name)) {
		return p.errno
	}
	return unix.ENOENT
}

// create makes a new file: the parent directory is resolved and checked,
// then the file is created in it, as the process, without following a
// symlink that may have appeared meanwhile.
func (p *OpenPolicy) create(c *handler.Ctx, req openRequest, path string) (int, string, unix.Errno) {
	parent, parentPath, name, errno := p.lookupParent(c, req.dirfd, path, req.resolve)
	if errno != 0 {
		return -1, "", errno
	}
	defer unix.Close(parent)
	if strings.HasSuffix(name, "/") || name == "." || name == ".." {
		return -1, "", unix.EISDIR
	}
	target := entryPath(parentPath, name)
	if !p.r.allowed(target) || p.strangerProc(c, parent, parentPath) {
		return -1, target, p.errno
	}
	flags := req.flags | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd := -1
	errno = creating(c, func() error {
		f, err := unix.Openat2(parent, name, &unix.OpenHow{Flags: flags, Mode: req.mode & 0o7777, Resolve: req.resolve | unix.RESOLVE_NO_MAGICLINKS})
		fd = f
		return err
	})
	if errno != 0 {
		return -1, target, errno
	}
	return fd, target, 0
}

// baseDirFD opens the directory a relative path is resolved against: the
// process's dirfd or working directory. For an absolute path it returns -1.
func baseDirFD(c *handler.Ctx, root *Root, dirfd int32, path string) (int, string, unix.Errno) {
	if filepath.IsAbs(path) {
		return -1, "/", 0
	}
	proc := "/proc/" + strconv.Itoa(c.Pid())
	link := proc + "/cwd"
	if dirfd != unix.AT_FDCWD {
		if dirfd < 0 {
			return -1, "", unix.EBADF
		}
		link = proc + "/fd/" + strconv.Itoa(int(dirfd))
	}
	fd, err := unix.Open(link, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return -1, "", unix.EBADF
		}
		return -1, "", errnoOf(err, unix.EBADF)
	}
	dir, errno := root.path(fd)
	if errno != 0 {
		unix.Close(fd)
		return -1, "", errno
	}
	return fd, dir, 0
}

// selfPath rewrites a path that names the opener through /proc (self,
// thread-self, and the links into self: net, mounts) to name task tid
// instead of the supervisor that performs the open. A relative path is
// taken relative to base (the absolute path of its directory) and
// rewritten to an absolute one when it needs rewriting; others come back
// as they are.
func selfPath(tid int, path, base string) (string, unix.Errno) {
	return (*Root)(nil).selfPath(tid, path, base)
}

// selfPath is selfPath in the root: the ids are those of root's procfs
// (Root.self).
func (r *Root) selfPath(tid int, path, base string) (string, unix.Errno) {
	abs := path
	if !filepath.IsAbs(path) {
		abs = filepath.Join(base, path)
	}
	if abs != "/proc" && !strings.HasPrefix(abs, "/proc/") {
		return path, 0
	}
	tgid, task, err := r.self(tid)
	if err != nil {
		return "", unix.ESRCH
	}
	out := procSelf(abs, tgid, task)
	if out == filepath.Clean(abs) {
		return path, 0
	}
	return out, 0
}

// procSelf points /proc/self and /proc/thread-self at thread tid of
// process tgid, as the kernel does for the opener: /proc/TGID and
// /proc/TGID/task/TID; and /proc/net and /proc/mounts, links into
// /proc/self, at /proc/TGID/net and /proc/TGID/mounts. The path is
// cleaned first (nothing under /proc that is not a magic link, which the
// policy refuses, makes that differ from the kernel's resolution); a
// trailing slash is kept.
func procSelf(path string, tgid, tid int) string {
	clean := filepath.Clean(path)
	if !strings.HasPrefix(clean, "/proc/") {
		return path
	}
	first, rest, _ := strings.Cut(clean[len("/proc/"):], "/")
	var to string
	switch first {
	case "self":
		to = strconv.Itoa(tgid)
	case "thread-self":
		to = strconv.Itoa(tgid) + "/task/" + strconv.Itoa(tid)
	case "net", "mounts":
		to = strconv.Itoa(tgid) + "/" + first
	default:
		return path
	}
	out := "/proc/" + to
	if rest != "" {
		out += "/" + rest
	}
	if strings.HasSuffix(path, "/") {
		out += "/"
	}
	return out
}

// strangerProc reports whether the object open at fd, whose canonical
// path is canon, belongs to the /proc directory of a process outside the
// run (or of the supervisor, always outside): /proc/PID/... or
// /proc/PID/task/TID/... on any procfs mount. It fails closed: a procfs
// object whose position in procfs cannot be told is a stranger's.
func (p *OpenPolicy) strangerProc(c *handler.Ctx, fd int, canon string) bool {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return true
	}
	if fs.Type != unix.PROC_SUPER_MAGIC {
		return false
	}
	pid, ok := p.root.procPid(canon)
	switch {
	case !ok:
		return true
	case pid == 0:
		return false // not a process's: /proc/cpuinfo, /proc/sys/...
	}
	return !p.member(c, pid)
}

// procPid returns the process whose /proc directory holds the procfs
// object at canonical path canon, 0 for an object of no process. ok is
// false when no procfs root (inode 1) is found on the path: a procfs
// subtree mounted elsewhere.
func procPid(canon string) (pid int, ok bool) { return (*Root)(nil).procPid(canon) }

// procPid is procPid for a canonical path in the root.
func (r *Root) procPid(canon string) (pid int, ok bool) {
	root := ""
	for i := 0; i < len(canon); i++ {
		if i > 0 && canon[i] != '/' {
			continue
		}
		prefix := canon[:max(i, 1)]
		if r.procRoot(prefix) {
			root = prefix
		}
	}
	if r.procRoot(canon) {
		return 0, true
	}
	if root == "" {
		return 0, false
	}
	rel := strings.TrimPrefix(canon[len(root):], "/")
	first, _, _ := strings.Cut(rel, "/")
	n, err := strconv.Atoi(first)
	if err != nil || n <= 0 || first[0] == '+' {
		return 0, true
	}
	return n, true
}

// procRootIno is the inode number of procfs's root (PROCFS_ROOT_INO).
const procRootIno = 1

// fdPath returns the path of an open descriptor as the kernel sees it.
func fdPath(fd int) (string, unix.Errno) {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", errnoOf(err, unix.EIO)
	}
	return p, 0
}

func errnoOf(err error, fallback unix.Errno) unix.Errno {
	var errno unix.Errno
	if errors.As(err, &errno) && errno != 0 {
		return errno
	}
	return fallback
}
