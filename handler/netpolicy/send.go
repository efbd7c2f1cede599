package netpolicy

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/internal/procfs"
	"github.com/sandlock-go/sandlock-go/handler/internal/sockaddr"
	"github.com/sandlock-go/sandlock-go/syscalls/args"
)

// Bounds of what a send performed on the process's behalf copies.
const (
	// maxMessage bounds one message: a stream send longer than this is
	// a short write (which the caller repeats, as after any short write);
	// a longer datagram fails with EMSGSIZE (no IP datagram is longer
	// than 64 KiB, UDP GSO included).
	maxMessage = 256 << 10
	// maxBatch bounds the bytes of one sendmmsg; the messages past it
	// are left for the caller to send again, as after any partial
	// sendmmsg.
	maxBatch = 4 << 20
	// maxControl bounds the control data of one message (the kernel's
	// net.core.optmem_max is 128 KiB at most by default); longer is
	// ENOBUFS.
	maxControl = 64 << 10
	// maxIov is UIO_MAXIOV.
	maxIov = 1024
)

// Layout of struct msghdr, struct mmsghdr and struct iovec on the
// supported (64-bit) archs.
const (
	sizeofMsghdr     = 56
	sizeofMmsghdr    = 64
	sizeofIovec      = 16
	offMsgName       = 0
	offMsgNamelen    = 8
	offMsgIov        = 16
	offMsgIovlen     = 24
	offMsgControl    = 32
	offMsgControlLen = 40
	offMmsgLen       = 56
)

// message is one message copied from the process: what the supervisor
// sends on its behalf.
type message struct {
	name    []byte // nil: no destination
	data    []byte
	control []byte
}

// ignoresName reports whether a send with flags on the socket goes to its
// connected peer whatever address it carries: a TCP or MPTCP stream
// without MSG_FASTOPEN (a deferred Fast Open connect uses the address that
// connect, decided by the policy, gave). The type, protocol and flags
// cannot change: Continue is then race-free.
func ignoresName(s sockInfo, flags uint64) bool {
	return s.typ == unix.SOCK_STREAM && (s.protocol == unix.IPPROTO_TCP || s.protocol == unix.IPPROTO_MPTCP) &&
		flags&unix.MSG_FASTOPEN == 0
}

// sendCommon classifies the socket of a send: done is true when act
// answers the call without a send on the process's behalf.
func (p *Policy) sendCommon(c *handler.Ctx, flags uint64) (sock int, info sockInfo, act handler.Action, done bool) {
	sock, info, errno := socketOf(c)
	if errno != 0 {
		return -1, info, handler.Errno(errno), true
	}
	switch p.verdict(info) {
	case passLocal:
		unix.Close(sock)
		return -1, info, handler.Continue(), true
	case refuseFamily:
		unix.Close(sock)
		p.decided(c, c.SyscallName(), "other", nil, netip.Addr{}, 0, false)
		return -1, info, handler.Errno(p.ConnectErrno), true
	}
	if ignoresName(info, flags) {
		unix.Close(sock)
		return -1, info, handler.Continue(), true
	}
	return sock, info, handler.Action{}, false
}

// sendto decides a sendto with a destination and performs it on the
// process's socket: the address and the data are the supervisor's copies,
// so a thread that rewrites them after the check changes nothing. Without
// a destination (a NULL address: a register) the call is the process's
// own.
func (p *Policy) sendto(c *handler.Ctx) handler.Action {
	l, _ := layout(c)
	ptr, length, ok := l.Sockaddr()
	buf, size, okBuf := l.Sized(args.Buffer)
	if !ok || !okBuf {
		return handler.Continue() // not a syscall of the model: a bug
	}
	if c.Arg(ptr) == 0 {
		return handler.Continue()
	}
	flags := argOf(c, l, args.MsgFlags)
	n := int32(c.Arg(length))
	if n < 0 || n > sockaddr.Max {
		return handler.Errno(unix.EINVAL)
	}
	var name []byte
	if n > 0 {
		var err error
		if name, err = c.Read(c.Arg(ptr), int(n)); err != nil {
			return handler.Errno(errnoOf(err, unix.EFAULT))
		}
	}
	sock, info, act, done := p.sendCommon(c, flags)
	if done {
		return act
	}
	defer unix.Close(sock)
	if errno := p.checkDestination(c, name); errno != 0 {
		return handler.Errno(errno)
	}
	data, errno := readData(c, c.Arg(buf), c.Arg(size), info, maxMessage)
	if errno != 0 {
		return handler.Errno(errno)
	}
	if name == nil {
		name = []byte{} // an address of length 0, as the process passed it
	}
	sent, errno := p.send(c, sock, []message{{name: name, data: data}}, flags)
	if len(sent) == 0 {
		return handler.Errno(errno)
	}
	return handler.ReturnValue(int64(sent[0]))
}

