package handler_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// TestCtxReadPathDirfdFromModel: ReadPath takes the dirfd of each path
// from the syscall-argument model: the second path of linkat and
// renameat2 is relative to argument 2, not 0; syscalls the old hand list
// missed (the *xattrat family, file_getattr) use their dirfd; a path
// without one (symlinkat's target) uses the working directory; and the
// notification's arch decides, not the supervisor's.
func TestCtxReadPathDirfdFromModel(t *testing.T) {
	f := notif.NewFake()
	cwd, err := os.Getwd()
	require.NoError(t, err)
	open := func() (int, string) {
		dir := t.TempDir()
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		require.NoError(t, err)
		t.Cleanup(func() { unix.Close(fd) })
		real, err := filepath.EvalSymlinks(dir)
		require.NoError(t, err)
		return fd, real
	}
	fdA, dirA := open()
	fdB, dirB := open()
	a, b := uint64(fdA), uint64(fdB)
	rel := []byte("x/../y\x00")
	p := addrOf(rel)

	for _, tc := range []struct {
		syscall string
		args    []uint64
		index   int
		want    string
	}{
		{"linkat", []uint64{a, p, b, p, 0}, 1, filepath.Join(dirA, "y")},
		{"linkat", []uint64{a, p, b, p, 0}, 3, filepath.Join(dirB, "y")},
		{"renameat2", []uint64{a, p, b, p, 0}, 3, filepath.Join(dirB, "y")},
		{"renameat", []uint64{b, p, a, p}, 3, filepath.Join(dirA, "y")},
		{"move_mount", []uint64{a, p, b, p, 0}, 3, filepath.Join(dirB, "y")},
		{"symlinkat", []uint64{p, a, p}, 2, filepath.Join(dirA, "y")},
		{"symlinkat", []uint64{p, a, p}, 0, filepath.Join(cwd, "y")},
		{"fanotify_mark", []uint64{b, 0, 0, a, p}, 4, filepath.Join(dirA, "y")},
		{"setxattrat", []uint64{a, p, 0, p, 0, 0}, 1, filepath.Join(dirA, "y")},
		{"getxattrat", []uint64{a, p, 0, p, 0, 0}, 1, filepath.Join(dirA, "y")},
		{"listxattrat", []uint64{a, p, 0, 0, 0}, 1, filepath.Join(dirA, "y")},
		{"removexattrat", []uint64{a, p, 0, p}, 1, filepath.Join(dirA, "y")},
		{"file_getattr", []uint64{a, p, 0, 0, 0}, 1, filepath.Join(dirA, "y")},
		{"open_tree_attr", []uint64{a, p, 0, 0, 0}, 1, filepath.Join(dirA, "y")},
		// Not a path argument: no dirfd even when the argument before is one.
		{"setxattrat", []uint64{a, p, 0, p, 0, 0}, 3, filepath.Join(cwd, "y")},
	} {
		t.Run(tc.syscall, func(t *testing.T) {
			n := selfTrap(t, tc.syscall, tc.args...)
			n.ID = f.Push(n)
			got, err := handler.NewTestCtx(n, f).ReadPath(tc.index)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "%s argument %d", tc.syscall, tc.index)
		})
	}

	// An aarch64 linkat trapped on any host: its number is aarch64's and
	// the model is looked up on that arch.
	nr, err := syscalls.AArch64.Number("linkat")
	require.NoError(t, err)
	n := notif.Notif{Pid: uint32(os.Getpid())}
	n.Data.Nr, n.Data.Arch = int32(nr), syscalls.AArch64.AuditArch()
	copy(n.Data.Args[:], []uint64{a, p, b, p, 0})
	n.ID = f.Push(n)
	got, err := handler.NewTestCtx(n, f).ReadPath(3)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dirB, "y"), got)
	runtime.KeepAlive(rel)
}
