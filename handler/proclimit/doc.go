// Package proclimit caps the number of processes a sandboxed program runs at
// once.
//
// # How it counts
//
// The sandbox starts the program in a process group of its own. The
// limiter traps the syscalls that create processes (fork, vfork, clone
// without CLONE_THREAD, clone3) and counts the live processes of the
// caller's process group through /proc; at the cap the call fails with
// EAGAIN, as the kernel's own RLIMIT_NPROC does. Exited processes drop out of
// the count as soon as they are reaped. So that no process can leave the
// group and escape the count, setsid and setpgid fail with EPERM.
//
// Decisions are serialized, but a process allowed to fork appears in /proc
// only once its fork has run. The limiter counts an allowance as pending
// until the thread that asked comes back (its fork has run by then) or a
// short time has passed, so concurrent forks do not overshoot the cap.
package proclimit
