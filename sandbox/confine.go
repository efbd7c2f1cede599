package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxConfinedThreads bounds the confined threads of one run.
const maxConfinedThreads = 4

// errConfinerClosed is returned by a confiner after its run ended.
var errConfinerClosed = errors.New("sandbox: the run is over")

// confiner runs functions, for handlers acting on the command's behalf
// (handler.Ctx.AsProcess), on OS threads of the supervisor confined as the
// command is: its file-system identity, its capabilities, no_new_privs, its
// Landlock layers. Each thread has a Landlock domain of its own, not the
// command's, so the command cannot reach it (Landlock lets a domain ptrace
// or signal only its own descendants). The threads are started when
// needed and end with the run; a thread never runs another goroutine, and
// dies with its goroutine.
type confiner struct {
	iso      *isolationConfig
	landlock *landlockConfig
	layer    *policyLayer
	// fsUID and fsGID are the host identity of the command when it
	// differs from the supervisor's (IdentityUserNamespace), else -1.
	fsUID, fsGID int
	threads      int
	// pid is the command's, once started: the threads enter its mount
	// namespace, so that paths mean what they mean to the command (its
	// read-only mounts included).
	pid atomic.Int64

	once sync.Once
	err  error
	// free holds the threads ready for work, the last used on top;
	// avail counts them.
	mu       sync.Mutex
	all      []*confinedThread // every thread started, for shutdown
	closed   bool              // shutdown began: no more threads
	free     []*confinedThread
	avail    chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

func newConfiner(cfg *helperConfig, identity Identity, threads int) *confiner {
	iso := *cfg.Isolation
	iso.supervisorThread = true
	c := &confiner{
		iso: &iso, landlock: cfg.Landlock, layer: cfg.Layer, fsUID: -1, fsGID: -1, threads: max(threads, 1),
		avail: make(chan struct{}, max(threads, 1)), stop: make(chan struct{}),
	}
	if identity == IdentityUserNamespace {
		c.fsUID, c.fsGID = os.Getuid(), os.Getgid()
		if c.fsUID == 0 {
			c.fsUID, c.fsGID = overflowID, overflowID
		}
	}
	return c
}

// Handing work to a confined thread and back parks and wakes both sides
// on futexes, in the kernel, not in the Go scheduler: both are locked to
// their OS threads, and waking a locked goroutine through the scheduler
// takes a second thread hop (an idle thread takes a P, then hands it to the
// locked one). Neither side spins: on a small machine a spinning thread
// holds one of the runtime's few Ps, and the woken thread, leaving its
// futex wait, then finds none free until sysmon takes one back (hundreds of
// microseconds measured on two CPUs, against a 20 µs open).

// confinedThread is one confined OS thread and its hand-over slot. One
// caller at a time owns it (it is taken from confiner.free).
type confinedThread struct {
	job     atomic.Pointer[func()]
	done    atomic.Bool
	parked  atomic.Bool // the thread waits on wake
	waiting atomic.Bool // the caller waits on finished
	// wake and finished are futex words, bumped before each wake-up of
	// the thread (a job, the stop) and of the caller (done, exited).
	wake     atomic.Uint32
	finished atomic.Uint32
	gone     atomic.Bool // the thread has ended
}

// wakeThread wakes t if it is parked.
func (t *confinedThread) wakeThread() {
	t.wake.Add(1)
	futexWake(&t.wake)
}

// wakeCaller wakes t's caller if it waits.
func (t *confinedThread) wakeCaller() {
	t.finished.Add(1)
	futexWake(&t.finished)
}

// do runs fn on a confined thread and waits for it.
func (c *confiner) do(fn func()) error {
	c.once.Do(c.start)
	if c.err != nil {
		return c.err
	}
	select {
	case <-c.stop:
		return errConfinerClosed
	default:
	}
	select {
	case <-c.avail:
	default:
		// Every thread is busy: one more, up to c.threads, and the
		// first to be free.
		c.grow()
		select {
		case <-c.avail:
		case <-c.stop:
			return errConfinerClosed
		}
	}
	t := c.take()
	defer c.put(t)
	t.done.Store(false)
	t.job.Store(&fn)
	if t.parked.Load() {
		t.wakeThread()
	}
	return t.await()
}

// await waits until t has done its job (nil), or has ended without doing
// it (errConfinerClosed).
func (t *confinedThread) await() error {
	defer t.waiting.Store(false)
	for {
		seq := t.finished.Load()
		t.waiting.Store(true)
		if t.done.Load() {
			return nil
		}
		if t.gone.Load() {
			// The run ended; a job taken before the stop was
			// finished first.
			if t.done.Load() {
				return nil
			}
			return errConfinerClosed
		}
		futexWait(&t.finished, seq)
	}
}

// take pops the most recently used free thread; avail was counted down.
func (c *confiner) take() *confinedThread {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	return t
}

// put makes t free again.
func (c *confiner) put(t *confinedThread) {
	c.mu.Lock()
	c.free = append(c.free, t)
	c.mu.Unlock()
	c.avail <- struct{}{}
}

// start starts the first thread. The others are started when every
// running one is busy (grow): confining a thread costs a few system calls
// and a Landlock ruleset, and a program that opens one file at a time needs
// one thread.
func (c *confiner) start() {
	if err := c.startThread(); err != nil {
		c.err = fmt.Errorf("sandbox: confine a supervisor thread as the command: %w", err)
		c.shutdown()
	}
}

// grow starts one more thread unless c.threads run already or the run is
// over. A thread that cannot be confined is not retried: the others serve.
func (c *confiner) grow() {
	_ = c.startThread()
}

// startThread starts a thread and waits until it is confined and free, or
// has failed; nil without a thread when there are enough or the run is over.
func (c *confiner) startThread() error {
	c.mu.Lock()
	if c.closed || len(c.all) >= c.threads {
		c.mu.Unlock()
		return nil
	}
	t := &confinedThread{}
	c.all = append(c.all, t)
	c.wg.Add(1) // under mu: shutdown waits only after closed is set
	c.mu.Unlock()
	ready := make(chan error, 1)
	go c.thread(t, ready)
	return <-ready
}

// thread confines its OS thread and serves work until the run ends. It
// never unlocks the thread: when it returns, the runtime ends the thread
// rather than reuse it with the command's restrictions.
func (c *confiner) thread(t *confinedThread, ready chan<- error) {
	defer c.wg.Done()
	defer func() {
		t.gone.Store(true)
		t.wakeCaller()
	}()
	runtime.LockOSThread()
	if err := c.confineThread(); err != nil {
		ready <- err
		return
	}
	// Free before ready: when startThread returns, the thread is
	// available, and the caller does not start another for nothing.
	c.put(t)
	ready <- nil
	for {
		job := t.next(c.stop)
		if job == nil {
			return
		}
		(*job)()
		t.job.Store(nil)
		t.done.Store(true)
		if t.waiting.Load() {
			t.wakeCaller()
		}
	}
}

// next returns the next job, parking until there is one; nil when the run
// is over.
func (t *confinedThread) next(stop <-chan struct{}) *func() {
	for {
		seq := t.wake.Load()
		t.parked.Store(true)
		if job := t.job.Load(); job != nil {
			t.parked.Store(false)
			return job
		}
		select {
		case <-stop:
			t.parked.Store(false)
			if job := t.job.Load(); job != nil {
				return job // taken before the stop: finish it
			}
			return nil
		default:
		}
		futexWait(&t.wake, seq)
		t.parked.Store(false)
	}
}

// confineThread gives the calling locked thread the command's
// restrictions, in the helper's order.
func (c *confiner) confineThread() error {
	// A file-system context of its own: handlers set the command's
	// umask (and may change directory) for a call without touching the
	// supervisor's.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare CLONE_FS: %w", err)
	}
	if pid := c.pid.Load(); pid > 0 {
		if err := enterMountNamespace(int(pid)); err != nil {
			return fmt.Errorf("mount namespace: %w", err)
		}
	}
	if c.fsUID >= 0 {
		// Per-thread syscalls: Go's wrappers would change every thread.
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
			return fmt.Errorf("setgroups: %w", e)
		}
		_, _, _ = unix.RawSyscall(unix.SYS_SETFSGID, uintptr(c.fsGID), 0, 0)
		_, _, _ = unix.RawSyscall(unix.SYS_SETFSUID, uintptr(c.fsUID), 0, 0)
		if got, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, ^uintptr(0), 0, 0); int(got) != c.fsUID {
			return fmt.Errorf("setfsuid %d: still %d", c.fsUID, got)
		}
	}
	if err := c.iso.confine(c.landlock); err != nil {
		return err
	}
	return c.layer.restrictThread()
}