// sendmsg performs a sendmsg on an IP socket on the process's behalf,
// with or without a destination: msg_name is in the process's memory, so
// even a message read without one could get one before the kernel reads
// it.
func (p *Policy) sendmsg(c *handler.Ctx) handler.Action {
	l, _ := layout(c)
	msg := l.Index(args.Msghdr)
	if msg < 0 {
		return handler.Continue() // not a syscall of the model: a bug
	}
	flags := argOf(c, l, args.MsgFlags)
	hdr, err := c.Read(c.Arg(msg), sizeofMsghdr)
	if err != nil {
		return handler.Errno(errnoOf(err, unix.EFAULT))
	}
	sock, info, act, done := p.sendCommon(c, flags)
	if done {
		return act
	}
	defer unix.Close(sock)
	m, errno := readMessage(c, hdr, info, maxMessage)
	if errno == 0 {
		errno = p.checkDestination(c, m.name)
	}
	if errno != 0 {
		return handler.Errno(errno)
	}
	sent, errno := p.send(c, sock, []message{m}, flags)
	if len(sent) == 0 {
		return handler.Errno(errno)
	}
	return handler.ReturnValue(int64(sent[0]))
}

// sendmmsg performs a sendmmsg on an IP socket on the process's behalf,
// message by message as the kernel does: it stops at the first message
// that cannot be read, is refused or fails, and returns how many were
// sent (the errno when none was), writing each sent message's msg_len.
func (p *Policy) sendmmsg(c *handler.Ctx) handler.Action {
	l, _ := layout(c)
	vecArg, vlenArg, ok := l.Sized(args.Mmsghdr)
	if !ok {
		return handler.Continue() // not a syscall of the model: a bug
	}
	flags := argOf(c, l, args.MsgFlags)
	vec := c.Arg(vecArg)
	n := int(min(uint64(uint32(c.Arg(vlenArg))), maxIov))
	if n == 0 {
		return handler.Continue() // a register: nothing is sent
	}
	sock, info, act, done := p.sendCommon(c, flags)
	if done {
		return act
	}
	defer unix.Close(sock)
	all, bulkErr := c.Read(vec, n*sizeofMmsghdr)
	var msgs []message
	var stop unix.Errno
	budget := maxBatch
	for i := 0; i < n && budget > 0; i++ {
		var hdr []byte
		if bulkErr == nil {
			hdr = all[i*sizeofMmsghdr : i*sizeofMmsghdr+sizeofMsghdr]
		} else {
			var err error
			if hdr, err = c.Read(vec+uint64(i*sizeofMmsghdr), sizeofMsghdr); err != nil {
				stop = errnoOf(err, unix.EFAULT)
				break
			}
		}
		m, errno := readMessage(c, hdr, info, min(maxMessage, budget))
		if errno == 0 {
			errno = p.checkDestination(c, m.name)
		}
		if errno != 0 {
			stop = errno
			break
		}
		msgs = append(msgs, m)
		budget -= len(m.data)
	}
	sent, errno := p.send(c, sock, msgs, flags)
	if len(sent) < len(msgs) || stop == 0 {
		stop = errno
	}
	count := 0
	for i, s := range sent {
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], uint32(s))
		if err := c.Write(vec+uint64(i*sizeofMmsghdr+offMmsgLen), b[:]); err != nil {
			stop = unix.EFAULT
			break
		}
		count++
	}
	if count == 0 {
		if stop == 0 {
			stop = unix.EFAULT
		}
		return handler.Errno(stop)
	}
	return handler.ReturnValue(int64(count))
}

// checkDestination decides a destination (nil: none) of a send on an IP
// socket: 0 when allowed.
func (p *Policy) checkDestination(c *handler.Ctx, name []byte) unix.Errno {
	if name == nil {
		return 0
	}
	if len(name) < 2 {
		return unix.EINVAL // no family: the kernel refuses it too
	}
	family, addr, port, allowed := p.allowedDestination(name)
	p.decided(c, c.SyscallName(), family, name, addr, port, allowed)
	if !allowed {
		return p.ConnectErrno
	}
	return 0
}

// send sends msgs on sock as the process, in order, until one fails; it
// returns the byte counts of those sent and the errno of the one that
// failed. A send that fails with EPIPE raises SIGPIPE in the trapped
// thread, as the kernel would, unless flags has MSG_NOSIGNAL.
func (p *Policy) send(c *handler.Ctx, sock int, msgs []message, flags uint64) ([]int, unix.Errno) {
	var sent []int
	errno := unix.Errno(0)
	err := c.AsProcess(func() {
		for _, m := range msgs {
			n, e := sendmsgRaw(sock, m, int(flags)|unix.MSG_NOSIGNAL)
			if e != 0 {
				errno = e
				return
			}
			sent = append(sent, n)
		}
	})
	if err != nil {
		return nil, unix.EACCES
	}
	if errno == unix.EPIPE && flags&unix.MSG_NOSIGNAL == 0 {
		if tgid, err := procfs.Tgid(c.Pid()); err == nil && c.Valid() == nil {
			_ = unix.Tgkill(tgid, c.Pid(), unix.SIGPIPE)
		}
	}
	return sent, errno
}

