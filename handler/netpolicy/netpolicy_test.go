package netpolicy

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
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
