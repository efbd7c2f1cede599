// Package netpolicy allows a sandboxed program's network endpoints by
// address and port: what it connects and sends to (Rules.Connect), what it
// binds (Rules.Bind).
//
// # What it guards
//
// A policy guards endpoints, not a syscall. An IP endpoint is reached by
// connect, by sendto with a destination (UDP, ICMP echo, raw; TCP with
// MSG_FASTOPEN, which connects), and by sendmsg and sendmmsg with msg_name.
// Register the Policy on ConnectSyscalls to restrict connections and on
// BindSyscalls to restrict binds (Syscalls lists both).
//
// Decisions are made on the socket first: its family, type and protocol
// (SO_DOMAIN, SO_TYPE, SO_PROTOCOL), which cannot change. AF_INET and
// AF_INET6 sockets are decided by address. AF_UNIX sockets are answered
// Continue (files: Landlock and the sandbox's unix-socket guard judge;
// Rules.DenyUnix refuses connect and bind on them); AF_NETLINK and AF_ALG
// reach the kernel only and are answered Continue too. Any other family
// (AF_PACKET, AF_VSOCK, AF_BLUETOOTH, ...) is refused: no rule can name
// it. On an IP socket an address of another family is refused, except
// connect with AF_UNSPEC, which dissociates the socket and reaches no
// endpoint; bind with AF_UNSPEC, which the kernel takes as AF_INET, is
// refused. IP sockets whose protocol the policy does not model are refused
// at socket (SCTP: it also connects through setsockopt), and so are the
// socket options that route through other addresses first (IP_OPTIONS
// source routes, IPv6 routing headers).
//
// # Race-free by acting on the process's socket
//
// An address lives in the process's memory and may change after the
// supervisor read it, so a check followed by Continue could be raced.
// Instead the handler copies the process's socket into the supervisor with
// pidfd_getfd, which gives the same open socket, and performs the call on
// it with its own copies of what it checked, on a thread confined as the
// process (handler.Ctx.AsProcess): connect or bind with the address; for
// sends, the destination, the data (bounded: a longer stream send is a
// short write, a longer datagram EMSGSIZE) and the control messages. The
// process's syscall returns what the supervisor's call returned (sendmmsg
// also gets each sent message's msg_len written back).
//
// Only what cannot reach another endpoint is answered Continue: a sendto
// with a NULL address (a register), sends on TCP and MPTCP streams without
// MSG_FASTOPEN (the kernel ignores their address), and calls on the local
// families above. A sendmsg on an IP datagram socket is performed on the
// process's behalf even when it has no msg_name: the header is in memory,
// and a name could appear after the read.
//
// # Control messages
//
// The control messages of a message sent on the process's behalf are
// passed to the kernel as they are (IP_PKTINFO, IP_TOS, UDP_SEGMENT, ...),
// checked by the kernel as the process's (capabilities included), except:
// SCM_RIGHTS and SCM_CREDENTIALS are EINVAL (IP sockets refuse them
// anyway; from the supervisor they would name its own descriptors and
// credentials), and source routes (IP_RETOPTS, IPV6_RTHDR,
// IPV6_2292RTHDR) are EPERM.
//
// # The kernel layer
//
// TCPPorts gives the ports of the rules for Landlock's TCP rules (ABI 4,
// sandbox.Policy.TCPConnectPorts and TCPBindPorts): the kernel refuses
// every other port, and the policy narrows each port to its hosts. Landlock
// expresses neither addresses nor UDP, and TCP Fast Open and MPTCP get
// past it (landlock-lsm/linux#41, #54): there the supervisor is the only
// layer.
//
// A blocking connect or send blocks the handler until it completes; the
// dispatcher hands receiving to another worker meanwhile.
package netpolicy
