package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// pathArgs maps a syscall name to the index of its path argument. Where a
// syscall has two paths (rename, link), the first is logged.
var pathArgs = map[string]int{
	"open": 0, "openat": 1, "openat2": 1, "creat": 0,
	"execve": 0, "execveat": 1, "uselib": 0,
	"stat": 0, "lstat": 0, "newfstatat": 1, "statx": 1, "statfs": 0,
	"access": 0, "faccessat": 1, "faccessat2": 1,
	"unlink": 0, "unlinkat": 1, "rmdir": 0,
	"mkdir": 0, "mkdirat": 1, "mknod": 0, "mknodat": 1,
	"rename": 0, "renameat": 1, "renameat2": 1,
	"link": 0, "linkat": 1, "symlink": 1, "symlinkat": 2,
	"readlink": 0, "readlinkat": 1,
	"chdir": 0, "chroot": 0,
	"chmod": 0, "fchmodat": 1, "fchmodat2": 1,
	"chown": 0, "lchown": 0, "fchownat": 1,
	"truncate": 0, "utime": 0, "utimes": 0, "futimesat": 1, "utimensat": 1,
	"getxattr": 0, "lgetxattr": 0, "setxattr": 0, "lsetxattr": 0,
	"listxattr": 0, "llistxattr": 0, "removexattr": 0, "lremovexattr": 0,
	"inotify_add_watch": 1, "name_to_handle_at": 1,
	"swapon": 0, "swapoff": 0, "acct": 0,
}

// PathArg returns the index of the path argument of the named syscall:
// the one Record.Path shows, made absolute.
func PathArg(syscall string) (int, bool) {
	i, ok := pathArgs[syscall]
	return i, ok
}

// families group syscalls by what they touch, as strace's %file, %process
// and %network do; names an arch lacks are dropped by Family.
var families = map[string][]string{
	"file": {
		"open", "openat", "openat2", "creat",
		"stat", "lstat", "newfstatat", "statx", "statfs",
		"access", "faccessat", "faccessat2", "readlink", "readlinkat",
		"unlink", "unlinkat", "rmdir", "mkdir", "mkdirat", "mknod", "mknodat",
		"rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
		"chdir", "chroot", "chmod", "fchmodat", "fchmodat2",
		"chown", "lchown", "fchownat", "truncate", "utimensat",
	},
	"exec":    {"execve", "execveat"},
	"process": {"fork", "vfork", "clone", "clone3", "exit_group", "kill"},
	"network": {
		"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
		"shutdown", "sendto", "recvfrom", "sendmsg", "recvmsg",
	},
}

// FamilyNames returns the names of the syscall families, sorted: exec,
// file, network, process.
func FamilyNames() []string {
	names := make([]string, 0, len(families))
	for n := range families {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Family returns the syscalls of the named family that exist on arch (nil:
// the native one), in a fixed order.
func Family(name string, arch *syscalls.Arch) ([]string, error) {
	names, ok := families[name]
	if !ok {
		return nil, fmt.Errorf("unknown syscall family %q (want %s)", name, strings.Join(FamilyNames(), ", "))
	}
	if arch == nil {
		arch = syscalls.Native()
	}
	var out []string
	for _, n := range names {
		if _, err := arch.Number(n); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}
