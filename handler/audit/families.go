package audit

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/sandlock-go/sandlock-go/syscalls"
	"github.com/sandlock-go/sandlock-go/syscalls/args"
)

// pathArgs maps a syscall name to the index of its first looked-up path
// argument in the syscall-argument model (package syscalls/args); where a
// syscall has two paths (rename, link), the first is logged; symlink's
// target is not looked up, so its link path is. Built on first use.
var pathArgs = sync.OnceValue(func() map[string]int {
	m := map[string]int{}
	for _, arch := range syscalls.Arches() {
		for _, name := range args.Names(arch) {
			l, _ := args.Of(arch, name)
			if p, ok := l.Path(); ok {
				m[name] = p.Index
			}
		}
	}
	return m
})

// PathArg returns the index of the path argument of the named syscall:
// the one Record.Path shows, made absolute.
func PathArg(syscall string) (int, bool) {
	i, ok := pathArgs()[syscall]
	return i, ok
}

// families group syscalls by what they touch, as strace's %file, %process
// and %network do; names an arch lacks are dropped by Family. "file" is
// every syscall with a path argument in the model, but exec's. Built on
// first use.
var families = sync.OnceValue(func() map[string][]string {
	return map[string][]string{
		"file": func() []string {
			var names []string
			for name := range pathArgs() {
				if name != "execve" && name != "execveat" {
					names = append(names, name)
				}
			}
			slices.Sort(names)
			return names
		}(),
		"exec":    {"execve", "execveat"},
		"process": {"fork", "vfork", "clone", "clone3", "exit_group", "kill"},
		"network": {
			"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
			"shutdown", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
		},
	}
})

// FamilyNames returns the names of the syscall families, sorted: exec,
// file, network, process.
func FamilyNames() []string {
	names := make([]string, 0, len(families()))
	for n := range families() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Family returns the syscalls of the named family that exist on arch (nil:
// the native one), in a fixed order.
func Family(name string, arch *syscalls.Arch) ([]string, error) {
	names, ok := families()[name]
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
