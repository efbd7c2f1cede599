package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

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
// or signal only its own descendants). The threads are started on first
// use and end with the run; a thread never runs another goroutine, and
// dies with its goroutine.
type confiner struct {
	iso      *isolationConfig
	landlock *landlockConfig
	layer    *policyLayer
	// fsUID and fsGID are the host identity of the command when it
	// differs from the supervisor's (IdentityUserNamespace), else -1.
	fsUID, fsGID int
	threads      int

	once sync.Once
	err  error
	// free holds the threads ready for work, the last used on top (it
	// is the one still spinning); avail counts them.
	mu       sync.Mutex
	free     []*confinedThread
	avail    chan struct{}
	spinners atomic.Int32 // threads spinning for work: at most one
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

// Handing work to a parked thread and back costs two wake-ups of parked
// threads, tens of microseconds on a busy machine: more than the open it
// carries. After each piece of work a confined thread spins for the next
// one for threadSpin, and a caller spins for its result for callerSpin,
// before either parks; during a burst of opens neither parks.
const (
	threadSpin = 100 * time.Microsecond
	callerSpin = 200 * time.Microsecond
)

// confinedThread is one confined OS thread and its hand-over slot. One
// caller at a time owns it (it is taken from confiner.idle).
type confinedThread struct {
	job      atomic.Pointer[func()]
	done     atomic.Bool
	parked   atomic.Bool   // the thread waits on wake
	waiting  atomic.Bool   // the caller waits on finished
	wake     chan struct{} // capacity 1
	finished chan struct{} // capacity 1
}

// do runs fn on a confined thread and waits for it.
func (c *confiner) do(fn func()) error {
	c.once.Do(c.start)
	if c.err != nil {
		return c.err
	}
	select {
	case <-c.avail:
	case <-c.stop:
		return errConfinerClosed
	}
	t := c.take()
	defer c.put(t)
	select { // a wake-up left over from a call that did not need it
	case <-t.finished:
	default:
	}
	t.done.Store(false)
	t.job.Store(&fn)
	if t.parked.Load() {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
	for deadline := time.Now().Add(callerSpin); !t.done.Load(); {
		if time.Now().After(deadline) {
			t.waiting.Store(true)
			if !t.done.Load() {
				select {
				case <-t.finished:
				case <-c.stop:
					// The thread finishes fn before it stops.
					<-t.finished
				}
			}
			t.waiting.Store(false)
			break
		}
	}
	return nil
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

func (c *confiner) start() {
	ready := make(chan error, c.threads)
	for range c.threads {
		c.wg.Add(1)
		t := &confinedThread{wake: make(chan struct{}, 1), finished: make(chan struct{}, 1)}
		go c.thread(t, ready)
	}
	for range c.threads {
		if err := <-ready; err != nil && c.err == nil {
			c.err = fmt.Errorf("sandbox: confine a supervisor thread as the command: %w", err)
		}
	}
	if c.err != nil {
		c.shutdown()
	}
}

// thread confines its OS thread and serves work until the run ends. It
// never unlocks the thread: when it returns, the runtime ends the thread
// rather than reuse it with the command's restrictions.
func (c *confiner) thread(t *confinedThread, ready chan<- error) {
	defer c.wg.Done()
	runtime.LockOSThread()
	if err := c.confineThread(); err != nil {
		ready <- err
		return
	}
	ready <- nil
	c.put(t)
	for {
		job := t.next(c.stop, &c.spinners)
		if job == nil {
			return
		}
		(*job)()
		t.job.Store(nil)
		t.done.Store(true)
		if t.waiting.Load() {
			select {
			case t.finished <- struct{}{}:
			default:
			}
		}
	}
}

// next returns the next job, spinning for threadSpin before parking when
// no other thread spins (a spinning thread holds one of the runtime's Ps);
// nil when the run is over.
func (t *confinedThread) next(stop <-chan struct{}, spinners *atomic.Int32) *func() {
	for {
		if spinners.Add(1) == 1 {
			for deadline := time.Now().Add(threadSpin); time.Now().Before(deadline); {
				if job := t.job.Load(); job != nil {
					spinners.Add(-1)
					return job
				}
			}
		}
		spinners.Add(-1)
		t.parked.Store(true)
		if job := t.job.Load(); job != nil {
			t.parked.Store(false)
			return job
		}
		select {
		case <-t.wake:
		case <-stop:
			t.parked.Store(false)
			if job := t.job.Load(); job != nil {
				return job // taken before the stop: finish it
			}
			return nil
		}
		t.parked.Store(false)
	}
}

// confineThread gives the calling locked thread the command's
// restrictions, in the helper's order.
func (c *confiner) confineThread() error {
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

// close ends the threads; later calls of do fail.
func (c *confiner) close() {
	c.once.Do(func() { c.err = errConfinerClosed }) // never start after close
	c.shutdown()
}

func (c *confiner) shutdown() {
	c.stopOnce.Do(func() { close(c.stop) })
	c.wg.Wait()
}