// readMessage copies one struct msghdr's destination, data and control
// messages from the process, as the kernel reads them (net/socket.c), the
// data bounded by limit. Control messages that name descriptors or
// credentials (SCM_RIGHTS, SCM_CREDENTIALS: only AF_UNIX takes them, and
// sent from the supervisor they would name its own) are EINVAL; those that
// route the datagram through another address first (IP_RETOPTS with a
// source route, IPv6 routing headers) are refused.
func readMessage(c *handler.Ctx, hdr []byte, info sockInfo, limit int) (message, unix.Errno) {
	var m message
	le := binary.NativeEndian
	name, namelen := le.Uint64(hdr[offMsgName:]), int32(le.Uint32(hdr[offMsgNamelen:]))
	switch {
	case name == 0:
	case namelen < 0:
		return m, unix.EINVAL
	case namelen > 0:
		var err error
		if m.name, err = c.Read(name, int(min(namelen, sockaddr.Max))); err != nil {
			return m, errnoOf(err, unix.EFAULT)
		}
	}
	iov, iovlen := le.Uint64(hdr[offMsgIov:]), le.Uint64(hdr[offMsgIovlen:])
	if iovlen > maxIov {
		return m, unix.EMSGSIZE
	}
	if iovlen > 0 {
		vec, err := c.Read(iov, int(iovlen)*sizeofIovec)
		if err != nil {
			return m, errnoOf(err, unix.EFAULT)
		}
		var total uint64
		for i := range int(iovlen) {
			l := le.Uint64(vec[i*sizeofIovec+8:])
			if int64(l) < 0 || total+l < total {
				return m, unix.EINVAL
			}
			total += l
		}
		if total > uint64(limit) && info.typ != unix.SOCK_STREAM {
			return m, unix.EMSGSIZE
		}
		for i := range int(iovlen) {
			base, l := le.Uint64(vec[i*sizeofIovec:]), le.Uint64(vec[i*sizeofIovec+8:])
			l = min(l, uint64(limit-len(m.data)))
			if l == 0 {
				continue
			}
			b, err := c.Read(base, int(l))
			if err != nil {
				return m, errnoOf(err, unix.EFAULT)
			}
			m.data = append(m.data, b...)
		}
	}
	control, controllen := le.Uint64(hdr[offMsgControl:]), le.Uint64(hdr[offMsgControlLen:])
	if controllen > 0 {
		if controllen > maxControl {
			return m, unix.ENOBUFS
		}
		var err error
		if m.control, err = c.Read(control, int(controllen)); err != nil {
			return m, errnoOf(err, unix.EFAULT)
		}
		if errno := checkControl(m.control); errno != 0 {
			return m, errno
		}
	}
	return m, 0
}

// checkControl refuses control messages the supervisor must not send for
// the process (see readMessage).
func checkControl(control []byte) unix.Errno {
	if len(control) < unix.SizeofCmsghdr {
		return 0 // the kernel reads no header from it
	}
	msgs, err := unix.ParseSocketControlMessage(control)
	if err != nil {
		return unix.EINVAL
	}
	for _, cm := range msgs {
		switch {
		case cm.Header.Level == unix.SOL_SOCKET && (cm.Header.Type == unix.SCM_RIGHTS || cm.Header.Type == unix.SCM_CREDENTIALS):
			return unix.EINVAL
		case cm.Header.Level == unix.SOL_IP && cm.Header.Type == unix.IP_RETOPTS:
			return unix.EPERM
		case cm.Header.Level == unix.SOL_IPV6 && (cm.Header.Type == unix.IPV6_RTHDR || cm.Header.Type == unix.IPV6_2292RTHDR):
			return unix.EPERM
		}
	}
	return 0
}

// readData copies the buffer of a sendto: a stream send longer than limit
// becomes a short one; a longer datagram is EMSGSIZE.
func readData(c *handler.Ctx, addr, size uint64, info sockInfo, limit int) ([]byte, unix.Errno) {
	if int64(size) < 0 {
		return nil, unix.EINVAL
	}
	if size > uint64(limit) {
		if info.typ != unix.SOCK_STREAM {
			return nil, unix.EMSGSIZE
		}
		size = uint64(limit)
	}
	if size == 0 {
		return nil, 0
	}
	b, err := c.Read(addr, int(size))
	if err != nil {
		return nil, errnoOf(err, unix.EFAULT)
	}
	return b, 0
}
