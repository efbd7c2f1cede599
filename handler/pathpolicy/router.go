package pathpolicy

import (
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Router is a files policy made of two: opens with O_DIRECTORY (opendir)
// go to one policy, every other file operation to another. The flags of
// open and openat are in registers, which the process cannot change
// after the trap, so the choice cannot be raced; openat2's are in memory,
// so openat2, creat and the rest always go to files. This keeps a
// profile exact for files: rules cover everything beneath a directory
// they name, which is what a directory listing needs but must not extend
// to the files in it.
type Router struct {
	files handler.Policy
	dirs  handler.Handler
}

// NewRouter returns a Router that sends directory opens to dirs and the
// rest to files; it registers on what files names.
func NewRouter(files handler.Policy, dirs handler.Handler) *Router {
	return &Router{files: files, dirs: dirs}
}

// Handle passes c to the policy its route names.
func (r *Router) Handle(c *handler.Ctx) handler.Action {
	if r.ToDirs(c) {
		return r.dirs.Handle(c)
	}
	return r.files.Handle(c)
}

// ToDirs reports whether c is an open or openat with O_DIRECTORY (which
// O_TMPFILE includes).
func (r *Router) ToDirs(c *handler.Ctx) bool {
	switch c.SyscallName() {
	case "open":
		return c.Arg(1)&unix.O_DIRECTORY != 0
	case "openat":
		return c.Arg(2)&unix.O_DIRECTORY != 0
	}
	return false
}

// Syscalls returns the syscalls of the files policy.
func (r *Router) Syscalls(arch *syscalls.Arch) []string { return r.files.Syscalls(arch) }

// KernelDenies returns the kernel denies of the files policy.
func (r *Router) KernelDenies(arch *syscalls.Arch) []string {
	return handler.KernelDenies(r.files, arch)
}

var _ handler.KernelDenier = (*Router)(nil)

// Files returns the policy of everything but directory opens.
func (r *Router) Files() handler.Policy { return r.files }

// Dirs returns the policy of directory opens.
func (r *Router) Dirs() handler.Handler { return r.dirs }
