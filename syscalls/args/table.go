package args

import "github.com/sandlock-go/sandlock-go/syscalls"

// a is an argument of kind k read on its own.
func a(name string, k Kind) Arg { return Arg{Name: name, Kind: k, Rel: -1, Flags: -1} }

// r is an argument of kind k read with argument rel (a length, a size,
// the flags of a create mode).
func r(name string, k Kind, rel int) Arg { return Arg{Name: name, Kind: k, Rel: rel, Flags: -1} }

// p is a path relative to the working directory whose last symlink is
// followed; at, flags and nofollow refine it.
func p(name string, acc Access) Arg {
	return Arg{Name: name, Kind: Path, Rel: -1, Flags: -1, Access: acc, Follow: true}
}

// at makes a path relative to the dirfd in argument i.
func (x Arg) at(i int) Arg { x.Rel = i; return x }

// flags names the argument whose bits change the path's lookup.
func (x Arg) flags(i int) Arg { x.Flags = i; return x }

// nofollow marks a path whose last symlink is not followed by default.
func (x Arg) nofollow() Arg { x.Follow = false; return x }

var (
	dirfd    = a("dirfd", Dirfd)
	fd       = a("fd", Fd)
	mode     = a("mode", Mode)
	atFlags  = a("flags", AtFlags)
	statbuf  = a("statbuf", Ptr)
	xname    = a("name", String)
	size     = a("size", Uint)
	pid      = a("pid", Pid)
	msgFlags = a("flags", MsgFlags)
)

