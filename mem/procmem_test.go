package mem

import (
	"os"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// procMemIO is the fallback for kernels without process_vm_readv; it must
// give the same results through transferResult.
func TestProcMemIO(t *testing.T) {
	ps := os.Getpagesize()
	all, err := unix.Mmap(-1, 0, 2*ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	require.NoError(t, err)
	defer unix.Munmap(all)
	base := uint64(reflect.ValueOf(all).Pointer())
	// Unmap the second page (not PROT_NONE: /proc/PID/mem reads through
	// page protections).
	_, _, errno := unix.Syscall(unix.SYS_MUNMAP, uintptr(base)+uintptr(ps), uintptr(ps), 0)
	require.Zero(t, errno)
	pid := os.Getpid()

	n, err := procMemIO(pid, base+8, []byte("via proc"), true)
	require.NoError(t, err)
	assert.Equal(t, 8, n)
	assert.Equal(t, "via proc", string(all[8:16]))

	buf := make([]byte, 8)
	n, err = procMemIO(pid, base+8, buf, false)
	require.NoError(t, err)
	assert.Equal(t, 8, n)
	assert.Equal(t, "via proc", string(buf))

	// Into the unmapped page: a fault.
	n, err = procMemIO(pid, base+uint64(ps)-4, buf, false)
	err = transferResult("read", pid, base+uint64(ps)-4, len(buf), n, err)
	assert.ErrorIs(t, err, ErrFault)
	assert.ErrorIs(t, err, unix.EFAULT)

	// A process that does not exist: the notification is gone.
	n, err = procMemIO(1<<30, base, buf, false)
	assert.Equal(t, unix.ESRCH, err)
	assert.Zero(t, n)
}
