package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

func decideArgs(t *testing.T, prog seccomp.Program, name string, args ...uint64) uint32 {
	t.Helper()
	d := seccomp.Data{Nr: int32(nr(t, name)), Arch: syscalls.Native().AuditArch()}
	copy(d.Args[:], args)
	ret, err := prog.Evaluate(d)
	require.NoError(t, err)
	return ret
}

// TestIsolationRules runs the compiled filter on the calls the isolation
// rules are about, with the arguments an attacker would pick.
func TestIsolationRules(t *testing.T) {
	notified := []int{nr(t, "openat"), nr(t, "clone"), nr(t, "ioctl"), nr(t, "ptrace")}
	prog, err := buildFilter(syscalls.Native(), notified, &Policy{})
	require.NoError(t, err)
	eperm, enosys := seccomp.Errno(unix.EPERM).Ret(), seccomp.Errno(unix.ENOSYS).Ret()
	notify, allow := seccomp.Notify.Ret(), seccomp.Allow.Ret()

	for _, name := range DefaultDenyList() {
		require.Equal(t, eperm, decideArgs(t, prog, name), name)
	}
	require.Equal(t, eperm, decideArgs(t, prog, "ptrace"), "a handler on a denied syscall is never asked")
	require.Equal(t, enosys, decideArgs(t, prog, "clone3"), "clone3's flags are in memory: libc falls back to clone")
	require.Equal(t, enosys, decideArgs(t, prog, "openat2"), "openat2's mode is in memory")

	const forkFlags = unix.CLONE_CHILD_SETTID | unix.CLONE_CHILD_CLEARTID | uint64(unix.SIGCHLD)
	require.Equal(t, notify, decideArgs(t, prog, "clone", forkFlags), "a plain fork reaches its handler")
	for _, f := range cloneNamespaceFlags {
		require.Equal(t, eperm, decideArgs(t, prog, "clone", forkFlags|f), "clone flag %#x", f)
	}

	require.Equal(t, eperm, decideArgs(t, prog, "ioctl", 0, unix.TIOCSTI))
	require.Equal(t, eperm, decideArgs(t, prog, "ioctl", 0, 1<<32|unix.TIOCSTI), "the kernel reads a 32-bit request")
	require.Equal(t, eperm, decideArgs(t, prog, "ioctl", 0, unix.TIOCLINUX))
	require.Equal(t, notify, decideArgs(t, prog, "ioctl", 0, unix.TIOCGWINSZ))

	require.Equal(t, eperm, decideArgs(t, prog, "fchmodat", 0, 0, 0o4755))
	require.Equal(t, eperm, decideArgs(t, prog, "fchmod", 0, 0o2755))
	require.Equal(t, allow, decideArgs(t, prog, "fchmod", 0, 0o755))
	require.Equal(t, eperm, decideArgs(t, prog, "openat", 0, 0, unix.O_CREAT|unix.O_WRONLY, 0o4755))
	require.Equal(t, eperm, decideArgs(t, prog, "openat", 0, 0, unix.O_TMPFILE|unix.O_RDWR, 0o2755))
	require.Equal(t, notify, decideArgs(t, prog, "openat", 0, 0, unix.O_RDONLY, 0o4755), "without O_CREAT the mode is ignored")
	require.Equal(t, notify, decideArgs(t, prog, "openat", 0, 0, unix.O_CREAT, 0o644))
}

func TestIsolationRulesAllowSyscalls(t *testing.T) {
	prog, err := buildFilter(syscalls.Native(), nil, &Policy{AllowSyscalls: []string{"unshare", "clone", "ioctl"}})
	require.NoError(t, err)
	allow := seccomp.Allow.Ret()
	require.Equal(t, allow, decideArgs(t, prog, "unshare", unix.CLONE_NEWUSER))
	require.Equal(t, allow, decideArgs(t, prog, "clone", unix.CLONE_NEWUSER))
	require.Equal(t, allow, decideArgs(t, prog, "ioctl", 0, unix.TIOCSTI))
	require.Equal(t, seccomp.Errno(unix.EPERM).Ret(), decideArgs(t, prog, "setns"), "only the named ones")

	_, err = buildFilter(syscalls.Native(), nil, &Policy{AllowSyscalls: []string{"read"}})
	require.ErrorContains(t, err, "read is not denied by the sandbox")
	_, err = buildFilter(syscalls.Native(), nil, &Policy{AllowSyscalls: []string{"opne"}})
	require.Error(t, err)
}

func TestIsolationRulesHostRootKeepsSetIDModes(t *testing.T) {
	prog, err := buildFilter(syscalls.Native(), nil, &Policy{Identity: IdentityHostRoot})
	require.NoError(t, err)
	require.Equal(t, seccomp.Allow.Ret(), decideArgs(t, prog, "fchmod", 0, 0o4755))
	require.Equal(t, seccomp.Errno(unix.EPERM).Ret(), decideArgs(t, prog, "unshare"), "the deny list stays")
}

