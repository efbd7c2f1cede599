package netpolicy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/internal/sockaddr"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Rules are the allowed destinations.
type Rules struct {
	// Connect entries are "HOST:PORT": HOST an IP address, "localhost"
	// (127.0.0.1 and ::1) or "*"; PORT a number or "*". IPv6 addresses go
	// in brackets, without a zone: "[::1]:8080". Other host names are not
	// resolved: a policy that depends on DNS at start-up is neither stable
	// nor hermetic.
	Connect []string
	// Bind entries are "PORT" (any local address) or "HOST:PORT".
	Bind []string
	// DenyUnix also applies the rules to AF_UNIX sockets, which are
	// allowed by default (they are files; Landlock governs them).
	DenyUnix bool
}

type endpoint struct {
	any  bool // any host
	addr netip.Addr
	port int // -1: any port
}

func (e endpoint) match(a netip.Addr, port int) bool {
	return (e.any || e.addr == a.Unmap()) && (e.port < 0 || e.port == port)
}

// Policy is the connect/bind handler.
type Policy struct {
	connect, bind []endpoint
	denyUnix      bool
	// ConnectErrno and BindErrno answer denied calls; ECONNREFUSED and
	// EACCES by default.
	ConnectErrno, BindErrno unix.Errno
	// OnDecision, when set, is called for every decided call, for audit
	// and learning. It must be safe for concurrent use.
	OnDecision func(Decision)
}

// Decision is one connect or bind the policy decided.
type Decision struct {
	Syscall string
	Pid     int
	// Family is "inet", "inet6", "unix" or "other".
	Family  string
	Address string
	Allowed bool
}

// New parses r into a Policy.
func New(r Rules) (*Policy, error) {
	p := &Policy{denyUnix: r.DenyUnix, ConnectErrno: unix.ECONNREFUSED, BindErrno: unix.EACCES}
	for _, s := range r.Connect {
		eps, err := parseEndpoint(s, false)
		if err != nil {
			return nil, fmt.Errorf("connect rule %q: %w", s, err)
		}
		p.connect = append(p.connect, eps...)
	}
	for _, s := range r.Bind {
		eps, err := parseEndpoint(s, true)
		if err != nil {
			return nil, fmt.Errorf("bind rule %q: %w", s, err)
		}
		p.bind = append(p.bind, eps...)
	}
	return p, nil
}

func parseEndpoint(s string, portOnly bool) ([]endpoint, error) {
	host, portStr, err := splitHostPort(s)
	if err != nil {
		if !portOnly {
			return nil, err
		}
		host, portStr = "*", s
	}
	port := -1
	if portStr != "*" {
		port, err = strconv.Atoi(portStr)
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("bad port %q", portStr)
		}
	}
	switch host {
	case "*", "":
		return []endpoint{{any: true, port: port}}, nil
	case "localhost":
		return []endpoint{
			{addr: netip.AddrFrom4([4]byte{127, 0, 0, 1}), port: port},
			{addr: netip.IPv6Loopback(), port: port},
		}, nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return nil, fmt.Errorf("host %q: want an IP address, localhost or *", host)
	}
	if a.Zone() != "" {
		// A sockaddr carries no zone name: the rule would match nothing.
		return nil, fmt.Errorf("host %q: want an IP address without a zone", host)
	}
	return []endpoint{{addr: a.Unmap(), port: port}}, nil
}

// splitHostPort splits "host:port" and "[v6]:port".
func splitHostPort(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]:")
		if end < 0 {
			return "", "", fmt.Errorf("want HOST:PORT: address %s: want [ADDRESS]:PORT for IPv6", printable(s))
		}
		return s[1:end], s[end+2:], nil
	}
	i := strings.LastIndexByte(s, ':')
	switch {
	case i < 0:
		return "", "", fmt.Errorf("want HOST:PORT: address %s: missing port in address", printable(s))
	case strings.Count(s, ":") > 1:
		return "", "", fmt.Errorf("want HOST:PORT: address %s: too many colons in address (IPv6 goes in brackets)", printable(s))
	}
	return s[:i], s[i+1:], nil
}

// printable returns s, quoted when it holds control characters: an error
// message is one line that cannot drive a terminal.
func printable(s string) string {
	if strings.ContainsFunc(s, unicode.IsControl) {
		return strconv.Quote(s)
	}
	return s
}

