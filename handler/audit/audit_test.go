package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// addrOf returns the address of b's first byte.
func addrOf(b []byte) uint64 { return uint64(reflect.ValueOf(b).Pointer()) }

// cstr returns a NUL-terminated copy of s kept alive by the test.
func cstr(t *testing.T, s string) uint64 {
	b := append([]byte(s), 0)
	t.Cleanup(func() { runtime.KeepAlive(b) })
	return addrOf(b)
}

// keep holds test memory that the "process" (this one) reads.
func keep(t *testing.T, b []byte) uint64 {
	t.Cleanup(func() { runtime.KeepAlive(b) })
	return addrOf(b)
}

// ptrArray builds a NULL-terminated array of pointers.
func ptrArray(t *testing.T, ptrs ...uint64) uint64 {
	b := make([]byte, 8*(len(ptrs)+1))
	for i, p := range ptrs {
		binary.NativeEndian.PutUint64(b[i*8:], p)
	}
	return keep(t, b)
}

// selfCtx is a live Ctx for syscall name with args, "trapped" in this
// process, so that its reads read this process's memory.
func selfCtx(t testing.TB, name string, args [6]uint64) *handler.Ctx {
	arch := syscalls.Native()
	nr, err := arch.Number(name)
	require.NoError(t, err)
	return ctxNr(nr, args)
}

func ctxNr(nr int, args [6]uint64) *handler.Ctx {
	arch := syscalls.Native()
	fake := notif.NewFake()
	n := notif.Notif{Pid: uint32(os.Getpid())}
	n.Data.Nr = int32(nr)
	n.Data.Arch = arch.AuditArch()
	n.Data.Args = args
	n.ID = fake.Push(n)
	return handler.NewTestCtx(n, fake)
}

const atFDCWD = uint64(0xffffffffffffff9c) // AT_FDCWD sign-extended

func text(t *testing.T, name string, args [6]uint64) string {
	t.Helper()
	r := NewRecord(time.Now(), selfCtx(t, name, args), handler.Continue(), 0)
	r.Pid = 7
	return string(r.AppendText(nil))
}

func TestNewRecordJSON(t *testing.T) {
	path := []byte("/etc/../etc/hostname\x00")
	c := selfCtx(t, "openat", [6]uint64{atFDCWD, addrOf(path), unix.O_RDONLY | unix.O_CLOEXEC, 0, 0, 0xdeadbeef})
	when := time.Date(2025, 1, 2, 15, 4, 5, 123456789, time.FixedZone("X", 3600))
	r := NewRecord(when, c, handler.Errno(unix.EACCES), 1500*time.Nanosecond)

	line := string(r.AppendJSON(nil))
	want := `{"time":"2025-01-02T14:04:05.123456789Z","pid":` + strconv.Itoa(os.Getpid()) +
		`,"syscall":"openat","nr":` + strconv.Itoa(c.Syscall()) +
		`,"args":["0xffffffffffffff9c","` + hex(addrOf(path)) + `","` + hex(unix.O_CLOEXEC) + `","0x0","0x0","0xdeadbeef"]` +
		`,"decoded":{"dirfd":"AT_FDCWD","path":"/etc/../etc/hostname","flags":"O_RDONLY|O_CLOEXEC"}` +
		`,"path":"/etc/hostname","action":"errno:EACCES","latency_ns":1500}` + "\n"
	require.Equal(t, want, line)
	runtime.KeepAlive(path)
}

func TestNewRecordRelativeAndBadPath(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	rel := []byte("sub/file\x00")
	r := NewRecord(time.Now(), selfCtx(t, "openat", [6]uint64{atFDCWD, addrOf(rel)}), handler.Continue(), 0)
	require.Equal(t, wd+"/sub/file", r.Path)
	require.Empty(t, r.PathError)
	v, _ := r.Decoded.Get("path")
	require.Equal(t, "sub/file", v, "decoded paths are as passed")
	runtime.KeepAlive(rel)

	// A NULL path: no path, and the reason.
	r = NewRecord(time.Now(), selfCtx(t, "openat", [6]uint64{atFDCWD, 0}), handler.Continue(), 0)
	require.Empty(t, r.Path)
	require.Contains(t, r.PathError, "read path argument 1")

	// Not a path syscall: neither.
	r = NewRecord(time.Now(), selfCtx(t, "getppid", [6]uint64{}), handler.ReturnValue(777), 0)
	require.Empty(t, r.Path)
	require.Empty(t, r.PathError)
	require.Equal(t, "return:777", r.Action)
	line := string(r.AppendJSON(nil))
	require.NotContains(t, line, "path")
	require.NotContains(t, line, "decoded")
}

