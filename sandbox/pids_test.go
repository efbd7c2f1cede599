package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

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
