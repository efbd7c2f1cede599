package agent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/sandbox/internal/lockedpool"
)

// maxIdentities bounds the distinct credentials of one container that get
// threads of their own; a task with yet another set is refused (fail
// closed: the handler's Ctx.AsProcess errs).
const maxIdentities = 16

// threadsPerIdentity bounds the threads of one set of credentials: calls
// that block (the open of a FIFO waits for the other end, which is opened
// through the agent too) must not hold up the others. As many as the
// sandbox's confined threads.
const threadsPerIdentity = 4

// errIdentityClosed is returned once the container is no longer served.
var errIdentityClosed = errors.New("agent: the container is no longer served")

// identity runs functions, for handlers acting on a container task's
// behalf (handler.Ctx.AsProcess through handler.Options.AsTask), on OS
// threads of the agent that carry that task's credentials: its fs uid and
// gid, its supplementary groups and its effective capabilities (none when
// the task is in another user namespace than the agent: its capabilities
// are over that namespace only). Each distinct set of credentials has up
// to threadsPerIdentity threads, started on demand; the threads end with
// the container. A thread never runs another goroutine and dies with its
// goroutine.
type identity struct {
	userNS fileKey // the agent's user namespace

	mu     sync.Mutex
	pools  map[creds]*lockedpool.Pool
	closed bool
}

type fileKey struct{ dev, ino uint64 }

// creds are the credentials a thread takes.
type creds struct {
	fsuid, fsgid uint32
	groups       string // the Groups line of /proc/TID/status
	capEff       uint64
}

func newIdentity() (*identity, error) {
	ns, err := nsKey("/proc/self/ns/user")
	if err != nil {
		return nil, fmt.Errorf("agent: own user namespace: %w", err)
	}
	return &identity{userNS: ns, pools: make(map[creds]*lockedpool.Pool)}, nil
}

func nsKey(path string) (fileKey, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileKey{}, err
	}
	return fileKey{st.Dev, st.Ino}, nil
}

// do runs fn as task tid (a pid of the agent's pid namespace) and waits
// for it. An error means fn did not run. A panic of fn is raised again in
// the caller.
func (id *identity) do(tid int, fn func()) error {
	c, err := id.credsOf(tid)
	if err != nil {
		return fmt.Errorf("agent: credentials of task %d: %w", tid, err)
	}
	pool, err := id.pool(c)
	if err != nil {
		return err
	}
	switch err := pool.Do(fn); {
	case err == nil:
		return nil
	case errors.Is(err, lockedpool.ErrClosed):
		return errIdentityClosed
	default:
		return fmt.Errorf("agent: take the credentials of task %d: %w", tid, err)
	}
}

// credsOf reads the credentials of task tid from /proc/TID/status.
func (id *identity) credsOf(tid int) (creds, error) {
	proc := "/proc/" + strconv.Itoa(tid)
	status, err := os.ReadFile(proc + "/status")
	if err != nil {
		return creds{}, err
	}
	c, err := parseCreds(status)
	if err != nil {
		return creds{}, err
	}
	ns, err := nsKey(proc + "/ns/user")
	if err != nil {
		return creds{}, err
	}
	if ns != id.userNS {
		c.capEff = 0
	}
	return c, nil
}

// parseCreds returns the fs uid and gid (the fourth fields of Uid and
// Gid), the groups and the effective capabilities of a /proc status file.
func parseCreds(status []byte) (creds, error) {
	var c creds
	seen := 0
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(val)
		switch string(key) {
		case "Uid", "Gid":
			if len(f) != 4 {
				return creds{}, fmt.Errorf("/proc status %s %q: want 4 ids", key, val)
			}
			n, err := strconv.ParseUint(string(f[3]), 10, 32)
			if err != nil {
				return creds{}, fmt.Errorf("/proc status %s %q: %w", key, val, err)
			}
			if key[0] == 'U' {
				c.fsuid = uint32(n)
			} else {
				c.fsgid = uint32(n)
			}
			seen++
		case "Groups":
			for _, g := range f {
				if _, err := strconv.ParseUint(string(g), 10, 32); err != nil {
					return creds{}, fmt.Errorf("/proc status Groups %q: %w", val, err)
				}
			}
			c.groups = string(bytes.Join(f, []byte(" ")))
			seen++
		case "CapEff":
			if len(f) != 1 {
				return creds{}, fmt.Errorf("/proc status CapEff %q", val)
			}
			n, err := strconv.ParseUint(string(f[0]), 16, 64)
			if err != nil {
				return creds{}, fmt.Errorf("/proc status CapEff %q: %w", val, err)
			}
			c.capEff = n
			seen++
		}
	}
	if seen != 4 {
		return creds{}, errors.New("/proc status: no Uid, Gid, Groups or CapEff")
	}
	return c, nil
}

// pool returns the threads of c, made on first use.
func (id *identity) pool(c creds) (*lockedpool.Pool, error) {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.closed {
		return nil, errIdentityClosed
	}
	if p := id.pools[c]; p != nil {
		return p, nil
	}
	if len(id.pools) >= maxIdentities {
		return nil, fmt.Errorf("agent: more than %d distinct credentials in one container", maxIdentities)
	}
	p := lockedpool.New(threadsPerIdentity, c.take)
	id.pools[c] = p
	return p, nil
}

// capabilityVersion3 is _LINUX_CAPABILITY_VERSION_3.
const capabilityVersion3 = 0x20080522

// take gives the calling, locked thread the credentials c: a file-system
// context of its own (handlers set a umask for a call), the groups, the fs
// gid and uid, then the capabilities (effective and permitted, none
// inheritable). Each call acts on this thread only (raw syscalls: Go's
// wrappers would change every thread).
func (c creds) take() error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return fmt.Errorf("unshare CLONE_FS: %w", err)
	}
	var groups []uint32
	for g := range bytes.FieldsSeq([]byte(c.groups)) {
		n, _ := strconv.ParseUint(string(g), 10, 32) // checked by parseCreds
		groups = append(groups, uint32(n))
	}
	if err := lockedpool.TakeFSIdentity(groups, c.fsgid, c.fsuid); err != nil {
		return err
	}
	hdr := unix.CapUserHeader{Version: capabilityVersion3}
	data := [2]unix.CapUserData{
		{Effective: uint32(c.capEff), Permitted: uint32(c.capEff)},
		{Effective: uint32(c.capEff >> 32), Permitted: uint32(c.capEff >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset %#x: %w", c.capEff, err)
	}
	return nil
}

// close ends the threads, once their jobs are done; later calls of do
// fail.
func (id *identity) close() {
	id.mu.Lock()
	id.closed = true
	pools := id.pools
	id.pools = nil
	id.mu.Unlock()
	for _, p := range pools {
		p.Close()
	}
}
