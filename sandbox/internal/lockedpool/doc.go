// Package lockedpool runs functions on pools of locked OS threads that
// took some credentials: the sandbox's confined supervisor threads (the
// command's fs identity, capabilities, no_new_privs, Landlock, mount
// namespace) and the OCI agent's per-container credential threads (a
// container task's groups, fs ids and capabilities).
//
// A Pool starts its threads on demand, one more only when every running
// one is busy, up to a bound; each runs its setup function once, locked,
// and serves jobs until the pool is closed. Jobs are handed over and back
// on futexes, in the kernel, not through the Go scheduler, and neither
// side spins. A thread is never unlocked: when the pool closes, its
// goroutine returns and the runtime ends the thread rather than reuse it
// with the credentials it took.
//
// TakeFSIdentity gives the calling locked thread a file-system identity
// (groups, fs gid, fs uid), each step verified.
package lockedpool
