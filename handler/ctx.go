package handler

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"weak"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler/runset"
	"github.com/sandlock-go/sandlock-go/mem"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
	"github.com/sandlock-go/sandlock-go/syscalls/args"
)

// ErrExpired is returned by the memory accessors of a Ctx used after its
// handler returned: the notification may be answered and the task may be
// running other code, so its memory is no longer the syscall's.
var ErrExpired = errors.New("handler context used after its handler returned")

// PathMax bounds path arguments read by ReadPath (PATH_MAX).
const PathMax = 4096

// Ctx is one trapped syscall as a handler sees it: a read-only snapshot of
// the notification and accessors for the trapped task's memory. It is valid
// only while its handler runs.
type Ctx struct {
	n        notif.Notif
	arch     *syscalls.Arch
	notifier notif.Notifier
	srv      *server

	live     atomic.Bool
	answered atomic.Bool
	// resp is the answer's buffer: the Ctx is answered once, and sending
	// from it does not allocate.
	resp notif.Resp
	// policy is the exception policy of the handler running now, for an
	// answer at shutdown.
	policy atomic.Int32

	mu sync.Mutex
	// responder is weak so that a Responder the handler dropped can be
	// collected and its cleanup can answer the notification.
	responder weak.Pointer[Responder]
	// after holds what AfterAnswer deferred until the answer.
	after []func()
}

// newCtx snapshots n; the Ctx is live until expire.
func newCtx(n *notif.Notif, notifier notif.Notifier, arch *syscalls.Arch, srv *server) *Ctx {
	c := &Ctx{n: *n, arch: arch, notifier: notifier, srv: srv}
	c.live.Store(true)
	return c
}

// NewTestCtx returns a live Ctx for n answered through notifier, for unit
// tests of handlers outside a dispatch loop.
func NewTestCtx(n notif.Notif, notifier notif.Notifier) *Ctx {
	arch, _ := syscalls.ArchByAudit(n.Data.Arch)
	if arch == nil {
		arch = syscalls.Native()
	}
	return newCtx(&n, notifier, arch, nil)
}

func (c *Ctx) expire() { c.live.Store(false) }

// AfterAnswer defers fn until the notification has been answered, or held
// (a handler returned Hold), on the same worker: work that need not keep
// the task waiting, such as formatting and writing a record whose fields
// were read from the task's memory while c was live (audit.Recorder does).
// fn must not read the task's memory: c has expired when it runs. Call it
// from a handler or from Options.Observe; on a Ctx outside a dispatch loop
// (NewTestCtx), or after the answer, fn runs at once. A panic in fn is
// reported to Options.OnError.
func (c *Ctx) AfterAnswer(fn func()) {
	c.mu.Lock()
	if c.srv != nil && c.live.Load() {
		c.after = append(c.after, fn)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	fn()
}

// takeAfter returns what AfterAnswer deferred; c has expired, so later
// calls run at once.
func (c *Ctx) takeAfter() []func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	fns := c.after
	c.after = nil
	return fns
}

// ID returns the notification ID.
func (c *Ctx) ID() uint64 { return c.n.ID }

// Pid returns the trapped thread's ID (as the supervisor's pid namespace
// sees it).
func (c *Ctx) Pid() int { return int(c.n.Pid) }

// Syscall returns the syscall number.
func (c *Ctx) Syscall() int { return int(c.n.Data.Nr) }

// SyscallName returns the syscall's name, or "syscall_N" when unknown.
func (c *Ctx) SyscallName() string {
	if name, ok := c.arch.Name(int(c.n.Data.Nr)); ok {
		return name
	}
	return "syscall_" + strconv.Itoa(int(c.n.Data.Nr))
}

// Arch returns the syscall's architecture.
func (c *Ctx) Arch() *syscalls.Arch { return c.arch }

// InstructionPointer returns the address of the syscall instruction.
func (c *Ctx) InstructionPointer() uint64 { return c.n.Data.InstructionPointer }

// Arg returns raw argument i (0..5); 0 for an index out of range.
func (c *Ctx) Arg(i int) uint64 {
	if i < 0 || i >= len(c.n.Data.Args) {
		return 0
	}
	return c.n.Data.Args[i]
}

// Args returns a copy of the six raw arguments.
func (c *Ctx) Args() [6]uint64 { return c.n.Data.Args }

// Notif returns a copy of the raw notification.
func (c *Ctx) Notif() notif.Notif { return c.n }

// Valid returns nil while the notification is pending, ErrExpired after the
// handler returned, or an error matching notif.ErrNotificationGone when the
// task died or its syscall was interrupted.
func (c *Ctx) Valid() error {
	if !c.live.Load() {
		return ErrExpired
	}
	return c.notifier.IDValid(c.n.ID)
}

func (c *Ctx) process() (mem.Process, error) {
	if !c.live.Load() {
		return mem.Process{}, ErrExpired
	}
	return mem.Process{Pid: int(c.n.Pid), ID: c.n.ID, Valid: c.notifier}, nil
}

// Read copies n bytes at addr from the trapped task. The bytes are returned
// only if the notification is still pending after the read.
func (c *Ctx) Read(addr uint64, n int) ([]byte, error) {
	p, err := c.process()
	if err != nil {
		return nil, err
	}
	b, err := p.Read(addr, n)
	if err == nil && !c.live.Load() {
		return nil, ErrExpired
	}
	return b, err
}