// TestDecodeText pins the text of each kind of argument.
func TestDecodeText(t *testing.T) {
	etc := cstr(t, "/etc/hostname")
	rel := cstr(t, "data")
	cat, arg := cstr(t, "cat"), cstr(t, "/etc/hostname")
	argv := ptrArray(t, cat, arg)
	envp := ptrArray(t, cat, cat, cat)
	inet := make([]byte, unix.SizeofSockaddrInet4)
	binary.NativeEndian.PutUint16(inet, unix.AF_INET)
	binary.BigEndian.PutUint16(inet[2:], 8080)
	copy(inet[4:], []byte{127, 0, 0, 1})
	inetAddr := keep(t, inet)
	inet6 := make([]byte, unix.SizeofSockaddrInet6)
	binary.NativeEndian.PutUint16(inet6, unix.AF_INET6)
	binary.BigEndian.PutUint16(inet6[2:], 443)
	inet6[23] = 1
	inet6Addr := keep(t, inet6)
	unixSa := append([]byte{0, 0}, "/run/sock\x00\x00\x00"...)
	binary.NativeEndian.PutUint16(unixSa, unix.AF_UNIX)
	unixAddr := keep(t, unixSa)
	abstract := append([]byte{0, 0, 0}, "name"...)
	binary.NativeEndian.PutUint16(abstract, unix.AF_UNIX)
	abstractAddr := keep(t, abstract)
	how := make([]byte, 24)
	binary.NativeEndian.PutUint64(how, unix.O_WRONLY|unix.O_CREAT)
	binary.NativeEndian.PutUint64(how[8:], 0o600)
	binary.NativeEndian.PutUint64(how[16:], unix.RESOLVE_BENEATH)
	howAddr := keep(t, how)
	cargs := make([]byte, 88)
	binary.NativeEndian.PutUint64(cargs, unix.CLONE_VM|unix.CLONE_VFORK)
	binary.NativeEndian.PutUint64(cargs[32:], uint64(unix.SIGCHLD))
	cargsAddr := keep(t, cargs)
	fd3 := uint64(3)

	tests := []struct {
		name string
		args [6]uint64
		want string
	}{
		{"openat", [6]uint64{atFDCWD, etc, unix.O_RDONLY | unix.O_CLOEXEC}, `openat(AT_FDCWD, "/etc/hostname", O_RDONLY|O_CLOEXEC)`},
		{"openat", [6]uint64{fd3, rel, unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC, 0o644}, `openat(3, "data", O_WRONLY|O_CREAT|O_TRUNC, 0644)`},
		{"openat", [6]uint64{atFDCWD, etc, unix.O_RDWR | unix.O_TMPFILE, 0o600}, `openat(AT_FDCWD, "/etc/hostname", O_RDWR|O_TMPFILE, 0600)`},
		{"openat", [6]uint64{atFDCWD, etc, 3 | 1<<31}, `openat(AT_FDCWD, "/etc/hostname", O_ACCMODE|0x80000000)`},
		{"openat", [6]uint64{atFDCWD, 0, unix.O_RDONLY}, `openat(AT_FDCWD, NULL, O_RDONLY)`},
		{"openat", [6]uint64{atFDCWD, 8, unix.O_RDONLY}, `openat(AT_FDCWD, 0x8 /* EFAULT */, O_RDONLY)`},
		{"openat2", [6]uint64{atFDCWD, etc, howAddr, 24}, `openat2(AT_FDCWD, "/etc/hostname", {flags=O_WRONLY|O_CREAT, mode=0600, resolve=RESOLVE_BENEATH}, 24)`},
		{"openat2", [6]uint64{atFDCWD, etc, howAddr, 8}, `openat2(AT_FDCWD, "/etc/hostname", ` + hex(howAddr) + `, 8)`},
		{"newfstatat", [6]uint64{fd3, cstr(t, ""), 0x1000, unix.AT_EMPTY_PATH}, `newfstatat(3, "", 0x1000, AT_EMPTY_PATH)`},
		{"faccessat2", [6]uint64{atFDCWD, etc, unix.R_OK | unix.X_OK, unix.AT_EACCESS}, `faccessat2(AT_FDCWD, "/etc/hostname", R_OK|X_OK, AT_EACCESS)`},
		{"faccessat", [6]uint64{atFDCWD, etc, 0}, `faccessat(AT_FDCWD, "/etc/hostname", F_OK)`},
		{"unlinkat", [6]uint64{atFDCWD, rel, unix.AT_REMOVEDIR}, `unlinkat(AT_FDCWD, "data", AT_REMOVEDIR)`},
		{"mkdirat", [6]uint64{atFDCWD, rel, 0o755}, `mkdirat(AT_FDCWD, "data", 0755)`},
		{"renameat2", [6]uint64{atFDCWD, rel, fd3, etc, unix.RENAME_NOREPLACE}, `renameat2(AT_FDCWD, "data", 3, "/etc/hostname", RENAME_NOREPLACE)`},
		{"execve", [6]uint64{etc, argv, envp}, `execve("/etc/hostname", ["cat", "/etc/hostname"], /* 3 vars */)`},
		{"execve", [6]uint64{etc, 0, 0}, `execve("/etc/hostname", NULL, NULL)`},
		{"execveat", [6]uint64{fd3, cstr(t, ""), argv, envp, unix.AT_EMPTY_PATH}, `execveat(3, "", ["cat", "/etc/hostname"], /* 3 vars */, AT_EMPTY_PATH)`},
		{"clone3", [6]uint64{cargsAddr, 88}, `clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD}, 88)`},
		{"exit_group", [6]uint64{0xffffffff}, `exit_group(-1)`},
		{"kill", [6]uint64{1234, uint64(unix.SIGTERM)}, `kill(1234, SIGTERM)`},
		{"socket", [6]uint64{unix.AF_INET6, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, 0}, `socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, 0)`},
		{"connect", [6]uint64{fd3, inetAddr, unix.SizeofSockaddrInet4}, `connect(3, {family=AF_INET, address="127.0.0.1:8080"}, 16)`},
		{"bind", [6]uint64{fd3, inet6Addr, unix.SizeofSockaddrInet6}, `bind(3, {family=AF_INET6, address="[::1]:443"}, 28)`},
		{"connect", [6]uint64{fd3, unixAddr, uint64(len(unixSa))}, `connect(3, {family=AF_UNIX, address="/run/sock"}, 14)`},
		{"connect", [6]uint64{fd3, abstractAddr, uint64(len(abstract))}, `connect(3, {family=AF_UNIX, address="@name"}, 7)`},
		{"connect", [6]uint64{fd3, 8, 16}, `connect(3, 0x8 /* EFAULT */, 16)`},
		{"sendto", [6]uint64{fd3, 0x1000, 5, unix.MSG_NOSIGNAL, 0, 0}, `sendto(3, 0x1000, 5, MSG_NOSIGNAL, NULL, 0)`},
		{"shutdown", [6]uint64{fd3, unix.SHUT_WR}, `shutdown(3, SHUT_WR)`},
		{"getppid", [6]uint64{1, 2}, `getppid()`},
		{"getuid", [6]uint64{1, 2}, `getuid(0x1, 0x2, 0x0, 0x0, 0x0, 0x0)`},
	}
	if _, err := syscalls.Native().Number("fork"); err == nil {
		tests = append(tests, struct {
			name string
			args [6]uint64
			want string
		}{"fork", [6]uint64{}, `fork()`})
	}
	for _, tc := range tests {
		got := text(t, tc.name, tc.args)
		require.Equal(t, "[pid 7] "+tc.want+" = continue\n", got, tc.name)
	}
}

