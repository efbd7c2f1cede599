package main

import (
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// dirFallback is a profile's files policy that also lets PROGRAM open, by
// open or openat without O_DIRECTORY, a directory that open.dirs covers
// (tar opens the directories it archives that way, then fdopendir).
//
// The open is routed to the dirs policy when the files policy does not
// allow the name and the dirs policy does, and only for a read-only open
// without O_CREAT, O_TRUNC or O_TMPFILE. The dirs policy performs it on
// the object it checked; the descriptor is then given to PROGRAM only if
// that object is a directory (fstat), else it is closed and the open
// fails with EACCES. So the fallback grants what open.dirs grants (the
// names in a directory), never the content of a file.
type dirFallback struct {
	router      *pathpolicy.Router
	files, dirs *pathpolicy.OpenPolicy
}

// newDirFallback returns the files policy of a profile, files and dirs
// being the policies of open.files and open.dirs.
func newDirFallback(files, dirs *pathpolicy.OpenPolicy) *dirFallback {
	return &dirFallback{router: pathpolicy.NewRouter(files, dirs), files: files, dirs: dirs}
}

// Syscalls returns the syscalls of the files policy.
func (d *dirFallback) Syscalls(arch *syscalls.Arch) []string { return d.router.Syscalls(arch) }

// KernelDenies returns what the files policy needs denied in the kernel.
func (d *dirFallback) KernelDenies(arch *syscalls.Arch) []string { return d.router.KernelDenies(arch) }

var _ handler.KernelDenier = (*dirFallback)(nil)

// Handle routes c (see dirFallback).
func (d *dirFallback) Handle(c *handler.Ctx) handler.Action {
	var flags uint64
	var pathArg int
	switch c.SyscallName() {
	case "open":
		flags, pathArg = c.Arg(1), 0
	case "openat":
		flags, pathArg = c.Arg(2), 1
	default:
		return d.router.Handle(c)
	}
	const writeOrCreate = unix.O_WRONLY | unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC | unix.O_TMPFILE | unix.O_DIRECTORY | unix.O_PATH
	if flags&writeOrCreate != 0 {
		return d.router.Handle(c)
	}
	path, err := c.ReadPath(pathArg)
	if err != nil || d.files.Allowed(path) || !d.dirs.Allowed(path) {
		return d.router.Handle(c)
	}
	a := d.dirs.Handle(c)
	if a.Kind() != handler.KindInjectFD {
		return a
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(a.Value()), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(int(a.Value()))
		return handler.Errno(unix.EACCES)
	}
	return a
}
