package unixguard

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler/internal/procfs"
)

// sock_diag for AF_UNIX (linux/unix_diag.h); x/sys has no types for it.
const (
	udiagShowName  = 0x1
	udiagShowVFS   = 0x2
	unixDiagName   = 0
	unixDiagVFS    = 1
	sizeofDiagReq  = 24 // struct unix_diag_req
	sizeofDiagMsg  = 16 // struct unix_diag_msg
	sizeofNlmsghdr = unix.NLMSG_HDRLEN
	tcpEstablished = 1
	tcpListen      = 10
)

// boundSocket is one bound unix socket of the supervisor's network
// namespace, as sock_diag reports it.
type boundSocket struct {
	ino   uint32 // the socket's inode: "socket:[ino]" in /proc/PID/fd
	typ   uint8  // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
	state uint8  // TCP_LISTEN, TCP_CLOSE, TCP_ESTABLISHED
	// name is sun_path as bound: a path as the binder spelled it, or an
	// abstract name with its leading NUL.
	name string
	// vfsDev and vfsIno identify the file of a path-named socket;
	// vfsDev is the kernel's dev_t (major<<20 | minor).
	hasVFS         bool
	vfsDev, vfsIno uint32
}

// receives reports whether a connect or send to the socket's address
// reaches this socket: a listening stream or seqpacket socket, or a
// datagram socket. Accepted sockets share their listener's address but
// take no connections.
func (s boundSocket) receives() bool {
	return s.state == tcpListen || s.typ == unix.SOCK_DGRAM
}

// kernelDev encodes st_dev as the kernel's internal dev_t, the encoding of
// unix_diag_vfs.
func kernelDev(dev uint64) uint32 {
	return unix.Major(dev)<<20 | unix.Minor(dev)&0xfffff
}

// dumpSockets lists the bound unix sockets of the supervisor's network
// namespace through NETLINK_SOCK_DIAG (CONFIG_UNIX_DIAG).
func dumpSockets() ([]boundSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("unix sock_diag: socket: %w", err)
	}
	defer unix.Close(fd)
	req := make([]byte, sizeofNlmsghdr+sizeofDiagReq)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], 1) // sequence
	r := req[sizeofNlmsghdr:]
	r[0] = unix.AF_UNIX
	ne.PutUint32(r[4:], 0xffffffff) // every state
	ne.PutUint32(r[12:], udiagShowName|udiagShowVFS)
	ne.PutUint32(r[16:], 0xffffffff) // no cookie
	ne.PutUint32(r[20:], 0xffffffff)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("unix sock_diag: send: %w", err)
	}
	var out []boundSocket
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("unix sock_diag: receive: %w", err)
		}
		for b := buf[:n]; len(b) >= sizeofNlmsghdr; {
			l := int(ne.Uint32(b))
			if l < sizeofNlmsghdr || l > len(b) {
				return nil, fmt.Errorf("unix sock_diag: truncated message")
			}
			typ, data := ne.Uint16(b[4:]), b[sizeofNlmsghdr:l]
			switch typ {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(data) >= 4 {
					if e := -int32(ne.Uint32(data)); e != 0 {
						return nil, fmt.Errorf("unix sock_diag: %w", unix.Errno(e))
					}
				}
				return nil, fmt.Errorf("unix sock_diag: error message")
			case unix.SOCK_DIAG_BY_FAMILY:
				if s, ok := parseDiagMsg(data); ok && (s.name != "" || s.hasVFS) {
					out = append(out, s)
				}
			}
			next := (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
			if next >= len(b) {
				break
			}
			b = b[next:]
		}
	}
}

// parseDiagMsg decodes struct unix_diag_msg and its attributes.
func parseDiagMsg(b []byte) (boundSocket, bool) {
	if len(b) < sizeofDiagMsg {
		return boundSocket{}, false
	}
	ne := binary.NativeEndian
	s := boundSocket{typ: b[1], state: b[2], ino: ne.Uint32(b[4:])}
	for a := b[sizeofDiagMsg:]; len(a) >= unix.SizeofRtAttr; {
		l := int(ne.Uint16(a))
		if l < unix.SizeofRtAttr || l > len(a) {
			break
		}
		payload := a[unix.SizeofRtAttr:l]
		switch ne.Uint16(a[2:]) {
		case unixDiagName:
			s.name = string(payload)
		case unixDiagVFS:
			if len(payload) >= 8 {
				s.hasVFS, s.vfsIno, s.vfsDev = true, ne.Uint32(payload), ne.Uint32(payload[4:])
			}
		}
		next := (l + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		if next >= len(a) {
			break
		}
		a = a[next:]
	}
	return s, true
}

// heldByRun reports whether a process of the run has one of the sockets
// inos open. The supervisor never counts, whatever inRun says. Processes
// whose descriptors cannot be read do not count.
func heldByRun(inos map[uint32]bool, inRun func(int) bool) bool {
	if len(inos) == 0 {
		return false
	}
	pids, err := procfs.Pids()
	if err != nil {
		return false
	}
	self := os.Getpid()
	for _, pid := range pids {
		// pids are processes: only one of them is the supervisor.
		if pid == self || !inRun(pid) {
			continue
		}
		if holds(pid, inos) {
			return true
		}
	}
	return false
}

// holds reports whether process pid has a descriptor on one of the
// sockets inos.
func holds(pid int, inos map[uint32]bool) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return false
	}
	var buf [64]byte
	for _, name := range names {
		n, err := unix.Readlink(dir+name, buf[:])
		if err != nil {
			continue
		}
		link, ok := strings.CutPrefix(string(buf[:n]), "socket:[")
		if !ok || !strings.HasSuffix(link, "]") {
			continue
		}
		ino, err := strconv.ParseUint(link[:len(link)-1], 10, 64)
		if err == nil && ino <= math.MaxUint32 && inos[uint32(ino)] {
			return true
		}
	}
	return false
}