// fakeTree is a dirLister over a list of paths; a trailing "/" marks a
// directory, a "@" prefix of the last element a symlink.
func fakeTree(paths ...string) dirLister {
	children := map[string][]dirEntry{}
	for _, p := range paths {
		dir := strings.HasSuffix(p, "/")
		p = strings.TrimSuffix(p, "/")
		parent, name := filepath.Dir(p), filepath.Base(p)
		link := strings.HasPrefix(name, "@")
		name = strings.TrimPrefix(name, "@")
		children[parent] = append(children[parent], dirEntry{Name: name, Dir: dir, Symlink: link})
	}
	return func(dir string) ([]dirEntry, error) {
		e, ok := children[dir]
		if !ok {
			return nil, os.ErrNotExist
		}
		return e, nil
	}
}

// TestProtectionPlan checks the write-protection layer without a kernel:
// which paths get write rights.
func TestProtectionPlan(t *testing.T) {
	tree := fakeTree(
		"/etc/", "/usr/", "/@bin", "/proc/", "/sys/", "/tmp/", "/work/", "/home/", "/root/",
		"/dev/", "/dev/null", "/dev/sda", "/dev/pts/", "/dev/shm/",
		"/var/", "/var/tmp/", "/var/spool/", "/var/lib/",
		"/run/", "/run/systemd/", "/run/user/",
		"/root/.bashrc", "/root/.cache/", "/root/go/", "/root/.ssh/", "/root/.config/", "/root/.config/go/", "/root/.config/systemd/",
		"/home/u/", "/home/u/.profile", "/home/u/src/", "/home/v/",
		"/swapfile",
	)
	p := &protection{Homes: []string{"/root", "/home/u"}}
	rules, err := p.plan(tree)
	require.NoError(t, err)
	granted := map[string]uint64{}
	for _, r := range rules {
		granted[r.path] = r.rights
	}
	require.Equal(t, uint64(unix.LANDLOCK_ACCESS_FS_REFER), granted["/"], "REFER beneath /, nothing else")
	for _, w := range []string{"/tmp", "/work", "/dev/pts", "/dev/shm", "/var/tmp", "/run/user",
		"/root/.cache", "/root/go", "/root/.config/go", "/home/u/src", "/home/v"} {
		require.Equal(t, uint64(fsWriteRights), granted[w], "%s is writable", w)
	}
	require.Equal(t, uint64(fsWriteRights&fsFileRights), granted["/dev/null"], "a file gets file rights only")
	require.Equal(t, uint64(fsWriteRights&fsFileRights), granted["/swapfile"])
	for _, r := range rules {
		for _, protected := range []string{"/etc", "/usr", "/bin", "/proc", "/sys", "/dev/sda", "/var/spool", "/var/lib",
			"/run/systemd", "/root/.bashrc", "/root/.ssh", "/root/.config/systemd", "/home/u/.profile"} {
			require.False(t, r.path == protected || strings.HasPrefix(r.path, protected+"/"), "%s is granted by %s", protected, r.path)
		}
		for _, ancestor := range []string{"/dev", "/var", "/run", "/root", "/home", "/home/u", "/root/.config"} {
			require.NotEqual(t, ancestor, r.path, "a directory holding protected entries is not granted whole")
		}
	}
}

// TestTargetRules: calls naming the caller itself pass in the kernel; calls
// naming another process, a group or a user are trapped for the guard.
func TestTargetRules(t *testing.T) {
	arch := syscalls.Native()
	prog, err := buildFilter(arch, nil, &Policy{}, targetRules(arch, nil)...)
	require.NoError(t, err)
	allow, notify := seccomp.Allow.Ret(), seccomp.Notify.Ret()
	require.Equal(t, allow, decideArgs(t, prog, "prlimit64", 0, unix.RLIMIT_NOFILE))
	require.Equal(t, allow, decideArgs(t, prog, "prlimit64", 1<<32), "the kernel reads pid 0")
	require.Equal(t, notify, decideArgs(t, prog, "prlimit64", 1234))
	require.Equal(t, notify, decideArgs(t, prog, "sched_setaffinity", 1))
	require.Equal(t, allow, decideArgs(t, prog, "setpriority", prioProcess, 0, 10))
	require.Equal(t, notify, decideArgs(t, prog, "setpriority", unix.PRIO_USER, 0, 10), "every process of the user")
	require.Equal(t, notify, decideArgs(t, prog, "setpriority", prioProcess, 77, 10))
	require.Equal(t, notify, decideArgs(t, prog, "ioprio_set", 3, 0, 0))

	// A syscall with a handler of its own is trapped whole.
	nrPrlimit := nr(t, "prlimit64")
	prog, err = buildFilter(arch, []int{nrPrlimit}, &Policy{}, targetRules(arch, map[int]bool{nrPrlimit: true})...)
	require.NoError(t, err)
	require.Equal(t, notify, decideArgs(t, prog, "prlimit64", 0))
}
