// Package mem reads and writes the memory of a process stopped in a trapped
// syscall, checking after every read that the notification is still valid.
package mem
