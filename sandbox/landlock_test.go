package sandbox

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/notif"
)

func fakeDirs(dirs ...string) func(string) (bool, error) {
	return func(p string) (bool, error) {
		for _, d := range dirs {
			if d == p {
				return true, nil
			}
		}
		return false, nil
	}
}

// TestLandlockPlanDegrades checks the downgrade table without a kernel.
func TestLandlockPlanDegrades(t *testing.T) {
	c := &landlockConfig{ReadOnly: []string{"/usr", "/etc/hostname"}, ReadWrite: []string{"/tmp/w"}}
	isDir := fakeDirs("/usr", "/tmp/w")
	for _, tc := range []struct {
		abi     int
		handled uint64
	}{
		{0, 0},
		{1, fsABI1},
		{2, fsABI1 | unix.LANDLOCK_ACCESS_FS_REFER},
		{3, fsABI1 | unix.LANDLOCK_ACCESS_FS_REFER | unix.LANDLOCK_ACCESS_FS_TRUNCATE},
		{4, fsABI1 | unix.LANDLOCK_ACCESS_FS_REFER | unix.LANDLOCK_ACCESS_FS_TRUNCATE},
		{5, fsABI1 | unix.LANDLOCK_ACCESS_FS_REFER | unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV},
		{7, fsABI1 | unix.LANDLOCK_ACCESS_FS_REFER | unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV},
	} {
		handled, rules, err := c.plan(tc.abi, isDir)
		require.NoError(t, err, "abi %d", tc.abi)
		require.Equal(t, tc.handled, handled, "abi %d", tc.abi)
		if tc.abi == 0 {
			require.Empty(t, rules)
			continue
		}
		require.Len(t, rules, 3)
		require.Equal(t, uint64(fsReadOnly), rules[0].rights, "read-only dir, abi %d", tc.abi)
		require.Equal(t, uint64(unix.LANDLOCK_ACCESS_FS_EXECUTE|unix.LANDLOCK_ACCESS_FS_READ_FILE), rules[1].rights,
			"a read-only file gets no directory rights, abi %d", tc.abi)
		require.Equal(t, handled, rules[2].rights, "read-write dir gets everything handled, abi %d", tc.abi)
		require.Zero(t, rules[2].rights&^handled, "never a right the kernel does not handle")
	}
}

func TestLandlockPlanStrict(t *testing.T) {
	c := &landlockConfig{ReadOnly: []string{"/usr"}, Strict: true}
	_, _, err := c.plan(4, fakeDirs("/usr"))
	require.ErrorIs(t, err, notif.ErrNotSupported)
	handled, _, err := c.plan(5, fakeDirs("/usr"))
	require.NoError(t, err)
	require.NotZero(t, handled)
}

// TestLandlockFilesPlan: the Files layer handles every right but execute
// and grants them all beneath its paths (file rights only on a file).
func TestLandlockFilesPlan(t *testing.T) {
	c := &landlockConfig{Files: []string{"/work", "/etc/hostname"}}
	handled, rules, err := c.filesPlan(7, fakeDirs("/work"))
	require.NoError(t, err)
	require.Zero(t, handled&unix.LANDLOCK_ACCESS_FS_EXECUTE, "exec is not restricted by it")
	require.NotZero(t, handled&unix.LANDLOCK_ACCESS_FS_READ_FILE)
	require.Equal(t, []landlockRule{
		{path: "/work", rights: handled},
		{path: "/etc/hostname", rights: handled & fsFileRights},
	}, rules)
}
