// Package pathpolicy decides file opens and execs of a supervised process by
// path, without the race of a check-then-Continue handler.
//
// # Why Continue cannot enforce a path policy
//
// A handler that reads the path of an openat, decides it is allowed and
// answers Continue lets the kernel run the syscall, which reads the path
// from the process's memory again. Another thread of the process can change
// the bytes between the two reads: the handler approved "/tmp/ok" and the
// kernel opens "/etc/shadow".
//
// # How this package decides
//
// The open handler reads the path once and performs the open itself, on that
// copy, relative to the process's own working directory or dirfd (taken
// through /proc/PID). It first opens the target with O_PATH, which has no
// side effects, resolving with RESOLVE_NO_MAGICLINKS so that
// /proc/PID/root, /proc/PID/fd/N and other magic links cannot lead outside
// the policy; it checks the canonical path of the object it got (symlinks
// and ".." resolved by the kernel), then reopens that same object with the
// process's flags and injects the descriptor into the process with
// ADDFD+SEND. What the process later does to its memory changes nothing.
// A file that does not exist yet is created in its parent directory, opened
// and checked the same way first.
//
// # The /proc of other processes
//
// The supervisor opens as itself: as root, outside the process's Landlock
// domain, and for its own /proc/PID files as the owner, so ptrace access
// checks pass. Without a guard an allowed open of /proc/SUPERVISOR/mem
// read-write would hand the process the supervisor's memory. So whatever
// the rules allow, an open whose object (after the kernel resolved it) is
// on procfs beneath /proc/PID or /proc/PID/task/TID of a process outside
// the run, or of the supervisor, is refused with the policy's errno
// (EACCES). The run is WithInRun's membership, by default runset.Of the
// trapped task (its process group when that is not the supervisor's). This
// holds on any procfs mount; an object on a procfs subtree mounted
// elsewhere (no procfs root on its path) is refused. Objects of no process
// (/proc/cpuinfo, /proc/sys/...) are left to the rules.
//
// Names that mean "the opener" are rewritten to mean the process, not the
// supervisor: /proc/self is /proc/TGID, /proc/thread-self is
// /proc/TGID/task/TID, /proc/net and /proc/mounts (links into self) are
// /proc/TGID/net and /proc/TGID/mounts, also when reached relative to a
// working directory or dirfd in /proc. Any other way to the supervisor's
// /proc/self (a symlink the process made, "/proc/./self") resolves to the
// supervisor's own directory and is refused by the rule above. Magic links
// (/proc/PID/fd/N, /proc/self/cwd) are refused as before (ELOOP).
//
// # Every path operation, not only opens
//
// A policy guards files beneath paths, and files are reached by more than
// open. OpenPolicy is registered (Syscalls) on every operation that names
// a file by path on the arch: the open family (open, openat, openat2,
// creat), link and linkat, symlink and symlinkat, rename, renameat and
// renameat2, unlink, unlinkat and rmdir, mkdir, mkdirat, mknod and
// mknodat, truncate, chmod, fchmodat and fchmodat2, chown, lchown and
// fchownat, utime, utimes, utimensat and futimesat, setxattr, lsetxattr,
// removexattr, lremovexattr, setxattrat and removexattrat, file_setattr,
// inotify_add_watch and fanotify_mark, bind of a unix socket to a path,
// and execve and execveat (the list is checked against the
// syscall-argument model, syscalls/args, on every arch). Each is performed on the process's behalf on the objects that
// were checked, never answered Continue after a check:
//
//   - The parent directory of a name that is made, removed or moved is
//     resolved (openat2 O_PATH, RESOLVE_NO_MAGICLINKS, relative to the
//     process's working directory or dirfd taken from /proc/PID), its
//     canonical path joined with the name is checked, and the operation
//     runs on that directory descriptor: unlinkat, mkdirat, mknodat,
//     symlinkat, linkat, renameat2 (both ends), bind in that directory.
//   - An object whose content or attributes change (truncate, chmod,
//     chown, utimes, xattrs, a watch, a link with AT_SYMLINK_FOLLOW or
//     AT_EMPTY_PATH) is resolved to an O_PATH descriptor, checked like an
//     open, and acted on through that descriptor (fchmodat2 and fchownat
//     with AT_EMPTY_PATH, truncate and setxattr of /proc/self/fd/N).
//
// Decisions are made on the object: what is removed, moved or linked must
// be allowed where it is, and where it goes; a file the deny list names
// exactly is also known by its inode (no new name for it, whatever the
// directory); a directory that moves may not carry a denied tree beneath
// it (renaming /data when /data/secret is denied), nor land where one
// would be. So nothing inside a denied tree is linked or renamed out,
// nothing outside an allowed tree is linked or renamed in, and nothing
// leaves an allowed tree by rename. A symlink is made as asked: its target
// is a string, decided when something follows it.
//
// Every operation runs as the process (handler.Ctx.AsProcess): its
// identity, capabilities and Landlock layers, in its mount namespace (the
// sandbox's confined threads enter it), with its umask for what it
// creates; so the kernel checks it as it would the process's own call.
//
// Rules are resolved when loaded: a rule written through a symlinked
// directory (/var/run/x where /var/run is /run) also names the real
// directory; globs stay globs, their literal leading directories resolved.
// Allow and Deny are decided on canonical paths only.
//
// # Magic links to descriptors
//
// /dev/stdin, /dev/fd/N, /proc/self/fd/N and the like name a descriptor
// the process holds. The kernel resolves them for the process; the
// supervisor must not (its /proc/self is its own, and following a magic
// link would escape RESOLVE_NO_MAGICLINKS). When a lookup fails on a
// magic link, the path is walked one component at a time as the process,
// symlinks read and followed by the walk, /proc/self and
// /proc/thread-self meaning the process; a /proc/PID/fd/N link of a
// process of the run is opened O_PATH by the supervisor (never one of the
// supervisor or a stranger), and the object it names is checked like any
// open and reopened, as the process, with the requested flags. An object
// with no path (pipe, socket, anonymous inode, memfd) is already the
// process's: it reopens as the kernel allows. Other magic links (cwd,
// root, exe) stay refused (ELOOP). With openat2, RESOLVE_BENEATH and
// RESOLVE_IN_ROOT make a magic link fail with EXDEV and
// RESOLVE_NO_MAGICLINKS with ELOOP, as in the kernel; the resolve flags
// apply relative to the process's dirfd; an open_how larger than the
// kernel's is E2BIG unless the extra bytes are zero.
//
// # O_PATH
//
// SECCOMP_IOCTL_NOTIF_ADDFD refuses O_PATH files, so an O_PATH open is
// checked and then answered Continue: the kernel opens the path again and,
// if another thread changed it meanwhile, the descriptor may name a denied
// object. That race is accepted because an O_PATH descriptor gives no
// access by itself, and every use of one is mediated on its object: a
// *at call relative to it (the dirfd is the process's; the path is
// resolved from it and the object checked), a reopen through
// /proc/self/fd/N or /dev/fd/N (checked as an open, above), a linkat with
// AT_EMPTY_PATH or of /proc/self/fd/N with AT_SYMLINK_FOLLOW (the object
// is checked), fchownat, fchmodat2 and utimensat with AT_EMPTY_PATH, and
// execveat with AT_EMPTY_PATH. read, write, mmap, fchmod, ftruncate and
// fsetxattr refuse O_PATH descriptors in the kernel (EBADF); fstat,
// readlinkat and fchdir are metadata or lead back to mediated lookups.
// open_by_handle_at, io_uring, uselib and open_tree would reach files
// without any of this: KernelDenies names them, to be denied in the kernel
// while the policy is active.
//
// # Another root: containers
//
// A supervisor that serves processes whose "/" is not its own (the OCI
// agent serving a container) gives the policy their root
// (OpenPolicy.WithRoot, ExecPolicy.WithRoot with a Root, usually OpenRoot
// of the container's first process). Every lookup then starts there: an
// absolute path is resolved from the root with RESOLVE_IN_ROOT, so that
// ".." and absolute symlinks stay inside it; a relative one from the
// process's dirfd or working directory with RESOLVE_BENEATH, and when it
// must leave that directory ("..", an absolute symlink) from the root
// again with the directory's path in front (a directory renamed between
// the two lookups resolves by its new name, inside the root all the same).
// The component walk through magic links (/proc/self/fd/N) uses the same
// calls. Canonical paths are the root's ("/secret" is the container's
// /secret), the rules' symlinks and denied files are looked up in the
// root, and /proc/self names the task by its pid in its innermost pid
// namespace (NSpid), as the container's procfs numbers it. The policy's
// operations are still run through handler.Ctx.AsProcess: the agent runs
// them with the calling task's credentials (see sandbox/agent).
//
// # Limits
//
// stat, access, readlink, getxattr, listxattr and similar metadata
// syscalls are not covered: they reveal names and attributes, not
// contents. A hard link made before the policy (or by a process outside
// the run) is another name of the same file: only a file the deny list
// names exactly is recognised by its inode. Extended attributes of a
// symlink itself (lsetxattr on a symlink) are refused with EPERM. A socket
// bound on the process's behalf has its name relative to the directory
// (getsockname returns the last component). exec cannot be made race-free
// with seccomp user notification: execve must be answered Continue, and
// the kernel reads the path again; OpenPolicy refuses an exec of a denied
// file (and of a descriptor's object that an open would refuse), which
// stops programs that exec a denied path plainly; against a hostile
// process, enforce exec with Landlock (read-only rules grant execute only
// beneath the listed paths). ExecPolicy decides which programs may run,
// with the same limit.
package pathpolicy
