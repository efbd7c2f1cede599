package netpolicy

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/internal/sockaddr"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// rawInet is the sockaddr_in or sockaddr_in6 of a and port.
func rawInet(a netip.Addr, port uint16) []byte {
	if a.Is4() {
		b := make([]byte, unix.SizeofSockaddrInet4)
		binary.NativeEndian.PutUint16(b, unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:], port)
		copy(b[4:], a.AsSlice())
		return b
	}
	b := make([]byte, unix.SizeofSockaddrInet6)
	binary.NativeEndian.PutUint16(b, unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[8:], a.AsSlice())
	return b
}

// FuzzRules parses an --allow-connect or --allow-bind value (a profile's
// network lists too): no panic; a bad rule fails with one line without
// control characters; an accepted rule allows what it names: every
// endpoint it became matches the sockaddr a child would pass for it.
func FuzzRules(f *testing.F) {
	f.Fuzz(func(t *testing.T, rule string, bind bool, probe uint16) {
		r := Rules{Connect: []string{rule}}
		if bind {
			r = Rules{Bind: []string{rule}}
		}
		p, err := New(r)
		if err != nil {
			if p != nil {
				t.Fatalf("New(%q) failed with %v but returned a policy", rule, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "rule") || strings.ContainsFunc(msg, unicode.IsControl) {
				t.Fatalf("New(%q) error %q: want one line naming the rule, without control characters", rule, msg)
			}
			return
		}
		eps := p.connect
		if bind {
			eps = p.bind
		}
		if len(eps) == 0 || len(eps) > 2 {
			t.Fatalf("rule %q became %d endpoints", rule, len(eps))
		}
		for _, e := range eps {
			if e.port < -1 || e.port > 65535 {
				t.Fatalf("rule %q: port %d", rule, e.port)
			}
			port := uint16(e.port)
			if e.port < 0 {
				port = probe
			}
			addr := e.addr
			if e.any {
				addr = netip.AddrFrom4([4]byte{byte(probe), 1, 2, 3})
			}
			family, got, gotPort, ok := decode(rawInet(addr, port))
			if !ok || !strings.HasPrefix(family, "inet") || !matchAny(eps, got, gotPort) {
				t.Fatalf("rule %q (%+v) does not match %v port %d, which it names", rule, e, addr, port)
			}
			if !bind {
				if _, _, _, allowed := p.allowedDestination(rawInet(addr, port)); !allowed {
					t.Fatalf("rule %q does not allow sending to %v port %d", rule, addr, port)
				}
			}
		}
		if c, b := p.TCPPorts(); (bind && c == nil) || (!bind && b == nil) {
			t.Fatalf("rule %q: TCPPorts %v %v: the other list must be empty, not nil", rule, c, b)
		}
	})
}

// FuzzCheckControl decides the control data of a sendmsg, bytes the child
// chooses: no panic, and an answer of 0, EINVAL or EPERM.
func FuzzCheckControl(f *testing.F) {
	f.Fuzz(func(t *testing.T, control []byte) {
		switch e := checkControl(control); e {
		case 0, unix.EINVAL, unix.EPERM:
		default:
			t.Fatalf("checkControl(%x) = %v", control, e)
		}
	})
}

// selfCtx is a live Ctx for a syscall "trapped" in this process, so that
// its reads read this process's memory.
func selfCtx(name string) *handler.Ctx {
	arch := syscalls.Native()
	nr, _ := arch.Number(name)
	fake := notif.NewFake()
	n := notif.Notif{Pid: uint32(os.Getpid())}
	n.Data.Nr = int32(nr)
	n.Data.Arch = arch.AuditArch()
	n.ID = fake.Push(n)
	return handler.NewTestCtx(n, fake)
}

func addrOf(b []byte) uint64 { return uint64(reflect.ValueOf(b).Pointer()) }

// FuzzReadMessage copies a struct msghdr a child passed to sendmsg: its
// name, iovecs and control data point into data (offsets taken modulo its
// length) with lengths the fuzzer picks, huge and negative ones included.
// No panic; the copy is bounded (name by sockaddr.Max, data by limit,
// control by maxControl); a message with descriptors or credentials is
// never accepted; errors are errnos the kernel would give.
func FuzzReadMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, namelen int32, iovlen, controllen uint64, lens []byte, stream bool, limit uint32, data []byte) {
		buf := append(bytes.Clone(data), make([]byte, 64)...)
		base := addrOf(buf)
		at := func(i int) uint64 { return base + uint64(i)%uint64(len(buf)) }
		// The iovec array: up to 8 entries, length k*lens[k] or huge.
		iov := make([]byte, 8*sizeofIovec)
		for k := 0; k < 8 && k < len(lens); k++ {
			binary.NativeEndian.PutUint64(iov[k*sizeofIovec:], at(int(lens[k])))
			l := uint64(lens[k]) * uint64(k+1)
			if lens[k] == 0xff {
				l = 1 << 63 // negative as ssize_t
			} else if lens[k] == 0xfe {
				l = 1 << 40
			}
			binary.NativeEndian.PutUint64(iov[k*sizeofIovec+8:], l)
		}
		hdr := make([]byte, sizeofMsghdr)
		le := binary.NativeEndian
		le.PutUint64(hdr[offMsgName:], at(0))
		le.PutUint32(hdr[offMsgNamelen:], uint32(namelen))
		le.PutUint64(hdr[offMsgIov:], addrOf(iov))
		le.PutUint64(hdr[offMsgIovlen:], iovlen)
		le.PutUint64(hdr[offMsgControl:], at(int(controllen>>32)))
		le.PutUint64(hdr[offMsgControlLen:], controllen&0xffffffff|controllen&(1<<63))
		info := sockInfo{domain: unix.AF_INET, typ: unix.SOCK_DGRAM}
		if stream {
			info.typ = unix.SOCK_STREAM
		}
		lim := int(limit % (maxMessage + 1))

		m, errno := readMessage(selfCtx("sendmsg"), hdr, info, lim)
		runtime.KeepAlive(buf)
		runtime.KeepAlive(iov)
		if len(m.name) > sockaddr.Max || len(m.data) > lim || len(m.control) > maxControl {
			t.Fatalf("copied %d name, %d data (limit %d), %d control bytes", len(m.name), len(m.data), lim, len(m.control))
		}
		switch errno {
		case 0:
			if e := checkControl(m.control); e != 0 {
				t.Fatalf("accepted control data that checkControl refuses with %v", e)
			}
			if namelen > 0 && len(m.name) != int(min(namelen, sockaddr.Max)) {
				t.Fatalf("namelen %d: copied %d bytes of name", namelen, len(m.name))
			}
		case unix.EINVAL, unix.EFAULT, unix.EMSGSIZE, unix.ENOBUFS, unix.EPERM:
		default:
			t.Fatalf("readMessage: errno %v", errno)
		}
	})
}

// FuzzLearnedEndpoint: the address of a connect or bind a child made
// (its sockaddr bytes), as learn records it (Decision.Address), is read
// back by --allow-connect/--allow-bind and a profile as a rule that
// allows that very address and port: learn's round trip.
func FuzzLearnedEndpoint(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > sockaddr.Max {
			raw = raw[:sockaddr.Max]
		}
		family, addr, port, ok := decode(raw)
		if !ok || (family != "inet" && family != "inet6") {
			return
		}
		s := describe(family, addr, port, raw)
		for _, bind := range []bool{false, true} {
			eps, err := parseEndpoint(s, bind)
			if err != nil {
				t.Fatalf("learned %q (bind %v) does not parse: %v", s, bind, err)
			}
			if !matchAny(eps, addr, port) {
				t.Fatalf("learned %q (bind %v) does not allow %v port %d", s, bind, addr, port)
			}
		}
	})
}
