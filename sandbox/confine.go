package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"

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

	once     sync.Once
	err      error
	work     chan func()
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

func newConfiner(cfg *helperConfig, identity Identity, threads int) *confiner {
	iso := *cfg.Isolation
	iso.supervisorThread = true
	c := &confiner{
		iso: &iso, landlock: cfg.Landlock, layer: cfg.Layer, fsUID: -1, fsGID: -1, threads: max(threads, 1),
		work: make(chan func()), stop: make(chan struct{}),
	}
	if identity == IdentityUserNamespace {
		c.fsUID, c.fsGID = os.Getuid(), os.Getgid()
		if c.fsUID == 0 {
			c.fsUID, c.fsGID = overflowID, overflowID
		}
	}
	return c
}

// do runs fn on a confined thread and waits for it.
func (c *confiner) do(fn func()) error {
	c.once.Do(c.start)
	if c.err != nil {
		return c.err
	}
	finished := make(chan struct{})
	select {
	case c.work <- func() { defer close(finished); fn() }:
	case <-c.stop:
		return errConfinerClosed
	}
	<-finished
	return nil
}

func (c *confiner) start() {
	ready := make(chan error, c.threads)
	for range c.threads {
		c.wg.Add(1)
		go c.thread(ready)
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
func (c *confiner) thread(ready chan<- error) {
	defer c.wg.Done()
	runtime.LockOSThread()
	if err := c.confineThread(); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for {
		select {
		case fn := <-c.work:
			fn()
		case <-c.stop:
			return
		}
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
