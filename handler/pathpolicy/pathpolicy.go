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
	"github.com/sandlock-go/sandlock-go/handler/runset"
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

func compile(r Rules) (rules, error) {
	allow, err := newMatcher(r.Allow)
	if err != nil {
		return rules{}, fmt.Errorf("allow: %w", err)
	}
	deny, err := newMatcher(r.Deny)
	if err != nil {
		return rules{}, fmt.Errorf("deny: %w", err)
	}
	files := map[fileID]string{}
	for _, p := range deny.prefixes {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
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
	r     rules
	errno unix.Errno
	inRun func(pid int) bool
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
	return &OpenPolicy{r: compiled, errno: unix.EACCES}, nil
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

// Syscalls returns the names the policy must be registered on that exist on
// arch (nil means native).
func (p *OpenPolicy) Syscalls(arch *syscalls.Arch) []string {
	return existing(arch, "open", "openat", "openat2", "creat")
}

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
		if a[3] < sizeofOpenHow {
			return openRequest{}, unix.EINVAL
		}
		how, err := c.Read(a[2], sizeofOpenHow)
		if err != nil {
			return openRequest{}, unix.EFAULT
		}
		return openRequest{
			dirfd:   int32(a[0]),
			pathArg: 1,
			flags:   binary.LittleEndian.Uint64(how[0:]),
			mode:    binary.LittleEndian.Uint64(how[8:]),
			resolve: binary.LittleEndian.Uint64(how[16:]),
		}, 0
	}
	return openRequest{}, unix.ENOSYS
}

// Handle opens the file on the process's behalf, or denies it.
func (p *OpenPolicy) Handle(c *handler.Ctx) handler.Action {
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
	if p.OnDecision != nil {
		denied := fd < 0 && errno == p.errno && canon != ""
		p.OnDecision(Decision{Syscall: c.SyscallName(), Pid: c.Pid(), Path: canon, Allowed: !denied, Errno: errno})
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

// open performs the process's open. It returns the descriptor, the
// canonical path it decided on, and an errno when there is no descriptor.
func (p *OpenPolicy) open(c *handler.Ctx, req openRequest, path string) (int, string, unix.Errno) {
	if path == "" {
		return -1, "", unix.ENOENT
	}
	if filepath.IsAbs(path) {
		var errno unix.Errno
		if path, errno = selfPath(c.Pid(), path, "/"); errno != 0 {
			return -1, "", errno
		}
	}
	base, baseDir, errno := baseDirFD(c, req.dirfd, path)
	if errno != 0 {
		return -1, "", errno
	}
	if base >= 0 && (baseDir == "/proc" || strings.HasPrefix(baseDir, "/proc/")) {
		// "self/status" relative to /proc means the process's too.
		if abs, errno := selfPath(c.Pid(), path, baseDir); errno != 0 || abs != path {
			unix.Close(base)
			if errno != 0 {
				return -1, "", errno
			}
			path, base, baseDir = abs, -1, "/"
		}
	}
	if base >= 0 {
		defer unix.Close(base)
	}
	if err := c.Valid(); err != nil {
		return -1, "", unix.ESRCH
	}
	lexical := filepath.Join(baseDir, path)
	if filepath.IsAbs(path) {
		lexical = filepath.Clean(path)
	}
	if !p.r.allowed(lexical) {
		return -1, lexical, p.errno
	}
	dirfd := base
	if dirfd < 0 {
		dirfd = unix.AT_FDCWD
	}
	// The open itself is the process's: its identity, capabilities and
	// Landlock rules decide too, so that the supervisor's privileges
	// never reach what the process could not open itself.
	var fd int
	var canon string
	errno = unix.EACCES
	if err := c.AsProcess(func() { fd, canon, errno = p.openFrom(c, dirfd, path, lexical, req) }); err != nil {
		return -1, lexical, unix.EACCES
	}
	return fd, canon, errno
}

// openFrom resolves path against dirfd, checks the object and opens it.
func (p *OpenPolicy) openFrom(c *handler.Ctx, dirfd int, path, lexical string, req openRequest) (int, string, unix.Errno) {
	resolve := req.resolve | unix.RESOLVE_NO_MAGICLINKS

	// Resolve the existing object without side effects.
	pathFlags := uint64(unix.O_PATH | unix.O_CLOEXEC)
	pathFlags |= req.flags & (unix.O_NOFOLLOW | unix.O_DIRECTORY)
	if req.flags&unix.O_TMPFILE == unix.O_TMPFILE {
		pathFlags |= unix.O_DIRECTORY
	}
	obj, err := unix.Openat2(dirfd, path, &unix.OpenHow{Flags: pathFlags, Resolve: resolve})
	switch {
	case err == nil:
		defer unix.Close(obj)
		canon, errno := fdPath(obj)
		if errno != 0 {
			return -1, lexical, errno
		}
		if !p.r.allowed(canon) || p.r.deniedObject(obj) || p.strangerProc(c, obj, canon) {
			return -1, canon, p.errno
		}
		if req.flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
			return -1, canon, unix.EEXIST
		}
		// Reopen the very object that was checked.
		flags := int(req.flags&^(unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NOCTTY)) | unix.O_CLOEXEC
		fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(obj), flags, uint32(req.mode))
		if err != nil {
			return -1, canon, errnoOf(err, unix.EACCES)
		}
		return fd, canon, 0
	case errors.Is(err, unix.ENOENT) && req.flags&unix.O_CREAT != 0:
		return p.create(c, dirfd, path, req, resolve)
	default:
		return -1, lexical, errnoOf(err, unix.EACCES)
	}
}