// model is the argument list of each syscall, by canonical name, the same
// on every arch that has it; perArch holds the syscalls whose list
// depends on the arch. Each row follows the kernel's SYSCALL_DEFINE (see
// include/linux/syscalls.h); argument names are the man pages'.
var model = map[string][]Arg{
	// open family
	"open":              {p("path", Open).flags(1), a("flags", OpenFlags), r("mode", CreateMode, 1)},
	"openat":            {dirfd, p("path", Open).at(0).flags(2), a("flags", OpenFlags), r("mode", CreateMode, 2)},
	"openat2":           {dirfd, p("path", Open).at(0).flags(2), r("how", OpenHow, 3), size},
	"creat":             {p("path", Open|Create|Write), mode},
	"name_to_handle_at": {dirfd, p("path", Stat).at(0).flags(4).nofollow(), a("handle", FileHandle), a("mount_id", Ptr), atFlags},
	"open_by_handle_at": {a("mount_fd", Fd), a("handle", FileHandle), a("flags", OpenFlags)},

	// attributes
	"stat":       {p("path", Stat), statbuf},
	"lstat":      {p("path", Stat).nofollow(), statbuf},
	"fstat":      {fd, statbuf},
	"newfstatat": {dirfd, p("path", Stat).at(0).flags(3), statbuf, atFlags},
	"statx":      {dirfd, p("path", Stat).at(0).flags(2), atFlags, a("mask", Hex), a("statxbuf", Ptr)},
	"statfs":     {p("path", Stat), a("buf", Ptr)},
	"fstatfs":    {fd, a("buf", Ptr)},
	"access":     {p("path", Stat), a("mode", AccessMode)},
	"faccessat":  {dirfd, p("path", Stat).at(0), a("mode", AccessMode)},
	"faccessat2": {dirfd, p("path", Stat).at(0).flags(3), a("mode", AccessMode), a("flags", AccessFlags)},
	"readlink":   {p("path", Stat).nofollow(), r("buf", Buffer, 2), a("bufsiz", Uint)},
	"readlinkat": {dirfd, p("path", Stat).at(0).nofollow(), r("buf", Buffer, 3), a("bufsiz", Uint)},

	// names
	"unlink":    {p("path", Delete).nofollow()},
	"unlinkat":  {dirfd, p("path", Delete).at(0).nofollow(), a("flags", UnlinkFlags)},
	"rmdir":     {p("path", Delete).nofollow()},
	"mkdir":     {p("path", Create).nofollow(), mode},
	"mkdirat":   {dirfd, p("path", Create).at(0).nofollow(), mode},
	"mknod":     {p("path", Create).nofollow(), mode, a("dev", Dev)},
	"mknodat":   {dirfd, p("path", Create).at(0).nofollow(), mode, a("dev", Dev)},
	"rename":    {p("oldpath", Delete|Link).nofollow(), p("newpath", Create|Delete).nofollow()},
	"renameat":  {a("olddirfd", Dirfd), p("oldpath", Delete|Link).at(0).nofollow(), a("newdirfd", Dirfd), p("newpath", Create|Delete).at(2).nofollow()},
	"renameat2": {a("olddirfd", Dirfd), p("oldpath", Delete|Link).at(0).nofollow(), a("newdirfd", Dirfd), p("newpath", Create|Delete).at(2).nofollow(), a("flags", RenameFlags)},
	"link":      {p("oldpath", Link).nofollow(), p("newpath", Create).nofollow()},
	"linkat":    {a("olddirfd", Dirfd), p("oldpath", Link).at(0).flags(4).nofollow(), a("newdirfd", Dirfd), p("newpath", Create).at(2).nofollow(), atFlags},
	"symlink":   {a("target", LinkTarget), p("linkpath", Create).nofollow()},
	"symlinkat": {a("target", LinkTarget), a("newdirfd", Dirfd), p("linkpath", Create).at(1).nofollow()},

	// directories and roots
	"chdir":      {p("path", Stat)},
	"fchdir":     {fd},
	"chroot":     {p("path", Mount)},
	"pivot_root": {p("new_root", Mount), p("put_old", Mount)},

	// changes
	"chmod":     {p("path", SetAttr), mode},
	"fchmod":    {fd, mode},
	"fchmodat":  {dirfd, p("path", SetAttr).at(0), mode},
	"fchmodat2": {dirfd, p("path", SetAttr).at(0).flags(3), mode, atFlags},
	"chown":     {p("path", SetAttr), a("owner", Uid), a("group", Gid)},
	"lchown":    {p("path", SetAttr).nofollow(), a("owner", Uid), a("group", Gid)},
	"fchown":    {fd, a("owner", Uid), a("group", Gid)},
	"fchownat":  {dirfd, p("path", SetAttr).at(0).flags(4), a("owner", Uid), a("group", Gid), atFlags},
	"truncate":  {p("path", Write), a("length", Long)},
	"ftruncate": {fd, a("length", Long)},
	"utime":     {p("path", SetAttr), a("times", Ptr)},
	"utimes":    {p("path", SetAttr), a("times", Ptr)},
	"futimesat": {dirfd, p("path", SetAttr).at(0), a("times", Ptr)},
	"utimensat": {dirfd, p("path", SetAttr).at(0).flags(3), a("times", Ptr), atFlags},

	// extended attributes
	"setxattr":      {p("path", SetAttr), xname, r("value", Buffer, 3), size, a("flags", Hex)},
	"lsetxattr":     {p("path", SetAttr).nofollow(), xname, r("value", Buffer, 3), size, a("flags", Hex)},
	"fsetxattr":     {fd, xname, r("value", Buffer, 3), size, a("flags", Hex)},
	"getxattr":      {p("path", Stat), xname, r("value", Buffer, 3), size},
	"lgetxattr":     {p("path", Stat).nofollow(), xname, r("value", Buffer, 3), size},
	"fgetxattr":     {fd, xname, r("value", Buffer, 3), size},
	"listxattr":     {p("path", Stat), r("list", Buffer, 2), size},
	"llistxattr":    {p("path", Stat).nofollow(), r("list", Buffer, 2), size},
	"flistxattr":    {fd, r("list", Buffer, 2), size},
	"removexattr":   {p("path", SetAttr), xname},
	"lremovexattr":  {p("path", SetAttr).nofollow(), xname},
	"fremovexattr":  {fd, xname},
	"setxattrat":    {dirfd, p("path", SetAttr).at(0).flags(2), a("at_flags", AtFlags), xname, r("args", XattrArgs, 5), size},
	"getxattrat":    {dirfd, p("path", Stat).at(0).flags(2), a("at_flags", AtFlags), xname, r("args", XattrArgs, 5), size},
	"listxattrat":   {dirfd, p("path", Stat).at(0).flags(2), a("at_flags", AtFlags), r("list", Buffer, 4), size},
	"removexattrat": {dirfd, p("path", SetAttr).at(0).flags(2), a("at_flags", AtFlags), xname},
	"file_getattr":  {dirfd, p("path", Stat).at(0).flags(4), r("fattr", FileAttr, 3), size, a("at_flags", AtFlags)},
	"file_setattr":  {dirfd, p("path", SetAttr).at(0).flags(4), r("fattr", FileAttr, 3), size, a("at_flags", AtFlags)},

	// watches
	"inotify_add_watch": {fd, p("path", Watch).flags(2), a("mask", InotifyMask)},
	"fanotify_mark":     {a("fanotify_fd", Fd), a("flags", FanotifyMarkFlags), a("mask", Hex), dirfd, p("path", Watch).at(3).flags(1)},

	// mounts, swap, accounting
	"mount":          {a("source", String), p("target", Mount), a("filesystemtype", String), a("mountflags", Hex), a("data", Ptr)},
	"umount2":        {p("target", Mount).flags(1), a("flags", Hex)},
	"swapon":         {p("path", Mount), a("swapflags", Hex)},
	"swapoff":        {p("path", Mount)},
	"acct":           {p("path", Write)},
	"quotactl":       {a("cmd", Hex), p("special", Mount), a("id", Int), a("addr", Ptr)},
	"open_tree":      {dirfd, p("path", Open|Mount).at(0).flags(2), atFlags},
	"open_tree_attr": {dirfd, p("path", Open|Mount).at(0).flags(2), atFlags, r("attr", MountAttr, 4), size},
	"move_mount":     {a("from_dirfd", Dirfd), p("from_path", Mount).at(0).flags(4).nofollow(), a("to_dirfd", Dirfd), p("to_path", Mount).at(2).flags(4).nofollow(), a("flags", Hex)},
	"fspick":         {dirfd, p("path", Mount).at(0).flags(2), a("flags", Hex)},
	"mount_setattr":  {dirfd, p("path", Mount).at(0).flags(2), atFlags, r("attr", MountAttr, 4), size},

	// descriptors and data
	"close":  {fd},
	"dup":    {a("oldfd", Fd)},
	"dup2":   {a("oldfd", Fd), a("newfd", Fd)},
	"dup3":   {a("oldfd", Fd), a("newfd", Fd), a("flags", OpenFlags)},
	"read":   {fd, r("buf", Buffer, 2), a("count", Uint)},
	"write":  {fd, r("buf", Buffer, 2), a("count", Uint)},
	"ioctl":  {fd, a("request", Hex), a("arg", Hex)},
	"getcwd": {r("buf", Buffer, 1), size},

	// exec
	"execve":   {p("path", Exec), a("argv", Argv), a("envp", Envp)},
	"execveat": {dirfd, p("path", Exec).at(0).flags(4), a("argv", Argv), a("envp", Envp), atFlags},
	"uselib":   {p("library", Exec)},

	// processes
	"fork":               {},
	"vfork":              {},
	"clone3":             {r("args", CloneArgs, 1), size},
	"exit":               {a("status", Int)},
	"exit_group":         {a("status", Int)},
	"kill":               {pid, a("sig", Signal)},
	"tkill":              {a("tid", Pid), a("sig", Signal)},
	"tgkill":             {a("tgid", Pid), a("tid", Pid), a("sig", Signal)},
	"wait4":              {pid, a("wstatus", Ptr), a("options", Hex), a("rusage", Ptr)},
	"setsid":             {},
	"setpgid":            {pid, a("pgid", Pid)},
	"getpid":             {},
	"getppid":            {},
	"pidfd_open":         {pid, a("flags", Hex)},
	"prlimit64":          {pid, a("resource", Int), a("new_limit", Ptr), a("old_limit", Ptr)},
	"sched_setaffinity":  {pid, a("cpusetsize", Uint), r("mask", Buffer, 1)},
	"sched_setscheduler": {pid, a("policy", Int), a("param", Ptr)},
	"sched_setparam":     {pid, a("param", Ptr)},
	"sched_setattr":      {pid, a("attr", Ptr), a("flags", Hex)},
	"setpriority":        {a("which", Int), a("who", Int), a("prio", Int)},
	"ioprio_set":         {a("which", Int), a("who", Int), a("ioprio", Int)},

	// network
	"socket":      {a("domain", Family), a("type", SockType), a("protocol", Int)},
	"socketpair":  {a("domain", Family), a("type", SockType), a("protocol", Int), a("sv", Ptr)},
	"connect":     {fd, r("addr", Sockaddr, 2), a("addrlen", Uint)},
	"bind":        {fd, r("addr", Sockaddr, 2), a("addrlen", Uint)},
	"listen":      {fd, a("backlog", Int)},
	"accept":      {fd, r("addr", SockaddrOut, 2), a("addrlen", Ptr)},
	"accept4":     {fd, r("addr", SockaddrOut, 2), a("addrlen", Ptr), a("flags", SockFlags)},
	"getsockname": {fd, r("addr", SockaddrOut, 2), a("addrlen", Ptr)},
	"getpeername": {fd, r("addr", SockaddrOut, 2), a("addrlen", Ptr)},
	"shutdown":    {fd, a("how", ShutdownHow)},
	"sendto":      {fd, r("buf", Buffer, 2), a("len", Uint), msgFlags, r("dest_addr", Sockaddr, 5), a("addrlen", Uint)},
	"recvfrom":    {fd, r("buf", Buffer, 2), a("len", Uint), msgFlags, r("src_addr", SockaddrOut, 5), a("addrlen", Ptr)},
	"sendmsg":     {fd, a("msg", Msghdr), msgFlags},
	"recvmsg":     {fd, a("msg", MsghdrOut), msgFlags},
	"sendmmsg":    {fd, r("msgvec", Mmsghdr, 2), a("vlen", Uint), msgFlags},
	"recvmmsg":    {fd, r("msgvec", MmsghdrOut, 2), a("vlen", Uint), msgFlags, a("timeout", Ptr)},
}

// clone's order depends on the arch: x86_64 has the kernel's default
// (flags, stack, parent_tid, child_tid, tls); aarch64 and riscv64 select
// CONFIG_CLONE_BACKWARDS (flags, stack, parent_tid, tls, child_tid).
var (
	cloneDefault   = []Arg{a("flags", CloneFlags), a("stack", Ptr), a("parent_tid", Ptr), a("child_tid", Ptr), a("tls", Hex)}
	cloneBackwards = []Arg{a("flags", CloneFlags), a("stack", Ptr), a("parent_tid", Ptr), a("tls", Hex), a("child_tid", Ptr)}
)

// perArch are the syscalls whose arguments differ between archs; every
// arch that has the syscall has a row.
var perArch = map[string]map[*syscalls.Arch][]Arg{
	"clone": {
		syscalls.X86_64:  cloneDefault,
		syscalls.AArch64: cloneBackwards,
		syscalls.RISCV64: cloneBackwards,
	},
}
