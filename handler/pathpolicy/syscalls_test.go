package pathpolicy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
	"github.com/sandlock-go/sandlock-go/syscalls/args"
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

// needCapabilities are the syscalls of the argument model that reach a
// file by path but that the policy neither performs nor denies: each
// needs a capability the sandboxed command does not have (the mount
// family, swap, process accounting, quotas, chroot), and most are in the
// isolation deny list too.
var needCapabilities = map[string]string{
	"mount": "CAP_SYS_ADMIN", "umount2": "CAP_SYS_ADMIN", "pivot_root": "CAP_SYS_ADMIN",
	"fspick": "CAP_SYS_ADMIN", "move_mount": "CAP_SYS_ADMIN", "mount_setattr": "CAP_SYS_ADMIN",
	"quotactl": "CAP_SYS_ADMIN", "swapon": "CAP_SYS_ADMIN", "swapoff": "CAP_SYS_ADMIN",
	"chroot": "CAP_SYS_CHROOT", "acct": "CAP_SYS_PACCT",
}

// TestSyscallsFollowTheModel: every syscall the syscall-argument model
// (syscalls/args) says opens, creates, deletes, links, writes, changes
// the attributes of, watches or executes a file by path is mediated by the
// policy, denied in the kernel while it is active, or needs a capability
// the command lacks (needCapabilities), on every supported arch.
func TestSyscallsFollowTheModel(t *testing.T) {
	p, err := NewOpenPolicy(Rules{})
	require.NoError(t, err)
	reach := args.Open | args.Create | args.Delete | args.Link | args.Write | args.SetAttr | args.Watch | args.Exec
	for _, arch := range []*syscalls.Arch{syscalls.X86_64, syscalls.AArch64, syscalls.RISCV64} {
		mediated, denied := p.Syscalls(arch), p.KernelDenies(arch)
		for _, name := range args.Names(arch) {
			l, _ := args.Of(arch, name)
			for _, path := range l.Paths() {
				if path.Access&reach == 0 {
					continue
				}
				_, capped := needCapabilities[name]
				require.True(t, contains(mediated, name) || contains(denied, name) || capped,
					"%s on %s reaches a file (%s) and is neither mediated, denied nor capability-bound", name, arch, path.Access)
			}
		}
	}
}
