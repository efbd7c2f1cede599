package pathpolicy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// TestSyscallsEveryArch: on every supported arch the files policy names
// each path operation the arch has (the *at forms everywhere, the old
// forms where they exist) and the kernel denies that would bypass it.
func TestSyscallsEveryArch(t *testing.T) {
	p, err := NewOpenPolicy(Rules{})
	require.NoError(t, err)
	for _, arch := range []*syscalls.Arch{syscalls.X86_64, syscalls.AArch64, syscalls.RISCV64} {
		names := p.Syscalls(arch)
		for _, n := range []string{"openat", "linkat", "symlinkat", "renameat2", "unlinkat", "mkdirat",
			"mknodat", "truncate", "fchmodat", "fchmodat2", "fchownat", "utimensat", "setxattr", "lsetxattr",
			"removexattr", "lremovexattr", "setxattrat", "removexattrat", "inotify_add_watch", "bind", "execveat"} {
			require.Contains(t, names, n, "%s", arch)
		}
		for _, n := range names {
			_, err := arch.Number(n)
			require.NoError(t, err, "%s on %s", n, arch)
		}
		_, hasLink := arch.Number("link")
		require.Equal(t, hasLink == nil, contains(names, "link"), "%s: link where the arch has it", arch)
		require.Subset(t, handler.KernelDenies(p, arch), []string{"open_by_handle_at", "io_uring_setup", "io_uring_enter", "io_uring_register"}, "%s", arch)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
