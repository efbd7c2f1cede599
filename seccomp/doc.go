// Package seccomp compiles syscall rules to a seccomp BPF program and
// installs it on the calling thread, returning the user-notification
// listener.
package seccomp
