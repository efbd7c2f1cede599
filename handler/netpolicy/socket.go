package netpolicy

import (
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/internal/procfs"
)

// sockInfo is what the kernel says of a socket: it cannot change for the
// life of the socket, so a decision on it cannot be raced.
type sockInfo struct {
	domain, typ, protocol int
}

// verdict is how the policy treats the calls on a socket.
type verdict int

const (
	// decide: an IP socket; the address decides.
	decide verdict = iota
	// passLocal: a socket that reaches no network endpoint the policy
	// names (unix: the sandbox's unix-socket guard and Landlock judge;
	// netlink and AF_ALG: the kernel itself): Continue.
	passLocal
	// refuseFamily: a family no rule can name (AF_PACKET, AF_VSOCK,
	// AF_BLUETOOTH, ...): refused.
	refuseFamily
)

// verdict classifies the socket.
func (p *Policy) verdict(s sockInfo) verdict {
	switch s.domain {
	case unix.AF_INET, unix.AF_INET6:
		return decide
	case unix.AF_UNIX, unix.AF_NETLINK, unix.AF_ALG:
		return passLocal
	}
	return refuseFamily
}

// ipProtocol reports whether an IP socket of type typ and protocol proto
// has the destination semantics the policy models: TCP and MPTCP streams
// (connect, or sendto/sendmsg with MSG_FASTOPEN), datagrams (UDP,
// UDP-Lite, ICMP echo) and raw sockets (which need CAP_NET_RAW) addressed
// by connect or per message. SCTP (SOCK_SEQPACKET, or IPPROTO_SCTP) also
// connects through setsockopt (sctp_connectx), out of the policy's sight.
func ipProtocol(typ, proto int) bool {
	switch typ {
	case unix.SOCK_STREAM:
		return proto == 0 || proto == unix.IPPROTO_TCP || proto == unix.IPPROTO_MPTCP
	case unix.SOCK_DGRAM:
		switch proto {
		case 0, unix.IPPROTO_UDP, unix.IPPROTO_UDPLITE, unix.IPPROTO_ICMP, unix.IPPROTO_ICMPV6:
			return true
		}
		return false
	case unix.SOCK_RAW:
		return true
	}
	return false
}

// socket refuses IP sockets whose protocol the policy cannot follow
// (SCTP). Every argument is in a register: the decision cannot be raced.
func (p *Policy) socket(c *handler.Ctx) handler.Action {
	domain := int(int32(c.Arg(0)))
	if domain != unix.AF_INET && domain != unix.AF_INET6 {
		return handler.Continue()
	}
	typ := int(int32(c.Arg(1))) &^ (unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC)
	if ipProtocol(typ, int(int32(c.Arg(2)))) {
		return handler.Continue()
	}
	if p.OnDecision != nil {
		p.OnDecision(Decision{Syscall: "socket", Pid: c.Pid(), Family: familyName(domain),
			Address: "type " + sockTypeName(typ), Allowed: false})
	}
	return handler.Errno(unix.EACCES)
}

func familyName(domain int) string {
	switch domain {
	case unix.AF_INET:
		return "inet"
	case unix.AF_INET6:
		return "inet6"
	case unix.AF_UNIX:
		return "unix"
	}
	return "other"
}

func sockTypeName(typ int) string {
	switch typ {
	case unix.SOCK_STREAM:
		return "stream"
	case unix.SOCK_DGRAM:
		return "dgram"
	case unix.SOCK_RAW:
		return "raw"
	case unix.SOCK_SEQPACKET:
		return "seqpacket"
	}
	return "other"
}

// socketOf copies the process's socket (argument 0) into the supervisor
// and reads its family, type and protocol. errno is what the syscall
// answers when that fails: EBADF, ENOTSOCK, ESRCH.
func socketOf(c *handler.Ctx) (int, sockInfo, unix.Errno) {
	pidfd, err := unix.PidfdOpen(c.Pid(), unix.PIDFD_THREAD)
	if err != nil {
		tgid, terr := procfs.Tgid(c.Pid())
		if terr != nil {
			return -1, sockInfo{}, unix.ESRCH
		}
		if pidfd, err = unix.PidfdOpen(tgid, 0); err != nil {
			return -1, sockInfo{}, errnoOf(err, unix.ESRCH)
		}
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, int(int32(c.Arg(0))), 0)
	if err != nil {
		return -1, sockInfo{}, errnoOf(err, unix.EBADF)
	}
	// The pidfd pinned the task; make sure it is still the one that asked.
	if err := c.Valid(); err != nil {
		unix.Close(fd)
		return -1, sockInfo{}, unix.ESRCH
	}
	var info sockInfo
	for _, o := range []struct {
		opt int
		v   *int
	}{{unix.SO_DOMAIN, &info.domain}, {unix.SO_TYPE, &info.typ}, {unix.SO_PROTOCOL, &info.protocol}} {
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, o.opt)
		if err != nil {
			unix.Close(fd)
			return -1, sockInfo{}, errnoOf(err, unix.ENOTSOCK)
		}
		*o.v = v
	}
	return fd, info, 0
}

// sourceRouteOptions are the socket options that make IP send through
// other addresses first: an IPv4 source route (IP_OPTIONS with LSRR or
// SSRR; the datagram goes to the first hop of the route) and IPv6 routing
// headers (the first hop becomes the destination of the packet).
var sourceRouteOptions = [][2]int{
	{unix.SOL_IP, unix.IP_OPTIONS},
	{unix.SOL_IPV6, unix.IPV6_RTHDR},
	{unix.SOL_IPV6, unix.IPV6_2292RTHDR},
	{unix.SOL_IPV6, unix.IPV6_2292PKTOPTIONS},
}

// setsockopt refuses the options of sourceRouteOptions: they would send
// to an address that no connect or send names. Level and option are
// registers: the decision cannot be raced.
func (p *Policy) setsockopt(c *handler.Ctx) handler.Action {
	level, opt := int(int32(c.Arg(1))), int(int32(c.Arg(2)))
	for _, o := range sourceRouteOptions {
		if o == [2]int{level, opt} {
			if p.OnDecision != nil {
				p.OnDecision(Decision{Syscall: "setsockopt", Pid: c.Pid(), Family: "other",
					Address: "source route option", Allowed: false})
			}
			return handler.Errno(unix.EPERM)
		}
	}
	return handler.Continue()
}
