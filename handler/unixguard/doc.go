// Package unixguard keeps a sandboxed run away from the unix sockets of
// the host: a connect, sendto, sendmsg or sendmmsg whose destination is a
// unix socket that no process of the run holds is refused, unless the
// socket is allowed by name.
//
// # Contract
//
// For each destination address of the call (sockaddr.Destinations: the
// address of connect and sendto, msg_name of sendmsg and of each message of
// sendmmsg):
//
//   - another family, no destination (sendto with a NULL address, sendmsg
//     with a NULL msg_name), or an unnamed AF_UNIX address (the family
//     alone): nothing to decide;
//   - a path: resolved as the kernel resolves it for the task (relative to
//     its working directory, within its root, /proc/PID/cwd and
//     /proc/PID/root) to a canonical path. Reachable if that path is, or is
//     beneath, an Options.Allow path, or if a process of the run holds the
//     socket bound there. Otherwise refused with EACCES (PathErrno). A path
//     that does not resolve gets the resolution's error (ENOENT, ELOOP for
//     a magic link such as /proc/self/fd/N), a file that is not a socket
//     ECONNREFUSED, as from the kernel;
//   - an abstract name (sun_path[0] == 0): reachable if Options.Allow
//     lists it as "@NAME" (exact bytes), or if a process of the run holds
//     the socket bound to it in the task's network namespace. Otherwise
//     refused with EPERM (AbstractErrno);
//   - an AF_UNIX address longer than struct sockaddr_un: EINVAL, as from
//     the kernel.
//
// The call goes on (Continue) when every destination is reachable; the
// first unreachable one fails the whole call (sendmmsg sends none). The
// errnos are those the kernel's own layers give (see below), so a program
// sees the same error whichever layer refused; both mean "you may not
// reach this" to programs, which fall back as for a missing service.
//
// The Guard never connects or sends on the task's behalf: the peer would
// see the supervisor's credentials (SO_PEERCRED, SCM_CREDENTIALS) and
// trust it as such.
//
// # Held by the run
//
// "A process of the run holds the socket" means: the bound socket (a
// listening stream or seqpacket socket, or a datagram socket) is open in
// /proc/PID/fd of a process for which Options.InRun holds, the supervisor
// excepted. The socket's inode is found through NETLINK_SOCK_DIAG for
// AF_UNIX (CONFIG_UNIX_DIAG): for a path, the socket whose bound file has
// the device and inode of the resolved file (UDIAG_SHOW_VFS); for an
// abstract name, the socket bound to exactly that name (UDIAG_SHOW_NAME).
// Then the run's processes' descriptors are read, each a readlink.
//
// It fails closed: without sock_diag (CONFIG_UNIX_DIAG=n or an unloaded
// module), with a task in another network namespace than the supervisor
// (only the supervisor's can be listed), or with descriptors that cannot
// be read, nothing counts as held and only Options.Allow lets a socket
// through. The run's own sockets then look like strangers.
//
// Cost: an AF_UNIX destination that is not allowed costs one sock_diag
// dump of the namespace's unix sockets plus a readlink per descriptor of
// the run's processes (a scan of /proc). Other calls cost the trap and a
// read of the address: a sendmsg on a connected socket still traps to find
// that it has no destination. sendto needs the Guard only with an address:
// NonZeroArg lets the filter trap only those.
//
// # What it cannot do: races, and the kernel mechanisms that can
//
// The Guard reads the address from the task's memory and answers Continue:
// the kernel then reads the address again. A task with two threads can
// swap the address between the two reads, and any process of the run can
// swap the file at the path (rename, symlink) between the Guard's
// resolution and the kernel's. Against a hostile program this is a filter
// for honest programs and a tripwire, not a boundary. The race-free
// mechanisms are the kernel's, and this package is meant to be their
// second layer:
//
//   - abstract sockets: Landlock's scope LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET,
//     Landlock ABI 6 (Linux 6.12), refuses with EPERM a connect or send to
//     an abstract socket created outside the task's Landlock domain
//     (https://docs.kernel.org/userspace-api/landlock.html, "Scope flags").
//   - path-named sockets: the file system access right
//     LANDLOCK_ACCESS_FS_RESOLVE_UNIX, Landlock ABI 9 (Linux 7.1; kernel
//     commit "landlock: Control pathname UNIX domain socket resolution by
//     path", Günther Noack, April 2026), refuses with EACCES the lookup of a
//     socket's path in connect and sendmsg unless a path-beneath rule grants
//     it or the socket was created in the same Landlock domain. Kernels
//     before it (this project's reference machine has ABI 7) have no
//     race-free control of path-named sockets short of a mount namespace.
//
// Abstract names in Options.Allow cannot get past that Landlock scope,
// which has no exceptions: a run that must reach an allowed abstract name
// needs the scope left out, and then this package is the only layer.
//
// Other ways around a trap on these syscalls are closed elsewhere:
// io_uring (IORING_OP_CONNECT, IORING_OP_SENDMSG) must be denied, and a
// socket already connected to a host service must not be inherited (only
// descriptors passed explicitly reach the command).
//
// # Limits
//
// A chrooted task's relative path is resolved from its root joined with
// its working directory as the supervisor sees both. A task in another
// mount namespace (sandbox gives the command one for its read-only system
// areas) has absolute paths resolved in its own, through /proc/PID/root,
// but the absolute symlinks met by a relative path resolved in the
// supervisor's; a read-only bind mount keeps the device and inode that
// identify a bound socket. Sockets are checked when addressed, not when received:
// a descriptor passed in over an allowed socket is not checked. Only
// /proc/PID/fd of processes is read, not that of threads that do not share
// their process's descriptor table (clone without CLONE_FILES).
//
// # Use
//
//	g, err := unixguard.New(unixguard.Options{
//		Allow: []string{"/run/allowed.sock", "@allowed-name"},
//		InRun: runset.ProcessGroup(commandPgid),
//	})
//	for _, name := range g.Syscalls(nil) {
//		cmd.Handle(name, g)
//	}
package unixguard