func TestCloneFlags(t *testing.T) {
	require.Equal(t, "CLONE_VM|CLONE_VFORK|SIGCHLD", cloneFlags(unix.CLONE_VM|unix.CLONE_VFORK|uint64(unix.SIGCHLD)))
	require.Equal(t, "SIGCHLD", cloneFlags(uint64(unix.SIGCHLD)))
	require.Equal(t, "0", cloneFlags(0))
	require.Equal(t, "CLONE_THREAD", cloneFlags(unix.CLONE_THREAD))
	require.Equal(t, "CLONE_NEWTIME|CLONE_VM|0x8000000000000000", clone3Flags(unix.CLONE_NEWTIME|unix.CLONE_VM|1<<63))
	// clone's low byte is the signal, not CLONE_NEWTIME.
	c := selfCtx(t, "clone", [6]uint64{unix.CLONE_CHILD_SETTID | unix.CLONE_CHILD_CLEARTID | uint64(unix.SIGCHLD)})
	v, _ := Decode(c).Get("flags")
	require.Equal(t, Sym("CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"), v)
}

func TestFlagNames(t *testing.T) {
	require.Equal(t, "O_RDONLY", openFlags(0))
	require.Equal(t, "O_WRONLY|O_SYNC", openFlags(unix.O_WRONLY|unix.O_SYNC))
	require.Equal(t, "O_RDONLY|O_DSYNC", openFlags(unix.O_DSYNC))
	require.Equal(t, "O_RDONLY|O_LARGEFILE|O_PATH", openFlags(oLargeFile|unix.O_PATH))
	require.Equal(t, "O_RDONLY|O_DIRECTORY", openFlags(unix.O_DIRECTORY))
	require.Equal(t, "0", string(mode(0)))
	require.Equal(t, "04755", string(mode(0o4755)))
	require.Equal(t, "0", flagString(0, atFlagNames))
	require.Equal(t, "AT_SYMLINK_NOFOLLOW|0x1", flagString(unix.AT_SYMLINK_NOFOLLOW|1, atFlagNames))
	require.Equal(t, "SOCK_DGRAM|SOCK_NONBLOCK|0x40", sockType(unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|0x40))
	require.Equal(t, "15", sockType(15))
	require.Equal(t, "12345", family(12345))
	require.Equal(t, "SIGKILL", signal(9))
	require.Equal(t, "0", signal(0))
	require.Equal(t, "200", signal(200))
}

