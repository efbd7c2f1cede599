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
// # Limits
//
// The supervisor opens files with its own credentials: run it as the same
// user as the sandboxed process (or add Landlock rules). stat, access and
// similar metadata syscalls are not covered. The exec policy (ExecPolicy)
// cannot be made race-free with seccomp user notification: execve must be
// answered Continue to run, and the kernel reads the path again. It stops
// programs that exec a denied path plainly; against a hostile process,
// enforce exec with Landlock (read-only rules grant execute only beneath
// the listed paths).
package pathpolicy
