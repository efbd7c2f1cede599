package args

import "golang.org/x/sys/unix"

// FollowsLast reports whether the kernel follows a symbolic link in the
// last component of the path, given the syscall's raw arguments: the
// default (Follow) changed by AT_SYMLINK_NOFOLLOW or AT_SYMLINK_FOLLOW,
// O_NOFOLLOW or O_CREAT|O_EXCL, IN_DONT_FOLLOW, FAN_MARK_DONT_FOLLOW in
// the Flags argument. known is false when the answer is not in registers
// (openat2's flags are in memory) or the flags are specific to the
// syscall (Hex: umount2, move_mount, fspick); follow is the default then.
func (p PathArg) FollowsLast(raw [6]uint64) (follow, known bool) {
	if p.Flags < 0 || p.Flags >= len(raw) {
		return p.Follow, true
	}
	v := raw[p.Flags] & 0xffffffff // an int in the kernel
	switch p.FlagsKind {
	case AtFlags, AccessFlags:
		if p.Follow {
			return v&unix.AT_SYMLINK_NOFOLLOW == 0, true
		}
		return v&unix.AT_SYMLINK_FOLLOW != 0, true
	case OpenFlags:
		if v&unix.O_NOFOLLOW != 0 || v&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL {
			return false, true
		}
		return p.Follow, true
	case InotifyMask:
		return p.Follow && v&unix.IN_DONT_FOLLOW == 0, true
	case FanotifyMarkFlags:
		return p.Follow && v&unix.FAN_MARK_DONT_FOLLOW == 0, true
	}
	return p.Follow, false
}

// EmptyPath reports whether the Flags argument has AT_EMPTY_PATH: an empty
// path then names the object the dirfd refers to (newfstatat, statx,
// linkat, execveat, fchownat, name_to_handle_at, open_tree, the *xattrat
// calls...). Kernels also accept an empty or NULL path without the flag in
// a few syscalls (utimensat with NULL): the caller handles those.
func (p PathArg) EmptyPath(raw [6]uint64) bool {
	if p.Flags < 0 || p.Flags >= len(raw) || p.Dirfd < 0 {
		return false
	}
	switch p.FlagsKind {
	case AtFlags, AccessFlags:
		return raw[p.Flags]&unix.AT_EMPTY_PATH != 0
	}
	return false
}
