package unixguard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/internal/sockaddr"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// The answers to a destination the run may not reach: what the kernel's
// own layers answer (Landlock's LANDLOCK_ACCESS_FS_RESOLVE_UNIX, and write
// permission on the socket file, for a path; Landlock's abstract unix
// socket scope for an abstract name), so that a program sees the same
// error whichever layer refused.
const (
	PathErrno     = unix.EACCES
	AbstractErrno = unix.EPERM
)

// Options configure a Guard.
type Options struct {
	// Allow lists the sockets the run may reach although no process of
	// the run holds them. An entry is an absolute path, a socket file or
	// a directory (every socket beneath it), resolved through symlinks
	// when New runs; or "@NAME", an abstract socket by its exact name.
	Allow []string
	// InRun reports whether a task (pid as the supervisor's pid namespace
	// numbers it) belongs to the run: a socket held by one is reachable.
	// Nil means runset.Of the trapped task; sandbox should pass
	// runset.ProcessGroup of the command's process group. The supervisor
	// never counts, whatever InRun says.
	InRun func(pid int) bool
	// OnDecision, when set, is called for every unix destination decided.
	// It must be safe for concurrent use.
	OnDecision func(Decision)
}

// Decision is one unix destination the Guard decided.
type Decision struct {
	Syscall string
	Pid     int
	// Address is the path as the task passed it, or "@name".
	Address string
	// Path is the canonical path of the socket file; empty for an
	// abstract name or a path that did not resolve.
	Path string
	// Reason is "allowed" (an Allow entry), "run" (a process of the run
	// holds the socket), or why the call was refused: "outside" (neither),
	// "not a socket", "unresolved" (the path did not resolve, Errno says
	// how), "invalid".
	Reason  string
	Allowed bool
	// Errno is the error the task got, 0 when the call went on.
	Errno unix.Errno
}

// Guard is the handler. Register it on every name of Syscalls.
type Guard struct {
	paths      []string // canonical allowed paths
	names      map[string]bool
	inRun      func(int) bool
	onDecision func(Decision)
	// sockets lists the bound sockets; a field so that tests can see a
	// failing sock_diag.
	sockets func() ([]boundSocket, error)
}

// New checks and resolves o.Allow.
func New(o Options) (*Guard, error) {
	g := &Guard{names: map[string]bool{}, inRun: o.InRun, onDecision: o.OnDecision, sockets: dumpSockets}
	for _, a := range o.Allow {
		if name, ok := strings.CutPrefix(a, "@"); ok {
			if name == "" {
				return nil, fmt.Errorf("allow unix %q: empty abstract name", a)
			}
			g.names[name] = true
			continue
		}
		if !filepath.IsAbs(a) {
			return nil, fmt.Errorf("allow unix %q: want an absolute path or @NAME", a)
		}
		p, err := resolveRule(filepath.Clean(a))
		if err != nil {
			return nil, fmt.Errorf("allow unix %q: %w", a, err)
		}
		g.paths = append(g.paths, p)
	}
	return g, nil
}

