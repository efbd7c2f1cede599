package unixguard

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler/runset"
)

// BenchmarkHandle measures one decision per case, the trap excluded.
func BenchmarkHandle(b *testing.B) {
	t := b
	dir := b.TempDir()
	inPath, outPath, okPath := filepath.Join(dir, "in.sock"), filepath.Join(dir, "out.sock"), filepath.Join(dir, "ok.sock")
	inFd := listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: inPath})
	listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: outPath})
	listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: okPath})
	tag := strconv.Itoa(os.Getpid())
	inAbs := listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: "@bench-in-" + tag})
	run := holder(t, dir, inFd, inAbs)
	g, err := New(Options{Allow: []string{okPath}, InRun: runset.ProcessGroup(run)})
	require.NoError(t, err)
	inet := make([]byte, unix.SizeofSockaddrInet4)
	binary.NativeEndian.PutUint16(inet, unix.AF_INET)
	for _, bc := range []struct {
		name string
		sa   []byte
		want unix.Errno
	}{
		{"inet", inet, cont},
		{"sendmsg-no-name", nil, cont},
		{"path-allowed", sunPath(okPath), cont},
		{"path-run", sunPath(inPath), cont},
		{"path-outside", sunPath(outPath), PathErrno},
		{"abstract-run", sunPath("\x00bench-in-" + tag), cont},
		{"abstract-outside", sunPath("\x00bench-out-" + tag), AbstractErrno},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				c := connectCtx(t, bc.sa)
				if bc.sa == nil {
					c = ctx(t, "sendmsg", 3, keep(t, make([]byte, 56)), 0)
				}
				if got := answer(t, g, c); got != bc.want {
					b.Fatalf("%s: %v", bc.name, got)
				}
			}
		})
	}
}
