// Package sockaddr decodes socket addresses as a trapped task passed them,
// for every handler that needs one (audit, netpolicy, unixguard): the
// family, an IP address and port, a unix socket's path or abstract name,
// and the destinations of connect, sendto, sendmsg and sendmmsg.
//
// # Layout
//
// The supported archs (x86_64, aarch64, riscv64) are 64-bit little-endian
// and share one layout of struct msghdr (56 bytes, msg_name at 0,
// msg_namelen at 8) and struct mmsghdr (64 bytes). Compat (32-bit) tasks
// are not decoded.
//
// # What the kernel does, mirrored
//
// The destinations are read as the kernel reads them (net/socket.c): a
// connect or sendto address longer than sizeof(struct sockaddr_storage) is
// EINVAL; a sendto with a NULL address and a sendmsg whose msg_name is NULL
// or whose msg_namelen is 0 have no destination; a longer msg_namelen is
// cut to 128 bytes; sendmmsg handles at most UIO_MAXIOV (1024) messages and
// stops at the first one it cannot read.
//
// What is read may change after the read (another thread): the result
// describes what was asked, and only a decision the supervisor carries out
// itself, or that the kernel also enforces, is safe against that.
package sockaddr