// Syscalls returns the names to register the Policy on: every name of
// ConnectSyscalls and BindSyscalls.
func (p *Policy) Syscalls(arch *syscalls.Arch) []string {
	var out []string
	for _, n := range append(ConnectSyscalls(arch), BindSyscalls(arch)...) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Handle decides a socket, connect, bind, sendto, sendmsg or sendmmsg and,
// where the call names an endpoint, performs it on the process's socket.
func (p *Policy) Handle(c *handler.Ctx) handler.Action {
	switch c.SyscallName() {
	case "socket":
		return p.socket(c)
	case "setsockopt":
		return p.setsockopt(c)
	case "connect", "bind":
		return p.connectOrBind(c)
	case "sendto":
		return p.sendto(c)
	case "sendmsg":
		return p.sendmsg(c)
	case "sendmmsg":
		return p.sendmmsg(c)
	}
	return handler.Continue()
}

// connectOrBind decides a connect or bind on the socket's family and the
// address, and performs an allowed one on the process's socket.
func (p *Policy) connectOrBind(c *handler.Ctx) handler.Action {
	name := c.SyscallName()
	l, _ := layout(c)
	ptr, length, ok := l.Sockaddr()
	if !ok {
		return handler.Continue() // not a syscall of the model: a bug
	}
	size := int32(c.Arg(length))
	if size < 2 || size > sockaddr.Max {
		return handler.Errno(unix.EINVAL)
	}
	raw, err := c.Read(c.Arg(ptr), int(size))
	if err != nil {
		return handler.Errno(unix.EFAULT)
	}
	sock, info, errno := socketOf(c)
	if errno != 0 {
		return handler.Errno(errno)
	}
	defer unix.Close(sock)
	rules, denyErrno := p.connect, p.ConnectErrno
	if name == "bind" {
		rules, denyErrno = p.bind, p.BindErrno
	}
	family, addr, port, ok := decode(raw)
	var allowed bool
	switch p.verdict(info) {
	case passLocal:
		if info.domain == unix.AF_UNIX {
			// Never on the process's behalf: the peer would see the
			// supervisor's credentials. The kernel performs it as
			// the process; Landlock and the sandbox's unix-socket
			// guard judge.
			allowed = !p.denyUnix
			p.decided(c, name, family, raw, addr, port, allowed)
			if !allowed {
				return handler.Errno(denyErrno)
			}
		}
		return handler.Continue()
	case refuseFamily:
		allowed = false
	default:
		switch {
		case family == "inet" || family == "inet6":
			allowed = ok && matchAny(rules, addr, port)
		case sockaddr.Family(raw) == unix.AF_UNSPEC && name == "connect":
			// Dissociates the socket: reaches no endpoint.
			allowed = true
		default:
			// bind with AF_UNSPEC is AF_INET to the kernel; any
			// family no rule can name is refused.
			allowed = false
		}
	}
	p.decided(c, name, family, raw, addr, port, allowed)
	if !allowed {
		return handler.Errno(denyErrno)
	}
	nr := unix.SYS_CONNECT
	if name == "bind" {
		nr = unix.SYS_BIND
	}
	// As the process: a bind to a privileged port needs its capability,
	// not the supervisor's.
	errno = unix.EACCES
	if err := c.AsProcess(func() { errno = sockaddrCall(nr, sock, raw) }); err != nil {
		return handler.Errno(unix.EACCES)
	}
	if errno != 0 {
		return handler.Errno(errno)
	}
	return handler.ReturnValue(0)
}

func (p *Policy) decided(c *handler.Ctx, name, family string, raw []byte, addr netip.Addr, port int, allowed bool) {
	if p.OnDecision != nil {
		p.OnDecision(Decision{Syscall: name, Pid: c.Pid(), Family: family, Address: describe(family, addr, port, raw), Allowed: allowed})
	}
}

// allowedDestination decides the destination of a send on an IP socket.
func (p *Policy) allowedDestination(raw []byte) (family string, addr netip.Addr, port int, allowed bool) {
	family, addr, port, ok := decode(raw)
	if family != "inet" && family != "inet6" {
		// AF_UNSPEC is AF_INET to udp_sendmsg; other families are
		// errors or unknown.
		return family, addr, port, false
	}
	return family, addr, port, ok && matchAny(p.connect, addr, port)
}

func matchAny(eps []endpoint, a netip.Addr, port int) bool {
	for _, e := range eps {
		if e.match(a, port) {
			return true
		}
	}
	return false
}

// decode reads the family, address and port of a sockaddr.
func decode(raw []byte) (family string, addr netip.Addr, port int, ok bool) {
	switch sockaddr.Family(raw) {
	case unix.AF_INET, unix.AF_INET6:
		family = "inet"
		if sockaddr.Family(raw) == unix.AF_INET6 {
			family = "inet6"
		}
		ap, ok := sockaddr.Inet(raw)
		if !ok {
			return family, addr, 0, false
		}
		return family, ap.Addr().Unmap(), int(ap.Port()), true
	case unix.AF_UNIX:
		return "unix", addr, 0, true
	}
	return "other", addr, 0, true
}

func describe(family string, addr netip.Addr, port int, raw []byte) string {
	if family == "inet" || family == "inet6" {
		return netip.AddrPortFrom(addr, uint16(port)).String()
	}
	return sockaddr.String(raw)
}

func errnoOf(err error, fallback unix.Errno) unix.Errno {
	var errno unix.Errno
	if errors.As(err, &errno) && errno != 0 {
		return errno
	}
	return fallback
}

// TCPPorts returns the ports of the connect and bind rules, for a kernel
// layer under the Policy (Landlock's TCP rules: sandbox.Policy's
// TCPConnectPorts and TCPBindPorts): every port a rule names, whatever its
// host, so that the kernel refuses every other port and the Policy narrows
// each port to its hosts. A list is nil when a rule allows any port (the
// kernel cannot narrow it), and empty, not nil, when there is no rule
// (nothing is allowed).
func (p *Policy) TCPPorts() (connect, bind []uint16) {
	return ports(p.connect), ports(p.bind)
}

func ports(eps []endpoint) []uint16 {
	out := []uint16{}
	for _, e := range eps {
		if e.port < 0 {
			return nil
		}
		if !slices.Contains(out, uint16(e.port)) {
			out = append(out, uint16(e.port))
		}
	}
	slices.Sort(out)
	return out
}
