package trace

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// addrOf returns the address of b's first byte.
func addrOf(b []byte) uint64 { return uint64(reflect.ValueOf(b).Pointer()) }

// selfCtx is a live Ctx for syscall name with args, "trapped" in this
// process, so that ReadPath reads this process's memory.
func selfCtx(t *testing.T, name string, args [6]uint64) *handler.Ctx {
	arch := syscalls.Native()
	nr, err := arch.Number(name)
	require.NoError(t, err)
	fake := notif.NewFake()
	n := notif.Notif{Pid: uint32(os.Getpid())}
	n.Data.Nr = int32(nr)
	n.Data.Arch = arch.AuditArch()
	n.Data.Args = args
	n.ID = fake.Push(n)
	return handler.NewTestCtx(n, fake)
}

func TestNewRecord(t *testing.T) {
	path := []byte("/etc/../etc/hostname\x00")
	atFDCWD := uint64(0xffffffffffffff9c) // AT_FDCWD sign-extended
	c := selfCtx(t, "openat", [6]uint64{atFDCWD, addrOf(path), unix.O_RDONLY, 0, 0, 0xdeadbeef})
	when := time.Date(2025, 1, 2, 15, 4, 5, 123456789, time.FixedZone("X", 3600))
	r := NewRecord(when, c, handler.Errno(unix.EACCES), 1500*time.Nanosecond)

	line, err := json.Marshal(r)
	require.NoError(t, err)
	want := `{"time":"2025-01-02T14:04:05.123456789Z","pid":` + itoa(os.Getpid()) +
		`,"syscall":"openat","nr":` + itoa(c.Syscall()) +
		`,"args":["0xffffffffffffff9c","` + hex(addrOf(path)) + `","0x0","0x0","0x0","0xdeadbeef"]` +
		`,"path":"/etc/hostname","action":"errno:EACCES","latency_ns":1500}`
	require.Equal(t, want, string(line))
}

func TestNewRecordRelativeAndBadPath(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	rel := []byte("sub/file\x00")
	r := NewRecord(time.Now(), selfCtx(t, "openat", [6]uint64{0xffffffffffffff9c, addrOf(rel)}), handler.Continue(), 0)
	require.Equal(t, wd+"/sub/file", r.Path)
	require.Empty(t, r.PathError)

	// A NULL path: no path, and the reason.
	r = NewRecord(time.Now(), selfCtx(t, "openat", [6]uint64{0xffffffffffffff9c, 0}), handler.Continue(), 0)
	require.Empty(t, r.Path)
	require.Contains(t, r.PathError, "read path argument 1")

	// Not a path syscall: neither.
	r = NewRecord(time.Now(), selfCtx(t, "getppid", [6]uint64{}), handler.ReturnValue(777), 0)
	require.Empty(t, r.Path)
	require.Empty(t, r.PathError)
	require.Equal(t, "return:777", r.Action)
	line, err := json.Marshal(r)
	require.NoError(t, err)
	require.NotContains(t, string(line), "path")
}

func TestPathArgs(t *testing.T) {
	for name, i := range pathArgs {
		known := false
		for _, a := range syscalls.Arches() {
			_, err := a.Number(name)
			known = known || err == nil
		}
		require.True(t, known, "%s is no syscall", name)
		require.True(t, i >= 0 && i < 6, name)
	}
	for name, want := range map[string]int{"open": 0, "openat": 1, "execve": 0, "newfstatat": 1, "symlinkat": 2, "chdir": 0} {
		got, ok := PathArg(name)
		require.True(t, ok, name)
		require.Equal(t, want, got, name)
	}
	_, ok := PathArg("getppid")
	require.False(t, ok)
}

// TestWriterConcurrent writes from many goroutines: every line is one
// whole record, and nothing reaches the output before Flush.
func TestWriterConcurrent(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				require.NoError(t, w.Write(&Record{Pid: g, Nr: i, Syscall: strings.Repeat("x", 100), Action: "continue"}))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, w.Flush())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, goroutines*each)
	seen := map[[2]int]bool{}
	for _, l := range lines {
		var r Record
		require.NoError(t, json.Unmarshal([]byte(l), &r), l)
		seen[[2]int{r.Pid, r.Nr}] = true
	}
	require.Len(t, seen, goroutines*each)
}

func TestWriterBuffersUntilFlush(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	require.NoError(t, w.Write(&Record{Syscall: "getppid", Action: "continue"}))
	require.Zero(t, out.Len())
	require.NoError(t, w.Flush())
	require.True(t, strings.HasSuffix(out.String(), "}\n"))
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestWriterKeepsFirstError(t *testing.T) {
	w := NewWriter(failWriter{})
	require.NoError(t, w.Write(&Record{})) // buffered
	require.ErrorIs(t, w.Flush(), os.ErrClosed)
	require.ErrorIs(t, w.Write(&Record{}), os.ErrClosed)
	require.ErrorIs(t, w.Flush(), os.ErrClosed)
}

func itoa(n int) string { return strconv.Itoa(n) }

func hex(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }
