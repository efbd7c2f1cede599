// Package proclimit caps the number of processes a sandboxed program runs at
// once by trapping process creation.
//
// The sandbox enforces sandbox.Policy.MaxProcesses with the kernel's pids
// controller, in a cgroup of the run, whenever it can make one; this
// limiter is its fallback (and sandbox.ProcessLimitTrap forces it). It has
// a limit real fork lacks: a trapped fork that a signal interrupts before
// the supervisor received its notification fails with EINTR when the
// handler of that signal has no SA_RESTART (dash's SIGCHLD handler), where
// the kernel restarts an untrapped fork.
//
// # How it counts
//
// The sandbox starts the program in a process group of its own. The
// limiter traps the syscalls that create processes (fork, vfork, clone
// without CLONE_THREAD) and counts the live processes of the caller's
// process group through /proc; at the cap the call fails with EAGAIN, as
// the kernel's own RLIMIT_NPROC does. RLIMIT_NPROC is no substitute: it
// counts every process of the user, and never applies to root (uid 0 of
// the initial user namespace), capabilities or not.
//
// # clone3
//
// clone3 takes its flags in memory, which another thread can rewrite
// between the limiter's read and the kernel's: a limiter that let
// CLONE_THREAD through would let processes through. The limiter answers
// every clone3 with ENOSYS, which makes libc (glibc 2.34+, musl) fall back
// to clone, whose flags are in a register that the limiter reads and the
// kernel uses as they were. The sandbox's isolation rules already answer
// clone3 with ENOSYS in the kernel; the limiter keeps the count whole when
// Policy.AllowSyscalls takes clone3 out of them. Exited processes drop out of
// the count as soon as they are reaped. So that no process can leave the
// group and escape the count, setsid and setpgid fail with EPERM.
//
// Decisions are serialized, but a process allowed to fork appears in /proc
// only once its fork has run. The limiter counts an allowance as pending
// until the thread that asked comes back (its fork has run by then) or a
// short time has passed, so concurrent forks do not overshoot the cap.
package proclimit
