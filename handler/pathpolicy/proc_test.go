package pathpolicy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
)

func TestProcPid(t *testing.T) {
	for path, want := range map[string]int{
		"/proc/1/environ":    1,
		"/proc/1/task/1/mem": 1,
		"/proc/1":            1,
		"/proc/cpuinfo":      0,
		"/proc":              0,
		"/proc/sys/kernel":   0,
	} {
		pid, ok := procPid(path)
		require.True(t, ok, path)
		require.Equal(t, want, pid, path)
	}
}

// TestProcPidOtherMounts: procfs mounted elsewhere is recognized, and a
// procfs subtree mounted elsewhere (no root on its path) fails closed.
func TestProcPidOtherMounts(t *testing.T) {
	dir := t.TempDir()
	p, b := filepath.Join(dir, "p"), filepath.Join(dir, "b")
	require.NoError(t, os.Mkdir(p, 0o755))
	require.NoError(t, os.Mkdir(b, 0o755))
	if err := unix.Mount("proc", p, "proc", 0, ""); err != nil {
		t.Skipf("mount procfs: %v (needs CAP_SYS_ADMIN)", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(p, unix.MNT_DETACH) })
	require.NoError(t, unix.Mount("/proc/1", b, "", unix.MS_BIND, ""))
	t.Cleanup(func() { _ = unix.Unmount(b, unix.MNT_DETACH) })

	pid, ok := procPid(filepath.Join(p, "1", "environ"))
	require.True(t, ok)
	require.Equal(t, 1, pid)
	_, ok = procPid(filepath.Join(b, "environ"))
	require.False(t, ok, "a bind mount of /proc/1 has no procfs root on its path")

	pol, err := NewOpenPolicy(Rules{})
	require.NoError(t, err)
	require.True(t, pol.strangerProc(ctxFor(t, os.Getpid()), openPath(t, filepath.Join(b, "environ")), filepath.Join(b, "environ")))
}

// ctxFor is a Ctx whose trapped task is pid.
func ctxFor(t *testing.T, pid int) *handler.Ctx {
	fake := notif.NewFake()
	n := notif.Notif{Pid: uint32(pid)}
	n.ID = fake.Push(n)
	return handler.NewTestCtx(n, fake)
}

func openPath(t *testing.T, path string) int {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	require.NoError(t, err, path)
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func TestStrangerProc(t *testing.T) {
	child := exec.Command("sleep", "60")
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	cpid := strconv.Itoa(child.Process.Pid)
	sup := strconv.Itoa(os.Getpid())
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))

	pol, err := NewOpenPolicy(Rules{})
	require.NoError(t, err)
	everyone := pol.WithInRun(func(int) bool { return true })
	c := ctxFor(t, child.Process.Pid)
	for path, want := range map[string]bool{
		"/proc/" + cpid + "/status":                   false,
		"/proc/" + cpid + "/task/" + cpid + "/status": false,
		"/proc/" + cpid:                               false,
		"/proc/cpuinfo":                               false,
		"/proc/sys/kernel/hostname":                   false,
		file:                                          false,
		"/proc/1/environ":                             true,
		"/proc/1":                                     true,
		"/proc/" + sup + "/mem":                       true,
		"/proc/" + sup + "/task/" + strconv.Itoa(unix.Gettid()) + "/mem": true,
	} {
		require.Equal(t, want, pol.strangerProc(c, openPath(t, path), path), path)
	}
	require.False(t, everyone.strangerProc(c, openPath(t, "/proc/1/environ"), "/proc/1/environ"))
	require.True(t, everyone.strangerProc(c, openPath(t, "/proc/"+sup+"/mem"), "/proc/"+sup+"/mem"), "the supervisor is never in the run")
	require.True(t, pol.strangerProc(c, -1, "/proc/1"), "fstatfs failing fails closed")
}

func TestSelfPath(t *testing.T) {
	tid := unix.Gettid()
	pid := strconv.Itoa(os.Getpid())
	for _, tc := range []struct{ path, base, want string }{
		{"/proc/self/status", "/", "/proc/" + pid + "/status"},
		{"/proc/thread-self", "/", "/proc/" + pid + "/task/" + strconv.Itoa(tid)},
		{"self/status", "/proc", "/proc/" + pid + "/status"},
		{"../self/mem", "/proc/1", "/proc/" + pid + "/mem"},
		{"status", "/proc/1", "status"},
		{"/etc/passwd", "/", "/etc/passwd"},
		{"proc/self", "/", "/proc/" + pid},
	} {
		got, errno := selfPath(tid, tc.path, tc.base)
		require.Zero(t, errno)
		require.Equal(t, tc.want, got, "%s in %s", tc.path, tc.base)
	}
	_, errno := selfPath(-1, "/proc/self", "/")
	require.Equal(t, unix.ESRCH, errno)
	_, errno = selfPath(-1, "/etc", "/")
	require.Zero(t, errno, "no lookup for a path outside /proc")
}
