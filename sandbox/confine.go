package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/sandbox/internal/lockedpool"
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
// or signal only its own descendants). The threads (a lockedpool.Pool) are
// started when needed and end with the run; a thread never runs another
// goroutine, and dies with its goroutine.
type confiner struct {
	iso      *isolationConfig
	landlock *landlockConfig
	layer    *policyLayer
	// fsUID and fsGID are the host identity of the command when it
	// differs from the supervisor's (IdentityUserNamespace), else -1.
	fsUID, fsGID int
	// pid is the command's, once started: the threads enter its mount
	// namespace, so that paths mean what they mean to the command (its
	// read-only mounts included).
	pid  atomic.Int64
	pool *lockedpool.Pool
}

func newConfiner(cfg *helperConfig, identity Identity, threads int) *confiner {
	iso := *cfg.Isolation
	iso.supervisorThread = true
	c := &confiner{iso: &iso, landlock: cfg.Landlock, layer: cfg.Layer, fsUID: -1, fsGID: -1}
	if identity == IdentityUserNamespace {
		c.fsUID, c.fsGID = os.Getuid(), os.Getgid()
		if c.fsUID == 0 {
			c.fsUID, c.fsGID = overflowID, overflowID
		}
	}
	c.pool = lockedpool.New(threads, c.confineThread)
	return c
}

// do runs fn on a confined thread and waits for it. An error means fn did
// not run: the run is over, or a thread could not be confined.
func (c *confiner) do(fn func()) error {
	err := c.pool.Do(fn)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, lockedpool.ErrClosed):
		return errConfinerClosed
	default:
		return fmt.Errorf("sandbox: confine a supervisor thread as the command: %w", err)
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
		// No supplementary groups: the host's would be the
		// supervisor's, not the command's.
		if err := lockedpool.TakeFSIdentity(nil, uint32(c.fsGID), uint32(c.fsUID)); err != nil {
			return err
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
func (c *confiner) close() { c.pool.Close() }
