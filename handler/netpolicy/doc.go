// Package netpolicy allows a sandboxed program's connect and bind calls by
// address and port.
//
// # Race-free by acting on the process's socket
//
// The address of a connect lives in the process's memory and may change
// after the supervisor read it, so a check followed by Continue could be
// raced. Instead the handler copies the process's socket into the
// supervisor with pidfd_getfd, which gives the same open socket, and calls
// connect or bind on it with the address it checked. The process's syscall
// then returns what the supervisor's call returned; the socket is the
// process's own afterwards, connected or bound.
//
// A blocking connect blocks the handler until it completes; the dispatcher
// hands receiving to another worker meanwhile.
package netpolicy