// create makes a new file: the parent directory is resolved and checked,
// then the file is created in it without following a symlink that may have
// appeared meanwhile.
func (p *OpenPolicy) create(c *handler.Ctx, dirfd int, path string, req openRequest, resolve uint64) (int, string, unix.Errno) {
	dir, name := filepath.Split(path)
	if name == "" || name == "." || name == ".." {
		return -1, path, unix.EISDIR
	}
	if dir == "" {
		dir = "."
	}
	parent, err := unix.Openat2(dirfd, dir, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: resolve})
	if err != nil {
		return -1, path, errnoOf(err, unix.ENOENT)
	}
	defer unix.Close(parent)
	parentPath, errno := fdPath(parent)
	if errno != 0 {
		return -1, path, errno
	}
	target := filepath.Join(parentPath, name)
	if !p.r.allowed(target) || p.strangerProc(c, parent, parentPath) {
		return -1, target, p.errno
	}
	flags := req.flags | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat2(parent, name, &unix.OpenHow{Flags: flags, Mode: req.mode & 0o7777, Resolve: resolve})
	if err != nil {
		return -1, target, errnoOf(err, unix.EACCES)
	}
	return fd, target, 0
}

// baseDirFD opens the directory a relative path is resolved against: the
// process's dirfd or working directory. For an absolute path it returns -1.
func baseDirFD(c *handler.Ctx, dirfd int32, path string) (int, string, unix.Errno) {
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
	dir, errno := fdPath(fd)
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
	abs := path
	if !filepath.IsAbs(path) {
		abs = filepath.Join(base, path)
	}
	if abs != "/proc" && !strings.HasPrefix(abs, "/proc/") {
		return path, 0
	}
	tgid, err := procfs.Tgid(tid)
	if err != nil {
		return "", unix.ESRCH
	}
	out := procSelf(abs, tgid, tid)
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
	pid, ok := procPid(canon)
	switch {
	case !ok:
		return true
	case pid == 0:
		return false // not a process's: /proc/cpuinfo, /proc/sys/...
	case runset.Supervisor(pid):
		return true
	}
	inRun := p.inRun
	if inRun == nil {
		inRun = runset.Of(c.Pid())
	}
	return !inRun(pid)
}

// procPid returns the process whose /proc directory holds the procfs
// object at canonical path canon, 0 for an object of no process. ok is
// false when no procfs root (inode 1) is found on the path: a procfs
// subtree mounted elsewhere.
func procPid(canon string) (pid int, ok bool) {
	root := ""
	for i := 0; i < len(canon); i++ {
		if i > 0 && canon[i] != '/' {
			continue
		}
		prefix := canon[:max(i, 1)]
		if procRoot(prefix) {
			root = prefix
		}
	}
	if procRoot(canon) {
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

// procRoot reports whether path is the root of a procfs mount.
func procRoot(path string) bool {
	var fs unix.Statfs_t
	var st unix.Stat_t
	return unix.Statfs(path, &fs) == nil && fs.Type == unix.PROC_SUPER_MAGIC &&
		unix.Stat(path, &st) == nil && st.Ino == procRootIno
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
