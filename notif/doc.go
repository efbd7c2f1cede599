// Package notif is the kernel ABI of seccomp user notification: the
// structures, the listener ioctls, the Notifier interface that the dispatch
// loop consumes, a fake Notifier for tests and the kernel feature probes.
package notif
