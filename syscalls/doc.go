// Package syscalls maps system call names to numbers and back, per
// architecture, together with the AUDIT_ARCH value the kernel reports in
// seccomp_data.arch.
//
// The tables are generated from golang.org/x/sys/unix; they are never typed
// by hand.
package syscalls