// target names the command, before the first do.
func (c *confiner) target(pid int) { c.pid.Store(int64(pid)) }

// enterMountNamespace moves the calling (locked) thread into the mount
// namespace of process pid when it differs from the thread's: the thread
// gets a file-system context of its own first (unshare(CLONE_FS)), and
// its root and working directory become that namespace's root. It needs
// CAP_SYS_ADMIN, which the supervisor has whenever the helper could make
// the namespace.
func enterMountNamespace(pid int) error {
	var self, theirs unix.Stat_t
	ns := "/proc/" + strconv.Itoa(pid) + "/ns/mnt"
	if err := unix.Stat(ns, &theirs); err != nil {
		return fmt.Errorf("stat %s: %w", ns, err)
	}
	if err := unix.Stat("/proc/thread-self/ns/mnt", &self); err != nil {
		return fmt.Errorf("stat own mount namespace: %w", err)
	}
	if self.Ino == theirs.Ino && self.Dev == theirs.Dev {
		return nil
	}
	fd, err := unix.Open(ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", ns, err)
	}
	defer unix.Close(fd)
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare CLONE_FS: %w", err)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("setns: %w", err)
	}
	return nil
}

// close ends the threads; later calls of do fail.
func (c *confiner) close() {
	c.once.Do(func() { c.err = errConfinerClosed }) // never start after close
	c.shutdown()
}

func (c *confiner) shutdown() {
	c.stopOnce.Do(func() { close(c.stop) })
	c.mu.Lock()
	c.closed = true
	all := c.all
	c.mu.Unlock()
	for _, t := range all {
		t.wakeThread() // it sees the stop
	}
	c.wg.Wait()
}
