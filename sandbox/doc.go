// Package sandbox launches a command under seccomp user-notification
// supervision, with Landlock rules, a kernel-side deny list and limits.
package sandbox