// TestArgvBounds: argv is cut at MaxArgs entries, long entries at
// MaxArgLen, and a bad entry pointer ends the list.
func TestArgvBounds(t *testing.T) {
	path := cstr(t, "/bin/x")
	many := make([]uint64, MaxArgs+5)
	for i := range many {
		many[i] = cstr(t, "a")
	}
	v, _ := Decode(selfCtx(t, "execve", [6]uint64{path, ptrArray(t, many...)})).Get("argv")
	l := v.(List)
	require.Len(t, l.Items, MaxArgs)
	require.True(t, l.Truncated)

	long := strings.Repeat("x", MaxArgLen+10)
	v, _ = Decode(selfCtx(t, "execve", [6]uint64{path, ptrArray(t, cstr(t, long), cstr(t, "b"))})).Get("argv")
	l = v.(List)
	require.Equal(t, []string{long[:MaxArgLen] + "...", "b"}, l.Items)
	require.False(t, l.Truncated)

	v, _ = Decode(selfCtx(t, "execve", [6]uint64{path, ptrArray(t, cstr(t, "a"), 8, cstr(t, "c"))})).Get("argv")
	l = v.(List)
	require.Equal(t, []string{"a"}, l.Items)
	require.True(t, l.Truncated)
	js := string(appendValueJSON(nil, l))
	require.Equal(t, `["a","..."]`, js)

	// A total above MaxArgBytes.
	big := strings.Repeat("y", MaxArgLen-1)
	var ptrs []uint64
	for range MaxArgBytes/len(big) + 2 {
		ptrs = append(ptrs, cstr(t, big))
	}
	v, _ = Decode(selfCtx(t, "execve", [6]uint64{path, ptrArray(t, ptrs...)})).Get("argv")
	l = v.(List)
	require.True(t, l.Truncated)
	total := 0
	for _, s := range l.Items {
		total += len(s)
	}
	require.LessOrEqual(t, total, MaxArgBytes)
	require.Equal(t, MaxArgBytes/len(big), len(l.Items))

	// The array itself unreadable.
	v, _ = Decode(selfCtx(t, "execve", [6]uint64{path, 16})).Get("argv")
	require.Equal(t, Unread{Addr: 16, Err: "EFAULT"}, v)
}

