// Package args is the one model of syscall arguments: for each syscall,
// per arch where it differs, what each register argument is. A path and
// the dirfd it is relative to, open flags, a mode, a pid, a sockaddr and
// the argument holding its length, a struct open_how or clone_args and its
// size, a buffer and its length.
//
// Everything that needs to know which argument of a syscall is what reads
// it here: handler.Ctx.ReadPath (the dirfd of a path), the audit decoder
// (the signature it prints), trace's syscall families, and the policies
// (which syscalls reach a file, an endpoint, a process count).
//
// # Use
//
//	l, ok := args.Of(syscalls.AArch64, "linkat")
//	for _, p := range l.Paths() {
//		// p.Index: the path; p.Dirfd: its dirfd (-1: cwd);
//		// p.Flags: AT_SYMLINK_FOLLOW, AT_EMPTY_PATH; p.Access: link, create
//	}
//	ptr, length, ok := l.Sockaddr() // bind, connect, sendto
//
// PathArg.FollowsLast and PathArg.EmptyPath read the flags that change a
// lookup from the raw arguments (AT_SYMLINK_NOFOLLOW, AT_SYMLINK_FOLLOW,
// O_NOFOLLOW, AT_EMPTY_PATH, ...); they say when the answer is in memory
// instead (openat2).
//
// Of returns false for a syscall the arch does not have (open on aarch64)
// and for one the model does not describe; Names lists those it does.
//
// # Contract
//
//   - Rows follow the kernel's SYSCALL_DEFINE prototypes
//     (include/linux/syscalls.h) for the 64-bit ABIs of package syscalls;
//     a test checks a sample against the prototypes' C types.
//   - Names are canonical kernel names; Of also accepts the aliases that
//     Arch.Number accepts. No syscall number is written here: existence on
//     an arch comes from the generated tables of package syscalls.
//   - Arch differences are explicit rows per arch (clone: x86_64 passes
//     child_tid before tls, aarch64 and riscv64 after, CONFIG_CLONE_BACKWARDS).
//   - A Path's Rel is its dirfd or -1; Flags is the argument whose bits
//     change its lookup or -1; Follow is whether the last symlink is
//     followed by default; Access is what the syscall does to the object.
//     symlink's target is a LinkTarget, not a Path: the kernel stores it
//     without looking it up.
//   - Layouts share the model's memory: callers must not modify them.
//
// # Limits
//
// The model says where arguments are, not what memory holds: a pointer
// argument read from the process can change after the read (see
// docs/security.md). Compat (32-bit) ABIs and x32 are not described.
package args