// resolveRule resolves the symlinks of an absolute clean path; for a path
// that does not exist yet, those of its longest existing parent.
func resolveRule(p string) (string, error) {
	r, err := filepath.EvalSymlinks(p)
	switch {
	case err == nil:
		return r, nil
	case !errors.Is(err, os.ErrNotExist) || p == "/":
		return "", err
	}
	parent, err := resolveRule(filepath.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(parent, filepath.Base(p)), nil
}

// Syscalls returns the names to register the Guard on that exist on arch
// (nil: native). socketcall is not one: no supported arch has it.
func (g *Guard) Syscalls(arch *syscalls.Arch) []string {
	if arch == nil {
		arch = syscalls.Native()
	}
	var out []string
	for _, n := range []string{"connect", "sendto", "sendmsg", "sendmmsg"} {
		if _, err := arch.Number(n); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// NonZeroArg returns the argument that must be non-zero for a call of the
// named syscall to need the Guard: 4 (dest_addr) for sendto, whose calls
// without an address go nowhere new. ok is false when every call needs
// it. A filter can then trap only those calls, which are rare (most sends
// are on connected sockets): with package seccomp,
//
//	seccomp.Rule{Syscall: nr, Action: seccomp.Notify, Conds: []seccomp.Cond{seccomp.ArgNe(4, 0)}}
//
// The pointer is a full 64-bit register, so the comparison is exact.
func NonZeroArg(name string) (arg int, ok bool) {
	if name == "sendto" {
		return 4, true
	}
	return 0, false
}

// Handle lets the call go on (Continue) when none of its destinations is a
// unix socket outside the run, and refuses it otherwise. It never connects
// or sends itself.
func (g *Guard) Handle(c *handler.Ctx) handler.Action {
	dests, errno := sockaddr.Destinations(c)
	if errno != 0 {
		return handler.Errno(errno)
	}
	var inRun func(int) bool
	for _, raw := range dests {
		kind, name := sockaddr.Unix(raw)
		if kind == sockaddr.NotUnix || kind == sockaddr.Unnamed {
			continue // another family, or autobind: nothing to reach
		}
		if inRun == nil {
			inRun = g.inRun
			if inRun == nil {
				inRun = c.InRun
			}
		}
		d := g.decide(c.Pid(), raw, kind, name, inRun)
		if err := c.Valid(); err != nil {
			return handler.Errno(unix.ESRCH)
		}
		if g.onDecision != nil {
			d.Syscall, d.Pid = c.SyscallName(), c.Pid()
			g.onDecision(d)
		}
		if !d.Allowed {
			return handler.Errno(d.Errno)
		}
	}
	return handler.Continue()
}

// decide decides one AF_UNIX destination of task tid.
func (g *Guard) decide(tid int, raw []byte, kind sockaddr.UnixKind, name string, inRun func(int) bool) Decision {
	d := Decision{Address: sockaddr.String(raw)}
	deny := func(reason string, errno unix.Errno) Decision {
		d.Reason, d.Errno = reason, errno
		return d
	}
	allow := func(reason string) Decision {
		d.Reason, d.Allowed = reason, true
		return d
	}
	if len(raw) > sockaddr.SizeofUnix {
		return deny("invalid", unix.EINVAL) // as the kernel answers
	}
	if kind == sockaddr.Abstract {
		switch {
		case g.names[name]:
			return allow("allowed")
		case g.abstractHeld(tid, name, inRun):
			return allow("run")
		}
		return deny("outside", AbstractErrno)
	}
	obj, errno := resolve(tid, name)
	if errno != 0 {
		return deny("unresolved", errno)
	}
	defer unix.Close(obj)
	canon, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(obj))
	if err != nil {
		return deny("unresolved", unix.EACCES)
	}
	d.Path = canon
	var st unix.Stat_t
	if err := unix.Fstat(obj, &st); err != nil {
		return deny("unresolved", unix.EACCES)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return deny("not a socket", unix.ECONNREFUSED) // as the kernel answers
	}
	switch {
	case g.pathAllowed(canon):
		return allow("allowed")
	case g.pathHeld(st, inRun):
		return allow("run")
	}
	return deny("outside", PathErrno)
}

// pathAllowed reports whether the canonical path canon is, or is beneath,
// an allowed path.
func (g *Guard) pathAllowed(canon string) bool {
	for _, p := range g.paths {
		if canon == p || p == "/" || strings.HasPrefix(canon, p+"/") {
			return true
		}
	}
	return false
}

// pathHeld reports whether a process of the run holds the socket bound to
// the file st.
func (g *Guard) pathHeld(st unix.Stat_t, inRun func(int) bool) bool {
	socks, err := g.sockets()
	if err != nil {
		return false
	}
	dev, ino := kernelDev(st.Dev), uint32(st.Ino)
	inos := map[uint32]bool{}
	for _, s := range socks {
		if s.hasVFS && s.vfsDev == dev && s.vfsIno == ino && s.receives() {
			inos[s.ino] = true
		}
	}
	return heldByRun(inos, inRun)
}

// abstractHeld reports whether a process of the run holds the socket bound
// to abstract name in the network namespace of task tid. Only the
// supervisor's network namespace can be listed: a task in another one
// gets false.
func (g *Guard) abstractHeld(tid int, name string, inRun func(int) bool) bool {
	if !sameNetns(tid) {
		return false
	}
	socks, err := g.sockets()
	if err != nil {
		return false
	}
	want := "\x00" + name
	inos := map[uint32]bool{}
	for _, s := range socks {
		if s.name == want && s.receives() {
			inos[s.ino] = true
		}
	}
	return heldByRun(inos, inRun)
}

// sameNetns reports whether task tid is in the supervisor's network
// namespace.
func sameNetns(tid int) bool {
	var mine, its unix.Stat_t
	if unix.Stat("/proc/thread-self/ns/net", &mine) != nil ||
		unix.Stat("/proc/"+strconv.Itoa(tid)+"/ns/net", &its) != nil {
		return false
	}
	return mine.Dev == its.Dev && mine.Ino == its.Ino
}

// resolve opens (O_PATH) the file a path-named unix address of task tid
// names, as the kernel would resolve it for the task: relative to its
// working directory, within its root. Magic links (/proc/PID/fd/N,
// /proc/PID/root) are refused (ELOOP): the supervisor's /proc is not the
// task's.
func resolve(tid int, path string) (int, unix.Errno) {
	proc := "/proc/" + strconv.Itoa(tid)
	root, err := unix.Open(proc+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, unix.ESRCH
	}
	defer unix.Close(root)
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	at := root
	if !filepath.IsAbs(path) {
		rootPath, err1 := os.Readlink(proc + "/root")
		cwdPath, err2 := os.Readlink(proc + "/cwd")
		if err1 != nil || err2 != nil {
			return -1, unix.ESRCH
		}
		if rel, ok := strings.CutPrefix(cwdPath, rootPath); rootPath != "/" && ok && (rel == "" || rel[0] == '/') {
			// A chrooted task: resolve from its root, so that absolute
			// symlinks stay inside it.
			path = rel + "/" + path
		} else {
			// The usual case (root "/"), or a working directory outside
			// the root: from the working directory itself.
			cwd, err := unix.Open(proc+"/cwd", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return -1, unix.ESRCH
			}
			defer unix.Close(cwd)
			at = cwd
			how.Resolve = unix.RESOLVE_NO_MAGICLINKS
		}
	}
	for range 16 {
		var fd int
		if fd, err = unix.Openat2(at, path, how); err == nil {
			return fd, 0
		}
		if err != unix.EINTR && err != unix.EAGAIN {
			break // EAGAIN: a rename raced the lookup; try again
		}
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return -1, errno
	}
	return -1, unix.EACCES
}
