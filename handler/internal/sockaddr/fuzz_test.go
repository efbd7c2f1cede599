package sockaddr

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzSockaddr decodes the bytes of an address a child passed to
// connect, bind or a send: no panic on any length (0 to sockaddr_storage);
// Inet and Unix read only the bytes there are and agree with the family;
// String describes inet addresses in the form --allow-connect takes.
func FuzzSockaddr(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > Max {
			raw = raw[:Max]
		}
		fam := Family(raw)
		ap, ok := Inet(raw)
		if ok != ((fam == unix.AF_INET && len(raw) >= unix.SizeofSockaddrInet4) || (fam == unix.AF_INET6 && len(raw) >= 24)) {
			t.Fatalf("Inet(%x) = %v, %v for family %d", raw, ap, ok, fam)
		}
		if ok && ap.Port() != binary.BigEndian.Uint16(raw[2:]) {
			t.Fatalf("Inet(%x): port %d", raw, ap.Port())
		}
		kind, name := Unix(raw)
		switch {
		case fam != unix.AF_UNIX:
			if kind != NotUnix || name != "" {
				t.Fatalf("Unix(%x) = %v %q for family %d", raw, kind, name, fam)
			}
		case kind == Unnamed:
			if len(raw) != 2 || name != "" {
				t.Fatalf("Unix(%x) = unnamed %q", raw, name)
			}
		case kind == Abstract:
			if raw[2] != 0 || name != string(raw[3:]) {
				t.Fatalf("Unix(%x) = abstract %q", raw, name)
			}
			if s := AbstractString(name); len(s) != len(name)+1 || strings.Contains(s, "\x00") {
				t.Fatalf("AbstractString(%q) = %q", name, s)
			}
		case kind == Path:
			if name == "" || strings.Contains(name, "\x00") || !bytes.HasPrefix(raw[2:], []byte(name)) {
				t.Fatalf("Unix(%x) = path %q", raw, name)
			}
		default:
			t.Fatalf("Unix(%x) = %v for AF_UNIX", raw, kind)
		}
		s := String(raw)
		if ok && s != ap.String() {
			t.Fatalf("String(%x) = %q, want %q", raw, s, ap.String())
		}
	})
}

func addrOf(b []byte) uint64 { return uint64(reflect.ValueOf(b).Pointer()) }

// FuzzDestinations reads the destinations of a trapped connect, sendto,
// sendmsg or sendmmsg from this process's memory: data holds the address
// (and the msghdr/mmsghdr array, its pointers and lengths taken from
// data too); lengths and counts are the fuzzer's, negative and huge ones
// included. No panic; every address is at most sockaddr_storage; at most
// UIO_MAXIOV of them; the errno is one the kernel would give.
func FuzzDestinations(f *testing.F) {
	f.Fuzz(func(t *testing.T, call uint8, size uint64, vlen uint64, namelens []byte, data []byte) {
		name := []string{"connect", "sendto", "sendmsg", "sendmmsg"}[call%4]
		buf := append(bytes.Clone(data), make([]byte, 16)...)
		// Up to 4 mmsghdr (a msghdr is the first 56 bytes of one) naming
		// buf, with msg_namelen from namelens.
		hdrs := make([]byte, 4*sizeofMmsghdr)
		for i := 0; i < 4; i++ {
			h := hdrs[i*sizeofMmsghdr:]
			binary.NativeEndian.PutUint64(h[offMsgName:], addrOf(buf))
			if i < len(namelens) {
				nl := int32(namelens[i]) * 3
				if namelens[i] >= 0xf0 {
					nl = -nl // negative lengths
				}
				binary.NativeEndian.PutUint32(h[offMsgNamelen:], uint32(nl))
			}
		}
		var args []uint64
		switch name {
		case "connect":
			args = []uint64{3, addrOf(buf), size}
		case "sendto":
			args = []uint64{3, 0, 0, 0, addrOf(buf), size}
			if size == 0 {
				args[4] = 0
			}
		case "sendmsg":
			args = []uint64{3, addrOf(hdrs), 0}
		case "sendmmsg":
			args = []uint64{3, addrOf(hdrs), min(vlen, 4) | vlen&(1<<63), 0}
		}
		dests, errno := Destinations(selfCtx(t, name, args...))
		runtime.KeepAlive(buf)
		runtime.KeepAlive(hdrs)
		if len(dests) > maxMmsgMessage {
			t.Fatalf("%s: %d destinations", name, len(dests))
		}
		for _, d := range dests {
			if len(d) > Max {
				t.Fatalf("%s: a destination of %d bytes", name, len(d))
			}
		}
		switch errno {
		case 0, unix.EINVAL, unix.EFAULT:
		default:
			t.Fatalf("%s: errno %v", name, errno)
		}
	})
}
