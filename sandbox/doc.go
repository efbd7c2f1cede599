// Package sandbox launches a command under seccomp user-notification
// supervision, with Landlock rules, a kernel-side deny list and limits.
//
// A program that uses it calls Init first thing in main: commands are
// started through a re-executed copy of the program (the helper), which
// confines its own thread and executes the command from it.
//
// # Isolation
//
// Every run, whatever the Policy, assumes the command runs as root and is
// hostile, and keeps it a stranger to its supervisor and to the host:
//
//   - Identity: by default (IdentityProtected) the command keeps the
//     caller's user and groups, has no capability in any set (Policy.CapAdd
//     keeps named ones), and cannot write the places the kernel or the
//     system runs as root: a Landlock layer handles every write right and
//     grants it everywhere else, and, where the supervisor is root, a mount
//     namespace of the command's has the same trees read-only (chmod,
//     utimes, xattrs). IdentityUserNamespace makes it root of a user
//     namespace mapped to nobody; IdentityHostRoot is "no boundary".
//   - The supervisor is out of reach: it is undumpable (PR_SET_DUMPABLE 0),
//     the command is in a Landlock domain (no ptrace across it, and on
//     Linux 6.12+ no signals and no abstract unix sockets across it), calls
//     that act on other processes by pid (prlimit64, sched_set*,
//     setpriority, ioprio_set) reach only processes of the run, and what
//     handlers do on the command's behalf runs on supervisor threads
//     confined as the command is (handler.Ctx.AsProcess), each in a
//     Landlock domain of its own.
//   - Descriptors: only 0, 1, 2 and Cmd.ExtraFiles are inherited.
//   - Host services: unix sockets outside the run are reachable by address
//     only when Policy.AllowUnix names them.
//   - Kernel attack surface: DefaultDenyList, clone with CLONE_NEW* flags,
//     clone3 and openat2 (ENOSYS), TIOCSTI and TIOCLINUX, and set-ID modes
//     are refused in the filter; Policy.AllowSyscalls takes names out.
//
// docs/security.md has the threat table: each vector, its mechanism, the
// kernel it needs and the test that tries it.
package sandbox
