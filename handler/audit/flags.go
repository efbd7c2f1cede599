package audit

import (
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// flagName names a bit set; a set with several bits (O_SYNC, O_TMPFILE)
// comes before its parts.
type flagName struct {
	bits uint64
	name string
}

// flagString names the bits of v in table order; leftover bits follow in
// hex, and 0 with no name is "0".
func flagString(v uint64, names []flagName) string {
	var parts []string
	for _, f := range names {
		if f.bits != 0 && v&f.bits == f.bits {
			parts = append(parts, f.name)
			v &^= f.bits
		}
	}
	if v != 0 {
		parts = append(parts, hex(v))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

// oLargeFile is the kernel's O_LARGEFILE, which x/sys declares as 0 on
// 64-bit arches (it is implied there, but a program may still pass it):
// 0x20000 where O_DIRECTORY is 0x4000 (arm64), 0x8000 elsewhere
// (asm-generic, x86).
var oLargeFile uint64 = map[bool]uint64{true: 0x20000, false: 0x8000}[unix.O_DIRECTORY == 0x4000]

var openFlagNames = []flagName{
	{unix.O_TMPFILE, "O_TMPFILE"}, // includes O_DIRECTORY
	{unix.O_SYNC, "O_SYNC"},       // includes O_DSYNC
	{unix.O_CREAT, "O_CREAT"},
	{unix.O_EXCL, "O_EXCL"},
	{unix.O_NOCTTY, "O_NOCTTY"},
	{unix.O_TRUNC, "O_TRUNC"},
	{unix.O_APPEND, "O_APPEND"},
	{unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_DSYNC, "O_DSYNC"},
	{unix.O_ASYNC, "O_ASYNC"},
	{unix.O_DIRECT, "O_DIRECT"},
	{oLargeFile, "O_LARGEFILE"},
	{unix.O_DIRECTORY, "O_DIRECTORY"},
	{unix.O_NOFOLLOW, "O_NOFOLLOW"},
	{unix.O_NOATIME, "O_NOATIME"},
	{unix.O_CLOEXEC, "O_CLOEXEC"},
	{unix.O_PATH, "O_PATH"},
}

// openFlags names open flags: the access mode, then the other flags.
func openFlags(v uint64) string {
	acc := [...]string{"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"}[v&unix.O_ACCMODE]
	rest := v &^ unix.O_ACCMODE
	if rest == 0 {
		return acc
	}
	return acc + "|" + flagString(rest, openFlagNames)
}

// creates reports whether open flags use the mode argument.
func creates(flags uint64) bool {
	return flags&unix.O_CREAT != 0 || flags&unix.O_TMPFILE == unix.O_TMPFILE
}

// mode shows a file mode in octal: "0644", "0".
func mode(v uint64) Sym {
	if v == 0 {
		return "0"
	}
	return Sym("0" + strconv.FormatUint(v, 8))
}

var atFlagNames = []flagName{
	{unix.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"},
	{unix.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"},
	{unix.AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"},
	{unix.AT_EMPTY_PATH, "AT_EMPTY_PATH"},
	{unix.AT_STATX_FORCE_SYNC, "AT_STATX_FORCE_SYNC"},
	{unix.AT_STATX_DONT_SYNC, "AT_STATX_DONT_SYNC"},
	{unix.AT_RECURSIVE, "AT_RECURSIVE"},
}

// unlinkat and faccessat2 give 0x200 a meaning of their own.
var (
	unlinkFlagNames = []flagName{{unix.AT_REMOVEDIR, "AT_REMOVEDIR"}}
	accessFlagNames = append([]flagName{{unix.AT_EACCESS, "AT_EACCESS"}}, atFlagNames...)
)

// accessMode names an access(2) mode: F_OK or R_OK|W_OK|X_OK.
func accessMode(v uint64) string {
	if v == 0 {
		return "F_OK"
	}
	return flagString(v, []flagName{{unix.R_OK, "R_OK"}, {unix.W_OK, "W_OK"}, {unix.X_OK, "X_OK"}})
}

var renameFlagNames = []flagName{
	{unix.RENAME_NOREPLACE, "RENAME_NOREPLACE"},
	{unix.RENAME_EXCHANGE, "RENAME_EXCHANGE"},
	{unix.RENAME_WHITEOUT, "RENAME_WHITEOUT"},
}

var resolveFlagNames = []flagName{
	{unix.RESOLVE_NO_XDEV, "RESOLVE_NO_XDEV"},
	{unix.RESOLVE_NO_MAGICLINKS, "RESOLVE_NO_MAGICLINKS"},
	{unix.RESOLVE_NO_SYMLINKS, "RESOLVE_NO_SYMLINKS"},
	{unix.RESOLVE_BENEATH, "RESOLVE_BENEATH"},
	{unix.RESOLVE_IN_ROOT, "RESOLVE_IN_ROOT"},
	{0x20, "RESOLVE_CACHED"},
}

// cloneFlagNames are the flags of clone and clone3; clone's low byte is
// the exit signal instead (CSIGNAL), where clone3 has CLONE_NEWTIME.
var cloneFlagNames = []flagName{
	{unix.CLONE_VM, "CLONE_VM"},
	{unix.CLONE_FS, "CLONE_FS"},
	{unix.CLONE_FILES, "CLONE_FILES"},
	{unix.CLONE_SIGHAND, "CLONE_SIGHAND"},
	{unix.CLONE_PIDFD, "CLONE_PIDFD"},
	{unix.CLONE_PTRACE, "CLONE_PTRACE"},
	{unix.CLONE_VFORK, "CLONE_VFORK"},
	{unix.CLONE_PARENT, "CLONE_PARENT"},
	{unix.CLONE_THREAD, "CLONE_THREAD"},
	{unix.CLONE_NEWNS, "CLONE_NEWNS"},
	{unix.CLONE_SYSVSEM, "CLONE_SYSVSEM"},
	{unix.CLONE_SETTLS, "CLONE_SETTLS"},
	{unix.CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID"},
	{unix.CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID"},
	{unix.CLONE_DETACHED, "CLONE_DETACHED"},
	{unix.CLONE_UNTRACED, "CLONE_UNTRACED"},
	{unix.CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID"},
	{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
	{unix.CLONE_NEWUTS, "CLONE_NEWUTS"},
	{unix.CLONE_NEWIPC, "CLONE_NEWIPC"},
	{unix.CLONE_NEWUSER, "CLONE_NEWUSER"},
	{unix.CLONE_NEWPID, "CLONE_NEWPID"},
	{unix.CLONE_NEWNET, "CLONE_NEWNET"},
	{unix.CLONE_IO, "CLONE_IO"},
	{unix.CLONE_CLEAR_SIGHAND, "CLONE_CLEAR_SIGHAND"},
	{unix.CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP"},
}

// csignal is the exit-signal byte of clone's flags.
const csignal = 0xff

// cloneFlags names clone's flags: the flags, then the exit signal.
func cloneFlags(v uint64) string {
	sig := v & csignal
	rest := v &^ csignal
	var s string
	if rest != 0 {
		s = flagString(rest, cloneFlagNames)
	}
	if sig != 0 || s == "" {
		if s != "" {
			s += "|"
		}
		s += signal(sig)
	}
	return s
}

// clone3Flags names struct clone_args.flags.
func clone3Flags(v uint64) string {
	return flagString(v, append([]flagName{{unix.CLONE_NEWTIME, "CLONE_NEWTIME"}}, cloneFlagNames...))
}

// signal names a signal number: "SIGCHLD", or the number.
func signal(v uint64) string {
	if v > 0 && v < 65 {
		if name := unix.SignalName(syscall.Signal(v)); name != "" {
			return name
		}
	}
	return strconv.FormatUint(v, 10)
}

var familyNames = map[uint64]string{
	unix.AF_UNSPEC:    "AF_UNSPEC",
	unix.AF_UNIX:      "AF_UNIX",
	unix.AF_INET:      "AF_INET",
	unix.AF_INET6:     "AF_INET6",
	unix.AF_NETLINK:   "AF_NETLINK",
	unix.AF_PACKET:    "AF_PACKET",
	unix.AF_ALG:       "AF_ALG",
	unix.AF_VSOCK:     "AF_VSOCK",
	unix.AF_BLUETOOTH: "AF_BLUETOOTH",
	unix.AF_CAN:       "AF_CAN",
	unix.AF_KEY:       "AF_KEY",
}

// family names an address family: "AF_INET", or the number.
func family(v uint64) string {
	if name, ok := familyNames[v]; ok {
		return name
	}
	return strconv.FormatUint(v, 10)
}

var sockTypeNames = map[uint64]string{
	unix.SOCK_STREAM:    "SOCK_STREAM",
	unix.SOCK_DGRAM:     "SOCK_DGRAM",
	unix.SOCK_RAW:       "SOCK_RAW",
	unix.SOCK_RDM:       "SOCK_RDM",
	unix.SOCK_SEQPACKET: "SOCK_SEQPACKET",
	unix.SOCK_DCCP:      "SOCK_DCCP",
	unix.SOCK_PACKET:    "SOCK_PACKET",
}

var sockFlagNames = []flagName{
	{unix.SOCK_NONBLOCK, "SOCK_NONBLOCK"},
	{unix.SOCK_CLOEXEC, "SOCK_CLOEXEC"},
}

// sockType names socket's type: the type (low 4 bits), then the flags.
func sockType(v uint64) string {
	t := v & 0xf
	s, ok := sockTypeNames[t]
	if !ok {
		s = strconv.FormatUint(t, 10)
	}
	if rest := v &^ 0xf; rest != 0 {
		s += "|" + flagString(rest, sockFlagNames)
	}
	return s
}

var msgFlagNames = []flagName{
	{unix.MSG_OOB, "MSG_OOB"},
	{unix.MSG_PEEK, "MSG_PEEK"},
	{unix.MSG_DONTROUTE, "MSG_DONTROUTE"},
	{unix.MSG_CTRUNC, "MSG_CTRUNC"},
	{unix.MSG_TRUNC, "MSG_TRUNC"},
	{unix.MSG_DONTWAIT, "MSG_DONTWAIT"},
	{unix.MSG_EOR, "MSG_EOR"},
	{unix.MSG_WAITALL, "MSG_WAITALL"},
	{unix.MSG_CONFIRM, "MSG_CONFIRM"},
	{unix.MSG_ERRQUEUE, "MSG_ERRQUEUE"},
	{unix.MSG_NOSIGNAL, "MSG_NOSIGNAL"},
	{unix.MSG_MORE, "MSG_MORE"},
	{unix.MSG_WAITFORONE, "MSG_WAITFORONE"},
	{unix.MSG_FASTOPEN, "MSG_FASTOPEN"},
	{unix.MSG_CMSG_CLOEXEC, "MSG_CMSG_CLOEXEC"},
}

// shutdownHow names shutdown's how.
func shutdownHow(v uint64) string {
	switch v {
	case unix.SHUT_RD:
		return "SHUT_RD"
	case unix.SHUT_WR:
		return "SHUT_WR"
	case unix.SHUT_RDWR:
		return "SHUT_RDWR"
	}
	return strconv.FormatUint(v, 10)
}