// ReadCString reads a NUL-terminated string of at most max bytes at addr.
// It fails with mem.ErrTooLong when there is no NUL within max bytes and
// mem.ErrFault for a bad pointer.
func (c *Ctx) ReadCString(addr uint64, max int) (string, error) {
	p, err := c.process()
	if err != nil {
		return "", err
	}
	s, err := p.ReadCString(addr, max)
	if err == nil && !c.live.Load() {
		return "", ErrExpired
	}
	return s, err
}

// Write copies data to addr in the trapped task.
func (c *Ctx) Write(addr uint64, data []byte) error {
	p, err := c.process()
	if err != nil {
		return err
	}
	return p.Write(addr, data)
}

// ReadPath reads the path in argument argIndex and makes it absolute: a
// relative path is joined to the directory of its dirfd argument (openat,
// linkat's second path, fanotify_mark, ...: the syscall-argument model of
// package syscalls/args says which) or to the task's working directory,
// both read through /proc/PID. The result is cleaned lexically; it names
// what the task asked for, not what the kernel will open (symlinks are not
// resolved and the task may change the memory after the read): use it to
// log and to decide only when the supervisor itself performs the operation.
func (c *Ctx) ReadPath(argIndex int) (string, error) {
	if argIndex < 0 || argIndex >= len(c.n.Data.Args) {
		return "", fmt.Errorf("read path: argument index %d out of range", argIndex)
	}
	path, err := c.ReadCString(c.n.Data.Args[argIndex], PathMax)
	if err != nil {
		return "", fmt.Errorf("read path argument %d: %w", argIndex, err)
	}
	if filepath.IsAbs(path) {
		return filepath.Clean(path), nil
	}
	base, err := c.baseDir(argIndex)
	if err != nil {
		return "", fmt.Errorf("read path argument %d %q: %w", argIndex, path, err)
	}
	if err := c.Valid(); err != nil {
		return "", err
	}
	return filepath.Join(base, path), nil
}

// baseDir returns the directory a relative path in argument argIndex is
// resolved against: the dirfd the syscall-argument model pairs with it,
// or the working directory.
func (c *Ctx) baseDir(argIndex int) (string, error) {
	proc := "/proc/" + strconv.Itoa(int(c.n.Pid))
	if i, ok := c.dirfdOf(argIndex); ok {
		dirfd := int32(c.n.Data.Args[i])
		if dirfd != unix.AT_FDCWD {
			if dirfd < 0 {
				return "", fmt.Errorf("dirfd %d: %w", dirfd, unix.EBADF)
			}
			return os.Readlink(proc + "/fd/" + strconv.Itoa(int(dirfd)))
		}
	}
	return os.Readlink(proc + "/cwd")
}

// dirfdOf returns the argument holding the dirfd the path in argument
// argIndex is relative to (see package syscalls/args).
func (c *Ctx) dirfdOf(argIndex int) (int, bool) {
	name, ok := c.arch.Name(int(c.n.Data.Nr))
	if !ok {
		return -1, false
	}
	l, ok := args.Of(c.arch, name)
	if !ok {
		return -1, false
	}
	return l.DirfdOf(argIndex)
}

// Responder returns the Responder of this notification, creating it on the
// first call. Return Hold from the handler and answer later, from any
// goroutine, with Responder.Respond. It returns nil outside a dispatch loop
// or after the handler returned.
func (c *Ctx) Responder() *Responder {
	if !c.live.Load() || c.srv == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.responder.Value()
	if r == nil {
		r = c.srv.newResponder(c)
		c.responder = weak.Make(r)
	}
	return r
}

func (c *Ctx) heldResponder() *Responder {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.responder.Value()
}

// AsProcess runs fn confined as the supervised process is: with its
// credentials, no capability it lacks, and its Landlock rules, so that what
// fn opens or creates on the process's behalf is checked by the kernel as
// the process's own open would be, and cannot reach what the process could
// not. fn runs on another OS thread: it must not rely on thread state of
// the caller. An error means fn did not run; fail closed on it. Under a
// dispatch loop without Options.AsTask or Options.AsProcess (a bare Serve,
// or a test Ctx), fn runs on the calling thread with the supervisor's
// privileges.
func (c *Ctx) AsProcess(fn func()) error {
	if c.srv != nil && c.srv.opts.AsTask != nil {
		return c.srv.opts.AsTask(c.Pid(), fn)
	}
	if c.srv != nil && c.srv.opts.AsProcess != nil {
		return c.srv.opts.AsProcess(fn)
	}
	fn()
	return nil
}

// InRun reports whether task pid belongs to the run under supervision: the
// dispatch loop's Options.InRun (the sandbox's: the command's session), or
// else runset.Of the trapped task (its thread group and, unless it is the
// supervisor's, its process group). The supervisor never belongs.
func (c *Ctx) InRun(pid int) bool {
	if runset.Supervisor(pid) {
		return false
	}
	if c.srv != nil && c.srv.opts.InRun != nil {
		return c.srv.opts.InRun(pid)
	}
	return runset.Of(c.Pid())(pid)
}
