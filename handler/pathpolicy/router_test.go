package pathpolicy

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

func syscallCtx(t *testing.T, name string, args [6]uint64) *handler.Ctx {
	t.Helper()
	arch := syscalls.Native()
	nr, err := arch.Number(name)
	require.NoError(t, err)
	fake := notif.NewFake()
	n := notif.Notif{Pid: uint32(os.Getpid())}
	n.Data.Nr, n.Data.Arch, n.Data.Args = int32(nr), arch.AuditArch(), args
	n.ID = fake.Push(n)
	return handler.NewTestCtx(n, fake)
}

type namePolicy string

func (n namePolicy) Handle(*handler.Ctx) handler.Action {
	if n == "dirs" {
		return handler.ReturnValue(2)
	}
	return handler.ReturnValue(1)
}

func (n namePolicy) Syscalls(*syscalls.Arch) []string { return []string{"openat"} }

// TestRouter: the route depends on O_DIRECTORY in the flags register of
// open and openat only; every other file operation goes to files.
func TestRouter(t *testing.T) {
	r := NewRouter(namePolicy("files"), namePolicy("dirs"))
	atFDCWD := uint64(0xffffff9c)
	type row struct {
		name string
		args [6]uint64
		want int64
	}
	tests := []row{
		{"openat", [6]uint64{atFDCWD, 0, unix.O_RDONLY}, 1},
		{"openat", [6]uint64{atFDCWD, 0, unix.O_RDONLY | unix.O_DIRECTORY}, 2},
		{"openat", [6]uint64{atFDCWD, 0, unix.O_RDWR | unix.O_TMPFILE}, 2},
		{"openat", [6]uint64{atFDCWD, 0, unix.O_RDONLY, unix.O_DIRECTORY}, 1}, // the mode, not the flags
		{"openat2", [6]uint64{atFDCWD, 0, unix.O_DIRECTORY, 24}, 1},           // flags in memory: files
		{"mkdirat", [6]uint64{atFDCWD, 0, unix.O_DIRECTORY}, 1},
	}
	if _, err := syscalls.Native().Number("open"); err == nil {
		tests = append(tests, row{"open", [6]uint64{0, unix.O_DIRECTORY}, 2}, row{"creat", [6]uint64{0, unix.O_DIRECTORY}, 1})
	}
	for _, tc := range tests {
		require.Equal(t, handler.ReturnValue(tc.want), r.Handle(syscallCtx(t, tc.name, tc.args)), "%s %v", tc.name, tc.args)
	}
	require.Equal(t, []string{"openat"}, r.Syscalls(nil))
}
