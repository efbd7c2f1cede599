package args

import (
	"slices"
	"strconv"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Kind says what one syscall argument is and how to read it.
type Kind uint8

// The kinds of argument. A pointer kind whose size or count is in another
// argument names that argument in Arg.Rel.
const (
	// Hex is a value without a more precise kind (shown in hex).
	Hex Kind = iota
	// Ptr is a pointer the model does not follow (an output buffer, a
	// struct the kernel fills in, a timespec).
	Ptr
	// Int is a C int: the low 32 bits, signed.
	Int
	// Long is a signed 64-bit value (off_t, long).
	Long
	// Uint is an unsigned value: size_t, socklen_t, a count.
	Uint
	// Fd is a file descriptor that is not the base of a path.
	Fd
	// Dirfd is a directory descriptor a Path is relative to, or
	// AT_FDCWD; with AT_EMPTY_PATH it is the object itself.
	Dirfd
	// Path is a const char * the kernel looks up as a path name (relative
	// to the Dirfd in Rel, or to the working directory when Rel is -1).
	Path
	// LinkTarget is symlink's target: a C string stored as it is, not
	// looked up.
	LinkTarget
	// String is a C string that is not a path (an xattr name, a file
	// system type, mount's source).
	String
	// OpenFlags are O_* flags.
	OpenFlags
	// Mode is a mode_t: permission and file-type bits.
	Mode
	// CreateMode is open's mode, used by the kernel only when the
	// OpenFlags in Rel have O_CREAT or O_TMPFILE.
	CreateMode
	// AtFlags are AT_* flags (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, ...).
	AtFlags
	// UnlinkFlags are unlinkat's flags (AT_REMOVEDIR).
	UnlinkFlags
	// AccessFlags are faccessat2's flags (AT_EACCESS, AT_SYMLINK_NOFOLLOW,
	// AT_EMPTY_PATH).
	AccessFlags
	// AccessMode is access's mode: F_OK or R_OK|W_OK|X_OK.
	AccessMode
	// RenameFlags are RENAME_* flags.
	RenameFlags
	// OpenHow is a struct open_how pointer; its size is in Rel.
	OpenHow
	// Argv is a NULL-terminated char *const[] of arguments.
	Argv
	// Envp is a NULL-terminated char *const[] of environment entries.
	Envp
	// CloneFlags are clone's flags: CLONE_* with the exit signal in the
	// low byte.
	CloneFlags
	// CloneArgs is a struct clone_args pointer; its size is in Rel.
	CloneArgs
	// Signal is a signal number.
	Signal
	// Pid is a process or thread ID (0, negative: a group, as the
	// syscall says).
	Pid
	// Uid is a user ID (-1: unchanged).
	Uid
	// Gid is a group ID (-1: unchanged).
	Gid
	// Dev is a device number (mknod).
	Dev
	// Family is a socket address family (AF_*).
	Family
	// SockType is a socket type with SOCK_NONBLOCK and SOCK_CLOEXEC.
	SockType
	// SockFlags are SOCK_NONBLOCK|SOCK_CLOEXEC.
	SockFlags
	// Sockaddr is a struct sockaddr pointer the kernel reads: a
	// destination or local address; its length is in Rel.
	Sockaddr
	// SockaddrOut is a struct sockaddr pointer the kernel fills in; Rel
	// holds the socklen_t pointer of its length.
	SockaddrOut
	// Msghdr is a struct msghdr pointer the kernel reads: its msg_name,
	// when set, is the destination (sendmsg).
	Msghdr
	// MsghdrOut is a struct msghdr pointer whose msg_name the kernel
	// fills in (recvmsg).
	MsghdrOut
	// Mmsghdr is a vector of struct mmsghdr sent (sendmmsg): each
	// msg_name a destination; its length is in Rel.
	Mmsghdr
	// MmsghdrOut is a vector of struct mmsghdr received (recvmmsg); its
	// length is in Rel.
	MmsghdrOut
	// MsgFlags are MSG_* flags.
	MsgFlags
	// ShutdownHow is SHUT_RD, SHUT_WR or SHUT_RDWR.
	ShutdownHow
	// Buffer is memory of the length in Rel (read or written by the
	// kernel).
	Buffer
	// XattrArgs is a struct xattr_args pointer (setxattrat, getxattrat);
	// its size is in Rel.
	XattrArgs
	// MountAttr is a struct mount_attr pointer; its size is in Rel.
	MountAttr
	// FileAttr is a struct file_attr pointer; its size is in Rel.
	FileAttr
	// FileHandle is a struct file_handle pointer (name_to_handle_at,
	// open_by_handle_at).
	FileHandle
	// InotifyMask is inotify_add_watch's mask (IN_DONT_FOLLOW, IN_ONLYDIR
	// change the lookup).
	InotifyMask
	// FanotifyMarkFlags are fanotify_mark's FAN_MARK_* flags
	// (FAN_MARK_DONT_FOLLOW, FAN_MARK_ONLYDIR change the lookup).
	FanotifyMarkFlags

	numKinds
)

var kindNames = [numKinds]string{
	Hex: "hex", Ptr: "ptr", Int: "int", Long: "long", Uint: "uint", Fd: "fd",
	Dirfd: "dirfd", Path: "path", LinkTarget: "link_target", String: "string",
	OpenFlags: "open_flags", Mode: "mode", CreateMode: "create_mode",
	AtFlags: "at_flags", UnlinkFlags: "unlink_flags", AccessFlags: "access_flags",
	AccessMode: "access_mode", RenameFlags: "rename_flags", OpenHow: "open_how",
	Argv: "argv", Envp: "envp", CloneFlags: "clone_flags", CloneArgs: "clone_args",
	Signal: "signal", Pid: "pid", Uid: "uid", Gid: "gid", Dev: "dev",
	Family: "family", SockType: "sock_type", SockFlags: "sock_flags",
	Sockaddr: "sockaddr", SockaddrOut: "sockaddr_out", Msghdr: "msghdr",
	MsghdrOut: "msghdr_out", Mmsghdr: "mmsghdr", MmsghdrOut: "mmsghdr_out", MsgFlags: "msg_flags", ShutdownHow: "shutdown_how",
	Buffer: "buffer", XattrArgs: "xattr_args", MountAttr: "mount_attr",
	FileAttr: "file_attr", FileHandle: "file_handle", InotifyMask: "inotify_mask",
	FanotifyMarkFlags: "fanotify_mark_flags",
}

// String returns the kind's name in snake case ("path", "open_flags").
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// needsRel reports whether Arg.Rel of kind k must name another argument.
func (k Kind) needsRel() bool {
	switch k {
	case CreateMode, OpenHow, CloneArgs, Sockaddr, SockaddrOut, Mmsghdr, MmsghdrOut, Buffer,
		XattrArgs, MountAttr, FileAttr:
		return true
	}
	return false
}

// Access is what a syscall does to the object a Path argument names; a set
// of bits.
type Access uint16

// The kinds of access. Open depends on the open flags (Flags of the
// PathArg): O_CREAT may create, O_TRUNC writes, O_PATH only looks up.
const (
	// Stat looks the object up and reads its attributes: stat, access,
	// readlink, getxattr, listxattr, chdir, statfs.
	Stat Access = 1 << iota
	// Open opens the object as the open flags say.
	Open
	// Exec executes the object or loads it as code.
	Exec
	// Create makes a new name here: mkdir, mknod, symlink, the new path
	// of link and rename, creat.
	Create
	// Delete removes the name: unlink, rmdir, the old path of rename,
	// and the new one, which a rename replaces.
	Delete
	// Link gives the object another name: link's old path, rename's
	// old path (the object moves).
	Link
	// Write changes the object's content: truncate, acct.
	Write
	// SetAttr changes the object's attributes: chmod, chown, utimes,
	// setxattr, removexattr.
	SetAttr
	// Mount changes the mount table, the root or swap: mount, umount,
	// pivot_root, chroot, swapon, open_tree, quotactl.
	Mount
	// Watch watches the object's events: inotify, fanotify.
	Watch
)

var accessNames = []string{"stat", "open", "exec", "create", "delete", "link", "write", "setattr", "mount", "watch"}

// String returns the set's names joined by "|" ("create|delete"), "0"
// when empty.
func (a Access) String() string {
	s := ""
	for i, n := range accessNames {
		if a&(1<<i) != 0 {
			if s != "" {
				s += "|"
			}
			s += n
		}
	}
	if s == "" {
		return "0"
	}
	return s
}

// Arg is one argument of a syscall.
type Arg struct {
	// Name is the argument's name, as the man page calls it ("dirfd",
	// "path", "flags").
	Name string
	// Kind says what the argument is.
	Kind Kind
	// Rel is the index of the argument this one is read with, -1 when
	// none: a Path's Dirfd (-1: the working directory); the OpenFlags of a
	// CreateMode; the length or size of Sockaddr, OpenHow, CloneArgs,
	// Buffer, XattrArgs, MountAttr, FileAttr; the socklen_t pointer of a
	// SockaddrOut; the count of Mmsghdr.
	Rel int
	// Flags is, for a Path, the index of the argument whose bits change
	// how it is looked up (AT_SYMLINK_NOFOLLOW, AT_SYMLINK_FOLLOW,
	// AT_EMPTY_PATH, O_NOFOLLOW, RESOLVE_*, IN_DONT_FOLLOW, ...; its Kind
	// says which), -1 when none. Unused for other kinds (-1).
	Flags int
	// Access is, for a Path, what the syscall does to the object.
	Access Access
	// Follow is, for a Path, whether a symbolic link in the last
	// component is followed when Flags do not say otherwise.
	Follow bool
}

// Layout is the argument list of one syscall on one arch.
type Layout struct {
	// Name is the syscall's canonical name.
	Name string
	// Args are the arguments in register order; a syscall takes no
	// others.
	Args []Arg
}

// PathArg is one looked-up path of a syscall.
type PathArg struct {
	// Index is the argument holding the path.
	Index int
	// Dirfd is the argument holding the directory the path is relative
	// to, -1 for the working directory.
	Dirfd int
	// Flags is the argument whose bits change the lookup, -1 when none
	// (see Arg.Flags); FlagsKind is its Kind (AtFlags, OpenFlags, OpenHow
	// in memory, ...).
	Flags     int
	FlagsKind Kind
	// Access is what the syscall does to the object.
	Access Access
	// Follow reports whether a symbolic link in the last component is
	// followed unless Flags say otherwise.
	Follow bool
}

// Of returns the layout of the named syscall on arch. ok is false when
// arch has no such syscall (a nil arch has none) or the model does not
// describe it. The Layout shares memory with the model: do not modify it.
func Of(arch *syscalls.Arch, name string) (l Layout, ok bool) {
	if arch == nil {
		return Layout{}, false
	}
	nr, err := arch.Number(name)
	if err != nil {
		return Layout{}, false
	}
	canon, _ := arch.Name(nr)
	if per, ok := perArch[canon]; ok {
		a, ok := per[arch]
		return Layout{Name: canon, Args: a}, ok
	}
	a, ok := model[canon]
	return Layout{Name: canon, Args: a}, ok
}

// Names returns the syscalls of arch the model describes, sorted.
func Names(arch *syscalls.Arch) []string {
	var out []string
	for _, n := range allNames() {
		if _, ok := Of(arch, n); ok {
			out = append(out, n)
		}
	}
	return out
}

func allNames() []string {
	names := make([]string, 0, len(model)+len(perArch))
	for n := range model {
		names = append(names, n)
	}
	for n := range perArch {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Arg returns argument i, false when the syscall has no argument i.
func (l Layout) Arg(i int) (Arg, bool) {
	if i < 0 || i >= len(l.Args) {
		return Arg{}, false
	}
	return l.Args[i], true
}

// Index returns the index of the first argument of kind k, -1 when none.
func (l Layout) Index(k Kind) int {
	for i, a := range l.Args {
		if a.Kind == k {
			return i
		}
	}
	return -1
}

// Paths returns the looked-up path arguments in order (symlink's target,
// a LinkTarget, is not one).
func (l Layout) Paths() []PathArg {
	var out []PathArg
	for i := range l.Args {
		if p, ok := l.PathAt(i); ok {
			out = append(out, p)
		}
	}
	return out
}

// Path returns the first looked-up path argument: the one a log shows
// for the syscall.
func (l Layout) Path() (PathArg, bool) {
	for i := range l.Args {
		if p, ok := l.PathAt(i); ok {
			return p, true
		}
	}
	return PathArg{}, false
}

// PathAt returns argument i as a PathArg, false when it is not a Path.
func (l Layout) PathAt(i int) (PathArg, bool) {
	a, ok := l.Arg(i)
	if !ok || a.Kind != Path {
		return PathArg{}, false
	}
	p := PathArg{Index: i, Dirfd: a.Rel, Flags: a.Flags, FlagsKind: Hex, Access: a.Access, Follow: a.Follow}
	if f, ok := l.Arg(a.Flags); ok {
		p.FlagsKind = f.Kind
	}
	return p, true
}

// Sockaddr returns the arguments of the sockaddr the kernel reads (bind,
// connect, sendto's destination) and of its length. Addresses inside a
// msghdr (sendmsg, sendmmsg) are not arguments: see Index(Msghdr) and
// Sized(Mmsghdr); SendsAddress covers all of them.
func (l Layout) Sockaddr() (ptr, length int, ok bool) {
	i := l.Index(Sockaddr)
	if i < 0 {
		return -1, -1, false
	}
	return i, l.Args[i].Rel, true
}

// SendsAddress reports whether the syscall passes the kernel a socket
// address to reach or to bind: a Sockaddr argument (bind, connect, sendto)
// or one inside a sent Msghdr or Mmsghdr (sendmsg, sendmmsg). Received
// addresses (accept, recvfrom, recvmsg) do not count.
func (l Layout) SendsAddress() bool {
	return l.Index(Sockaddr) >= 0 || l.Index(Msghdr) >= 0 || l.Index(Mmsghdr) >= 0
}

// Sized returns the argument of kind k, a pointer to a struct read with
// its size (OpenHow, CloneArgs, XattrArgs, MountAttr, FileAttr, Buffer),
// and the argument holding the size.
func (l Layout) Sized(k Kind) (ptr, size int, ok bool) {
	i := l.Index(k)
	if i < 0 || !k.needsRel() {
		return -1, -1, false
	}
	return i, l.Args[i].Rel, true
}

// DirfdOf returns the dirfd argument the path in argument i is relative
// to; ok is false when argument i is not a dirfd-relative Path (an
// absolute path ignores the dirfd: the caller checks that).
func (l Layout) DirfdOf(i int) (dirfd int, ok bool) {
	p, ok := l.PathAt(i)
	if !ok || p.Dirfd < 0 {
		return -1, false
	}
	return p.Dirfd, true
}
