package sockaddr

import (
	"encoding/binary"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// unixAddr builds an AF_UNIX sockaddr with sun_path exactly path.
func unixAddr(path string) []byte {
	b := make([]byte, 2, 2+len(path))
	binary.NativeEndian.PutUint16(b, unix.AF_UNIX)
	return append(b, path...)
}

func inet4(a [4]byte, port uint16) []byte {
	b := make([]byte, unix.SizeofSockaddrInet4)
	binary.NativeEndian.PutUint16(b, unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	copy(b[4:], a[:])
	return b
}

func TestUnix(t *testing.T) {
	for _, tc := range []struct {
		raw  []byte
		kind UnixKind
		name string
		str  string
	}{
		{unixAddr(""), Unnamed, "", ""},
		{unixAddr("/run/x.sock"), Path, "/run/x.sock", "/run/x.sock"},
		{unixAddr("/run/x.sock\x00garbage"), Path, "/run/x.sock", "/run/x.sock"},
		{unixAddr("rel.sock"), Path, "rel.sock", "rel.sock"},
		{unixAddr("\x00name"), Abstract, "name", "@name"},
		{unixAddr("\x00na\x00me\x00"), Abstract, "na\x00me\x00", "@na@me@"},
		{unixAddr("\x00"), Abstract, "", "@"},
		{inet4([4]byte{127, 0, 0, 1}, 80), NotUnix, "", "127.0.0.1:80"},
		{[]byte{1}, NotUnix, "", "family 0"},
	} {
		kind, name := Unix(tc.raw)
		require.Equal(t, tc.kind, kind, "%q", tc.raw)
		require.Equal(t, tc.name, name, "%q", tc.raw)
		require.Equal(t, tc.str, String(tc.raw), "%q", tc.raw)
	}
}

func TestInet(t *testing.T) {
	ap, ok := Inet(inet4([4]byte{10, 0, 0, 1}, 443))
	require.True(t, ok)
	require.Equal(t, netip.MustParseAddrPort("10.0.0.1:443"), ap)
	_, ok = Inet(inet4([4]byte{10, 0, 0, 1}, 443)[:7])
	require.False(t, ok, "a truncated sockaddr_in")
	v6 := make([]byte, unix.SizeofSockaddrInet6)
	binary.NativeEndian.PutUint16(v6, unix.AF_INET6)
	binary.BigEndian.PutUint16(v6[2:], 53)
	v6[23] = 1 // ::1
	ap, ok = Inet(v6[:24])
	require.True(t, ok, "a sockaddr_in6 without scope id (SIN6_LEN_RFC2133)")
	require.Equal(t, netip.MustParseAddrPort("[::1]:53"), ap)
	_, ok = Inet(v6[:23])
	require.False(t, ok)
	_, ok = Inet(unixAddr("/x"))
	require.False(t, ok)
}

// keep returns the address of b, kept alive until the test ends.
func keep(t *testing.T, b []byte) uint64 {
	t.Cleanup(func() { runtime.KeepAlive(b) })
	return uint64(reflect.ValueOf(b).Pointer())
}

// selfCtx is a live Ctx for syscall name "trapped" in this process.
func selfCtx(t *testing.T, name string, args ...uint64) *handler.Ctx {
	nr, err := syscalls.Native().Number(name)
	require.NoError(t, err)
	fake := notif.NewFake()
	n := notif.Notif{Pid: uint32(os.Getpid())}
	n.Data.Nr = int32(nr)
	n.Data.Arch = syscalls.Native().AuditArch()
	copy(n.Data.Args[:], args)
	n.ID = fake.Push(n)
	return handler.NewTestCtx(n, fake)
}

// msghdr builds a struct msghdr with msg_name and msg_namelen.
func msghdr(name uint64, namelen int32) []byte {
	b := make([]byte, sizeofMsghdr)
	binary.NativeEndian.PutUint64(b[offMsgName:], name)
	binary.NativeEndian.PutUint32(b[offMsgNamelen:], uint32(namelen))
	return b
}

func TestLayout(t *testing.T) {
	require.Equal(t, unix.SizeofMsghdr, sizeofMsghdr)
	var h unix.Msghdr
	require.EqualValues(t, offMsgNamelen, reflect.TypeOf(h).Field(1).Offset)
	require.EqualValues(t, sizeofMmsghdr, reflect.TypeOf(unix.Mmsghdr{}).Size())
}

func TestDestinations(t *testing.T) {
	sa := unixAddr("/run/x.sock\x00")
	saAddr := keep(t, sa)
	long := make([]byte, 200)
	copy(long, sa)
	longAddr := keep(t, long)
	msg := keep(t, msghdr(saAddr, int32(len(sa))))
	msgLong := keep(t, msghdr(longAddr, 200))
	msgNone := keep(t, msghdr(0, 12))
	msgZero := keep(t, msghdr(saAddr, 0))
	msgNeg := keep(t, msghdr(saAddr, -1))
	msgBad := keep(t, msghdr(8, 12))
	vec := make([]byte, 3*sizeofMmsghdr)
	copy(vec, msghdr(saAddr, int32(len(sa))))
	copy(vec[sizeofMmsghdr:], msghdr(0, 0))
	copy(vec[2*sizeofMmsghdr:], msghdr(longAddr, 20))
	vecAddr := keep(t, vec)
	badVec := make([]byte, 2*sizeofMmsghdr)
	copy(badVec, msghdr(saAddr, int32(len(sa))))
	copy(badVec[sizeofMmsghdr:], msghdr(8, 12))
	badVecAddr := keep(t, badVec)

	for _, tc := range []struct {
		name  string
		args  []uint64
		want  []string
		errno unix.Errno
	}{
		{"connect", []uint64{3, saAddr, uint64(len(sa))}, []string{"/run/x.sock"}, 0},
		{"connect", []uint64{3, saAddr, 129}, nil, unix.EINVAL},
		{"connect", []uint64{3, saAddr, 0xffffffff}, nil, unix.EINVAL},
		{"connect", []uint64{3, 8, 16}, nil, unix.EFAULT},
		{"connect", []uint64{3, 0, 0}, []string{"family 0"}, 0},
		{"sendto", []uint64{3, 0, 0, 0, 0, 0}, nil, 0},
		{"sendto", []uint64{3, 0, 0, 0, saAddr, uint64(len(sa))}, []string{"/run/x.sock"}, 0},
		{"sendmsg", []uint64{3, msg, 0}, []string{"/run/x.sock"}, 0},
		{"sendmsg", []uint64{3, msgLong, 0}, []string{"/run/x.sock"}, 0},
		{"sendmsg", []uint64{3, msgNone, 0}, nil, 0},
		{"sendmsg", []uint64{3, msgZero, 0}, nil, 0},
		{"sendmsg", []uint64{3, msgNeg, 0}, nil, unix.EINVAL},
		{"sendmsg", []uint64{3, msgBad, 0}, nil, unix.EFAULT},
		{"sendmsg", []uint64{3, 8, 0}, nil, unix.EFAULT},
		{"sendmmsg", []uint64{3, vecAddr, 3, 0}, []string{"/run/x.sock", "/run/x.sock"}, 0},
		{"sendmmsg", []uint64{3, vecAddr, 0, 0}, nil, 0},
		{"sendmmsg", []uint64{3, badVecAddr, 2, 0}, []string{"/run/x.sock"}, 0},
		{"sendmmsg", []uint64{3, badVecAddr + sizeofMmsghdr, 1, 0}, nil, unix.EFAULT},
		{"sendmmsg", []uint64{3, 8, 2, 0}, nil, unix.EFAULT},
		{"getpid", nil, nil, 0},
	} {
		dests, errno := Destinations(selfCtx(t, tc.name, tc.args...))
		require.Equal(t, tc.errno, errno, "%s %x", tc.name, tc.args)
		var got []string
		for _, d := range dests {
			got = append(got, String(d))
		}
		require.Equal(t, tc.want, got, "%s %x", tc.name, tc.args)
	}
	// The length the kernel uses: 128 at most, the rest is not read.
	dests, _ := Destinations(selfCtx(t, "sendmsg", 3, msgLong, 0))
	require.Len(t, dests[0], Max)
}