// TestPointersStopAtUnmappedPage: an argv array that ends right before an
// unmapped page is read without touching that page.
func TestPointersStopAtUnmappedPage(t *testing.T) {
	pg := os.Getpagesize()
	m, err := unix.Mmap(-1, 0, 2*pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	require.NoError(t, err)
	defer unix.Munmap(m)
	require.NoError(t, unix.Mprotect(m[pg:], unix.PROT_NONE))
	a := cstr(t, "arg")
	// Two pointers and the NULL in the last 24 bytes of the first page.
	base := pg - 24
	binary.NativeEndian.PutUint64(m[base:], a)
	binary.NativeEndian.PutUint64(m[base+8:], a)
	binary.NativeEndian.PutUint64(m[base+16:], 0)
	addr := uint64(uintptr(unsafe.Pointer(&m[base])))
	v, _ := Decode(selfCtx(t, "execve", [6]uint64{a, addr})).Get("argv")
	require.Equal(t, List{Items: []string{"arg", "arg"}}, v)

	// Without the NULL the read runs into the hole: the list is cut.
	binary.NativeEndian.PutUint64(m[base+16:], a)
	v, _ = Decode(selfCtx(t, "execve", [6]uint64{a, addr})).Get("argv")
	require.Equal(t, List{Items: []string{"arg", "arg", "arg"}, Truncated: true}, v)
}

func TestSignatures(t *testing.T) {
	for name, spec := range signatures() {
		known := false
		for _, a := range syscalls.Arches() {
			_, err := a.Number(name)
			known = known || err == nil
		}
		require.True(t, known, "%s is no syscall", name)
		require.LessOrEqual(t, len(spec), 6, name)
		seen := map[string]bool{}
		for _, s := range spec {
			require.False(t, seen[s.name], "%s: argument %s twice", name, s.name)
			seen[s.name] = true
			switch s.kind {
			case kCreateMode, kOpenHow, kCloneArgs, kSockaddr:
				require.True(t, s.aux >= 0 && s.aux < len(spec), "%s: %s: aux %d", name, s.name, s.aux)
			}
		}
	}
	for _, arch := range syscalls.Arches() {
		for _, fam := range FamilyNames() {
			names, err := Family(fam, arch)
			require.NoError(t, err)
			require.NotEmpty(t, names)
			for _, n := range names {
				require.True(t, Decoded(n), "%s of family %s is not decoded", n, fam)
			}
		}
	}
	_, err := Family("frob", nil)
	require.ErrorContains(t, err, `unknown syscall family "frob" (want exec, file, network, process)`)
	aarch, err := Family("file", syscalls.AArch64)
	require.NoError(t, err)
	require.NotContains(t, aarch, "open")
	require.Contains(t, aarch, "openat")
}

func TestPathArgs(t *testing.T) {
	for name, i := range pathArgs() {
		known := false
		for _, a := range syscalls.Arches() {
			_, err := a.Number(name)
			known = known || err == nil
		}
		require.True(t, known, "%s is no syscall", name)
		require.True(t, i >= 0 && i < 6, name)
		if spec, ok := signatures()[name]; ok {
			require.Equal(t, kPath, spec[i].kind, "%s: argument %d is not a path in its signature", name, i)
		}
	}
	for name, want := range map[string]int{"open": 0, "openat": 1, "execve": 0, "newfstatat": 1, "symlinkat": 2, "chdir": 0} {
		got, ok := PathArg(name)
		require.True(t, ok, name)
		require.Equal(t, want, got, name)
	}
	_, ok := PathArg("getppid")
	require.False(t, ok)
}

// TestRecorderHandle: as a chain member the Recorder answers Continue and
// its record has no action; as Observe, the final one.
func TestRecorderHandle(t *testing.T) {
	var out bytes.Buffer
	rec := New(&out, &Options{Format: Text, Now: func() time.Time { return time.Unix(0, 0) }})
	require.Equal(t, handler.ExceptionContinue, rec.ExceptionPolicy())
	etc := cstr(t, "/etc/hostname")
	c := selfCtx(t, "openat", [6]uint64{atFDCWD, etc, unix.O_RDONLY})
	require.Equal(t, handler.Continue(), rec.Handle(c))
	rec.Observe(c, handler.Errno(unix.EPERM), time.Microsecond)
	require.NoError(t, rec.Close())
	pid := strconv.Itoa(os.Getpid())
	require.Equal(t, "[pid "+pid+`] openat(AT_FDCWD, "/etc/hostname", O_RDONLY) = ?`+"\n"+
		"[pid "+pid+`] openat(AT_FDCWD, "/etc/hostname", O_RDONLY) = errno:EPERM`+"\n", out.String())

	// After Close, records are dropped.
	require.ErrorIs(t, rec.Write(&Record{}), ErrClosed)
	rec.Observe(c, handler.Continue(), 0)
	require.NoError(t, rec.Close())
	require.Equal(t, 2, strings.Count(out.String(), "\n"))

	var js bytes.Buffer
	rec = New(&js, nil)
	rec.Handle(c)
	require.NoError(t, rec.Flush())
	var m map[string]any
	require.NoError(t, json.Unmarshal(js.Bytes(), &m))
	require.NotContains(t, m, "action")
	require.Equal(t, float64(0), m["latency_ns"])
}

// TestServeObserve runs a Recorder in a real dispatch loop (fake kernel).
func TestServeObserve(t *testing.T) {
	var out bytes.Buffer
	rec := New(&out, &Options{Format: Text})
	tab := handler.NewTable(nil)
	require.NoError(t, tab.RegisterName("openat", rec))
	require.NoError(t, tab.RegisterName("openat", handler.Func(func(*handler.Ctx) handler.Action { return handler.Errno(unix.ENOENT) })))
	f := notif.NewFake()
	etc := cstr(t, "/etc/hostname")
	nr, _ := syscalls.Native().Number("openat")
	n := notif.Notif{Pid: uint32(os.Getpid())}
	n.Data.Nr, n.Data.Arch = int32(nr), syscalls.Native().AuditArch()
	n.Data.Args = [6]uint64{atFDCWD, etc, unix.O_RDONLY}
	f.Push(n)
	f.Drain()
	require.NoError(t, handler.Serve(t.Context(), f, tab, &handler.Options{Observe: rec.Observe}))
	require.NoError(t, rec.Close())
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 2)
	require.True(t, strings.HasSuffix(lines[0], `openat(AT_FDCWD, "/etc/hostname", O_RDONLY) = ?`), lines[0])
	require.True(t, strings.HasSuffix(lines[1], `openat(AT_FDCWD, "/etc/hostname", O_RDONLY) = errno:ENOENT`), lines[1])
}

