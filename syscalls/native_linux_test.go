//go:build linux && (amd64 || arm64 || riscv64)

package syscalls

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// xsysConstant is one unix.SYS_* constant, as listed by the generated
// zsysnum_check_linux_<goarch>_test.go files.
type xsysConstant struct {
	name    string
	number  int
	skipped bool // not a syscall (see the generator's skip list)
}

// TestNativeMatchesXSys checks the native table against every unix.SYS_*
// constant, referenced by identifier so the compiler reads the values.
func TestNativeMatchesXSys(t *testing.T) {
	require.Same(t, xsysArch, Native(), "GOARCH %s", runtime.GOARCH)
	require.NotEmpty(t, xsysConstants)

	want := 0
	for _, c := range xsysConstants {
		nr, err := Native().Number(c.name)
		if c.skipped {
			assert.ErrorIs(t, err, ErrUnknownSyscall, c.name)
			continue
		}
		want++
		if assert.NoError(t, err, c.name) {
			assert.Equal(t, c.number, nr, c.name)
		}
		name, ok := Native().Name(c.number)
		assert.True(t, ok, c.name)
		assert.Equal(t, c.name, name)
		assert.Equal(t, c.name, Name(c.number))
	}
	assert.Len(t, Native().Syscalls(), want, "table has entries that x/sys lacks")
}
