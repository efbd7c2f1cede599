package netpolicy

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

func inet4(a [4]byte, port uint16) []byte {
	b := make([]byte, unix.SizeofSockaddrInet4)
	binary.NativeEndian.PutUint16(b, unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[4:], a[:])
	return b
}

func inet6(a [16]byte, port uint16) []byte {
	b := make([]byte, unix.SizeofSockaddrInet6)
	binary.NativeEndian.PutUint16(b, unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[8:], a[:])
	return b
}

func TestDecode(t *testing.T) {
	fam, addr, port, ok := decode(inet4([4]byte{10, 0, 0, 1}, 443))
	require.True(t, ok)
	require.Equal(t, "inet", fam)
	require.Equal(t, netip.MustParseAddr("10.0.0.1"), addr)
	require.Equal(t, 443, port)

	mapped := netip.MustParseAddr("::ffff:127.0.0.1").As16()
	fam, addr, port, ok = decode(inet6(mapped, 80))
	require.True(t, ok)
	require.Equal(t, "inet6", fam)
	require.Equal(t, netip.MustParseAddr("127.0.0.1"), addr, "v4-mapped addresses match v4 rules")
	require.Equal(t, 80, port)

	_, _, _, ok = decode(inet4([4]byte{1, 2, 3, 4}, 1)[:6])
	require.False(t, ok, "a truncated sockaddr_in")
}

func TestRules(t *testing.T) {
	p, err := New(Rules{Connect: []string{"127.0.0.1:8080", "[::1]:*", "*:53"}, Bind: []string{"9000", "127.0.0.1:9001"}})
	require.NoError(t, err)
	for _, tc := range []struct {
		addr string
		port int
		ok   bool
	}{
		{"127.0.0.1", 8080, true},
		{"127.0.0.1", 8081, false},
		{"::1", 1, true},
		{"10.1.2.3", 53, true},
		{"10.1.2.3", 54, false},
	} {
		require.Equal(t, tc.ok, matchAny(p.connect, netip.MustParseAddr(tc.addr), tc.port), "%s:%d", tc.addr, tc.port)
	}
	require.True(t, matchAny(p.bind, netip.MustParseAddr("0.0.0.0"), 9000))
	require.False(t, matchAny(p.bind, netip.MustParseAddr("0.0.0.0"), 9001))
	require.True(t, matchAny(p.bind, netip.MustParseAddr("127.0.0.1"), 9001))
}

func TestRulesErrors(t *testing.T) {
	for _, bad := range []Rules{
		{Connect: []string{"127.0.0.1"}},
		{Connect: []string{"127.0.0.1:99999"}},
		{Bind: []string{"port"}},
	} {
		_, err := New(bad)
		require.Error(t, err, "%+v", bad)
	}
}

func TestTCPPorts(t *testing.T) {
	p, err := New(Rules{Connect: []string{"127.0.0.1:80", "[::1]:443", "*:80"}, Bind: []string{"8080"}})
	require.NoError(t, err)
	connect, bind := p.TCPPorts()
	require.Equal(t, []uint16{80, 443}, connect, "every port a rule names, whatever its host")
	require.Equal(t, []uint16{8080}, bind)

	p, err = New(Rules{Connect: []string{"10.0.0.1:*"}})
	require.NoError(t, err)
	connect, bind = p.TCPPorts()
	require.Nil(t, connect, "a rule for any port: nothing for the kernel to narrow")
	require.NotNil(t, bind, "no bind rule: none allowed")
	require.Empty(t, bind)
}

func TestIPProtocol(t *testing.T) {
	for _, tc := range []struct {
		typ, proto int
		ok         bool
	}{
		{unix.SOCK_STREAM, 0, true},
		{unix.SOCK_STREAM, unix.IPPROTO_TCP, true},
		{unix.SOCK_STREAM, unix.IPPROTO_MPTCP, true},
		{unix.SOCK_STREAM, unix.IPPROTO_SCTP, false},
		{unix.SOCK_DGRAM, 0, true},
		{unix.SOCK_DGRAM, unix.IPPROTO_UDP, true},
		{unix.SOCK_DGRAM, unix.IPPROTO_ICMP, true},
		{unix.SOCK_DGRAM, unix.IPPROTO_L2TP, false},
		{unix.SOCK_SEQPACKET, 0, false},
		{unix.SOCK_RAW, unix.IPPROTO_RAW, true},
	} {
		require.Equal(t, tc.ok, ipProtocol(tc.typ, tc.proto), "type %d protocol %d", tc.typ, tc.proto)
	}
}

func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	binary.NativeEndian.PutUint64(b, uint64(unix.CmsgLen(len(data))))
	binary.NativeEndian.PutUint32(b[8:], uint32(level))
	binary.NativeEndian.PutUint32(b[12:], uint32(typ))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func TestCheckControl(t *testing.T) {
	tos := cmsg(unix.SOL_IP, unix.IP_TOS, []byte{0x10, 0, 0, 0})
	pktinfo := cmsg(unix.SOL_IP, unix.IP_PKTINFO, make([]byte, unix.SizeofInet4Pktinfo))
	for _, tc := range []struct {
		name    string
		control []byte
		errno   unix.Errno
	}{
		{"none", nil, 0},
		{"short", []byte{1, 2, 3}, 0},
		{"TOS and PKTINFO", append(append([]byte{}, tos...), pktinfo...), 0},
		{"SCM_RIGHTS", cmsg(unix.SOL_SOCKET, unix.SCM_RIGHTS, []byte{3, 0, 0, 0}), unix.EINVAL},
		{"SCM_CREDENTIALS", cmsg(unix.SOL_SOCKET, unix.SCM_CREDENTIALS, make([]byte, 12)), unix.EINVAL},
		{"source route", append(append([]byte{}, tos...), cmsg(unix.SOL_IP, unix.IP_RETOPTS, make([]byte, 8))...), unix.EPERM},
		{"IPv6 routing header", cmsg(unix.SOL_IPV6, unix.IPV6_RTHDR, make([]byte, 24)), unix.EPERM},
		{"bad length", func() []byte { b := append([]byte{}, tos...); b[0] = 200; return b }(), unix.EINVAL},
	} {
		require.Equal(t, tc.errno, checkControl(tc.control), tc.name)
	}
}

func TestSyscallLists(t *testing.T) {
	for _, arch := range []*syscalls.Arch{syscalls.X86_64, syscalls.AArch64, syscalls.RISCV64} {
		require.Equal(t, []string{"connect", "sendto", "sendmsg", "sendmmsg", "socket", "setsockopt"}, ConnectSyscalls(arch), arch.String())
		require.Equal(t, []string{"bind", "socket"}, BindSyscalls(arch), arch.String())
	}
	p, err := New(Rules{})
	require.NoError(t, err)
	require.Equal(t, []string{"connect", "sendto", "sendmsg", "sendmmsg", "socket", "setsockopt", "bind"}, p.Syscalls(nil))
}