// TestWriterConcurrent writes from many goroutines: every line is one
// whole record, and nothing reaches the output before Flush.
func TestWriterConcurrent(t *testing.T) {
	var out bytes.Buffer
	w := New(&out, nil)
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
		var r struct{ Pid, Nr int }
		require.NoError(t, json.Unmarshal([]byte(l), &r), l)
		seen[[2]int{r.Pid, r.Nr}] = true
	}
	require.Len(t, seen, goroutines*each)
}

func TestWriterBuffersUntilFlush(t *testing.T) {
	var out bytes.Buffer
	w := New(&out, nil)
	require.NoError(t, w.Write(&Record{Syscall: "getppid", Action: "continue"}))
	require.Zero(t, out.Len())
	require.NoError(t, w.Flush())
	require.True(t, strings.HasSuffix(out.String(), "}\n"))

	// FlushEach: at once.
	out.Reset()
	w = New(&out, &Options{FlushEach: true})
	require.NoError(t, w.Write(&Record{Syscall: "getppid", Action: "continue"}))
	require.True(t, strings.HasSuffix(out.String(), "}\n"))
}

// chunkWriter records each Write.
type chunkWriter struct{ chunks [][]byte }

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.chunks = append(w.chunks, bytes.Clone(p))
	return len(p), nil
}

// TestWriterWholeLines: the underlying writer only ever gets whole lines,
// also when records are larger than the buffer.
func TestWriterWholeLines(t *testing.T) {
	var w chunkWriter
	rec := New(&w, nil)
	for i := range 200 {
		require.NoError(t, rec.Write(&Record{Syscall: strings.Repeat("x", i*37%5000), Action: "continue"}))
	}
	require.NoError(t, rec.Flush())
	require.Greater(t, len(w.chunks), 2)
	lines := 0
	for _, c := range w.chunks {
		require.Equal(t, byte('\n'), c[len(c)-1], "a write ends mid-line")
		lines += bytes.Count(c, []byte("\n"))
	}
	require.Equal(t, 200, lines)
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

func TestWriterKeepsFirstError(t *testing.T) {
	w := New(failWriter{}, nil)
	require.NoError(t, w.Write(&Record{})) // buffered
	require.ErrorIs(t, w.Flush(), os.ErrClosed)
	require.ErrorIs(t, w.Write(&Record{}), os.ErrClosed)
	require.ErrorIs(t, w.Flush(), os.ErrClosed)
	require.ErrorIs(t, w.Err(), os.ErrClosed)
	require.ErrorIs(t, w.Close(), os.ErrClosed)
}

// TestAppendTextOneLine: strings with newlines and invalid UTF-8 stay on
// one line in text and are valid JSON.
func TestAppendTextOneLine(t *testing.T) {
	c := selfCtx(t, "openat", [6]uint64{atFDCWD, cstr(t, "a\nb\xff"), unix.O_RDONLY})
	r := NewRecord(time.Now(), c, handler.Continue(), 0)
	line := r.AppendText(nil)
	require.Equal(t, 1, bytes.Count(line, []byte("\n")))
	require.Contains(t, string(line), `"a\nb\xff"`)
	js := r.AppendJSON(nil)
	require.True(t, json.Valid(js))
}
