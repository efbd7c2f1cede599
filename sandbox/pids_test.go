package sandbox

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFindPidsRootV1(t *testing.T) {
	mi := `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	cg := "8:pids:/build/job1\n4:memory:/x\n0::/\n"
	r, err := findPidsRoot(mi, cg)
	require.NoError(t, err)
	require.Equal(t, pidsRoot{dir: "/sys/fs/cgroup/pids/build/job1", v1: true}, r)

	// A container: the mount's root is the container's cgroup, and
	// /proc/self/cgroup names it from the host's root.
	mi = "39 31 0:36 /docker/abc /sys/fs/cgroup/pids\\040x ro - cgroup cgroup rw,cpu,pids\n"
	r, err = findPidsRoot(mi, "3:cpu,pids:/docker/abc/sub\n")
	require.NoError(t, err)
	require.Equal(t, pidsRoot{dir: "/sys/fs/cgroup/pids x/sub", v1: true}, r)
}

func TestFindPidsRootV2(t *testing.T) {
	mnt := t.TempDir()
	dir := filepath.Join(mnt, "user.slice", "app")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	mi := "30 23 0:27 / " + mnt + " rw - cgroup2 cgroup2 rw\n"
	cg := "0::/user.slice/app\n"

	require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpu memory pids\n"), 0o644))
	r, err := findPidsRoot(mi, cg)
	require.NoError(t, err)
	require.Equal(t, pidsRoot{dir: dir}, r)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpu memory\n"), 0o644))
	_, err = findPidsRoot(mi, cg)
	require.ErrorIs(t, err, ErrNoPidsCgroup)
}

func TestFindPidsRootNone(t *testing.T) {
	_, err := findPidsRoot("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n", "0::/\n")
	require.True(t, errors.Is(err, ErrNoPidsCgroup), "%v", err)
}

func TestProcessLimitNegative(t *testing.T) {
	c := Command("true")
	c.Policy.MaxProcesses = -1
	require.Error(t, c.setupProcessLimit())
}

// TestProcessLimitFallback: without a pids controller, ProcessLimitAuto
// falls back to the trap (fork and clone registered, the reason kept),
// ProcessLimitCgroup fails with ErrNoPidsCgroup, and no limit asks for
// nothing.
func TestProcessLimitFallback(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mountinfo"), []byte("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cgroup"), []byte("0::/\n"), 0o644))
	old := procSelf
	procSelf = dir
	defer func() { procSelf = old }()

	c := Command("true")
	c.Policy.MaxProcesses = 3
	require.NoError(t, c.setupProcessLimit())
	how, reason := c.ProcessCounter()
	require.Equal(t, CountTrap, how)
	require.ErrorIs(t, reason, ErrNoPidsCgroup)
	require.Empty(t, c.ProcessCgroup())
	for _, name := range []string{"clone", "fork", "vfork"} {
		nr, err := c.table.Arch().Number(name)
		require.NoError(t, err)
		require.Contains(t, c.table.Syscalls(), nr, name)
	}

	c = Command("true")
	c.Policy.MaxProcesses = 3
	c.Policy.ProcessLimit = ProcessLimitCgroup
	require.ErrorIs(t, c.setupProcessLimit(), ErrNoPidsCgroup)
	require.ErrorIs(t, ProbePidsCgroup(), ErrNoPidsCgroup)

	c = Command("true")
	require.NoError(t, c.setupProcessLimit())
	how, reason = c.ProcessCounter()
	require.Equal(t, CountNone, how)
	require.NoError(t, reason)
	require.Empty(t, c.table.Syscalls())
	_, err := c.ProcessPeak()
	require.Error(t, err)
}

// TestRemoveStale: an empty run cgroup of a supervisor that is gone is
// removed; one of a live supervisor (this one, pid 1), a non-empty one and
// other names stay.
func TestRemoveStale(t *testing.T) {
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	dir := t.TempDir()
	names := map[string]bool{ // stays
		cgroupPrefix + strconv.Itoa(dead.Process.Pid) + "-1": false,
		cgroupPrefix + strconv.Itoa(os.Getpid()) + "-1":      true,
		cgroupPrefix + "1-7":                                 true,
		"system.slice":                                       true,
		cgroupPrefix + "x-1":                                 true,
	}
	for n := range names {
		require.NoError(t, os.Mkdir(filepath.Join(dir, n), 0o755))
	}
	full := cgroupPrefix + strconv.Itoa(dead.Process.Pid) + "-2"
	require.NoError(t, os.MkdirAll(filepath.Join(dir, full, "child"), 0o755))
	names[full] = true
	// A recent one may be a Start in progress in another pid namespace.
	recent := cgroupPrefix + strconv.Itoa(dead.Process.Pid) + "-3"
	require.NoError(t, os.Mkdir(filepath.Join(dir, recent), 0o755))
	old := time.Now().Add(-2 * staleAge)
	for n := range names {
		require.NoError(t, os.Chtimes(filepath.Join(dir, n), old, old))
	}
	names[recent] = true
	removeStale(dir)
	for n, stays := range names {
		_, err := os.Stat(filepath.Join(dir, n))
		require.Equal(t, stays, err == nil, n)
	}
}
