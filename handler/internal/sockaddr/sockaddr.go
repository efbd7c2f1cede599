package sockaddr

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Max is sizeof(struct sockaddr_storage): the most bytes of an address the
// kernel copies from a task.
const Max = 128

// SizeofUnix is sizeof(struct sockaddr_un): an AF_UNIX address longer
// than this is EINVAL to the kernel.
const SizeofUnix = unix.SizeofSockaddrUnix

// Family returns the sa_family of raw, or 0 (AF_UNSPEC) when raw is
// shorter than the family field.
func Family(raw []byte) uint16 {
	if len(raw) < 2 {
		return unix.AF_UNSPEC
	}
	return binary.NativeEndian.Uint16(raw)
}

// sizeofSockaddrInet6RFC2133 is SIN6_LEN_RFC2133: a sockaddr_in6 without
// sin6_scope_id, the shortest the kernel takes for AF_INET6.
const sizeofSockaddrInet6RFC2133 = 24

// Inet returns the address and port of an AF_INET or AF_INET6 address. It
// reports false for another family or an address too short for its
// family (as the kernel reads them: 16 bytes for AF_INET, 24 for
// AF_INET6). An IPv4-mapped IPv6 address is returned as it is.
func Inet(raw []byte) (netip.AddrPort, bool) {
	switch Family(raw) {
	case unix.AF_INET:
		if len(raw) < unix.SizeofSockaddrInet4 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[4:8])), binary.BigEndian.Uint16(raw[2:])), true
	case unix.AF_INET6:
		if len(raw) < sizeofSockaddrInet6RFC2133 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(raw[8:24])), binary.BigEndian.Uint16(raw[2:])), true
	}
	return netip.AddrPort{}, false
}

// UnixKind is the kind of an AF_UNIX address.
type UnixKind uint8

// The kinds of AF_UNIX addresses (unix(7)).
const (
	// NotUnix is an address of another family.
	NotUnix UnixKind = iota
	// Unnamed is an address of the family alone (autobind on bind).
	Unnamed
	// Path is a path-named socket: a file.
	Path
	// Abstract is a name in the abstract namespace (sun_path[0] == 0),
	// which is per network namespace and has no file.
	Abstract
)

// String returns "unnamed", "path", "abstract" or "not unix".
func (k UnixKind) String() string {
	switch k {
	case Unnamed:
		return "unnamed"
	case Path:
		return "path"
	case Abstract:
		return "abstract"
	}
	return "not unix"
}

// Unix decodes an AF_UNIX address of len(raw) bytes as the kernel does: a
// path ends at the first NUL (or at the end of raw); an abstract name is
// every byte after the leading NUL, NULs included. name is the path, or the
// abstract name without its leading NUL.
func Unix(raw []byte) (kind UnixKind, name string) {
	if Family(raw) != unix.AF_UNIX {
		return NotUnix, ""
	}
	sunPath := raw[2:]
	switch {
	case len(sunPath) == 0:
		return Unnamed, ""
	case sunPath[0] == 0:
		return Abstract, string(sunPath[1:])
	}
	if i := strings.IndexByte(string(sunPath), 0); i >= 0 {
		sunPath = sunPath[:i]
	}
	return Path, string(sunPath)
}

// AbstractString shows an abstract name as /proc/net/unix and ss do: "@"
// for the leading NUL and for every NUL in the name.
func AbstractString(name string) string {
	return "@" + strings.ReplaceAll(name, "\x00", "@")
}

// String describes an address for people: "127.0.0.1:80", "[::1]:80", a
// unix path, "@name" for an abstract name, "" for an unnamed unix address,
// "family N" for any other family.
func String(raw []byte) string {
	if ap, ok := Inet(raw); ok {
		return ap.String()
	}
	switch kind, name := Unix(raw); kind {
	case Path:
		return name
	case Abstract:
		return AbstractString(name)
	case Unnamed:
		return ""
	}
	return "family " + strconv.Itoa(int(Family(raw)))
}
