package unixguard

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/runset"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// listen binds a unix socket of type typ to sa in this process.
func listen(t testing.TB, typ int, sa unix.Sockaddr) int {
	fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Bind(fd, sa))
	if typ != unix.SOCK_DGRAM {
		require.NoError(t, unix.Listen(fd, 1))
	}
	return fd
}

// holder starts a process in a process group of its own that holds fds
// (and nothing else of this process), with working directory dir.
func holder(t testing.TB, dir string, fds ...int) int {
	cmd := exec.Command("sleep", "60")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	for _, fd := range fds {
		cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(fd), "held"))
	}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd.Process.Pid
}

// sunPath builds a struct sockaddr_un holding path (a leading NUL makes
// it abstract) with the length a program passes: the family and the path,
// plus a NUL for a path-named one.
func sunPath(path string) []byte {
	b := make([]byte, 2, 3+len(path))
	binary.NativeEndian.PutUint16(b, unix.AF_UNIX)
	b = append(b, path...)
	if path == "" || path[0] != 0 {
		b = append(b, 0)
	}
	return b
}

func keep(t testing.TB, b []byte) uint64 {
	t.Cleanup(func() { runtime.KeepAlive(b) })
	return uint64(reflect.ValueOf(b).Pointer())
}

// connectCtx is a connect to sa "trapped" in this process.
func connectCtx(t testing.TB, sa []byte) *handler.Ctx {
	return ctx(t, "connect", 3, keep(t, sa), uint64(len(sa)))
}

func ctx(t testing.TB, name string, args ...uint64) *handler.Ctx {
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

// answer runs g on c and returns the errno it answered, -1 for Continue.
func answer(t testing.TB, g *Guard, c *handler.Ctx) unix.Errno {
	t.Helper()
	a := g.Handle(c)
	switch a.Kind() {
	case handler.KindContinue:
		return cont
	case handler.KindErrno:
		return a.Errno()
	}
	t.Fatalf("answer %v", a)
	return 0
}

const cont = unix.Errno(^uint(0))

// recorder collects decisions.
type recorder struct {
	mu sync.Mutex
	ds []Decision
}

func (r *recorder) add(d Decision) { r.mu.Lock(); r.ds = append(r.ds, d); r.mu.Unlock() }

func (r *recorder) last() Decision { r.mu.Lock(); defer r.mu.Unlock(); return r.ds[len(r.ds)-1] }

func TestDumpSockets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	stream := listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: path})
	abstract := "sandlock-test-" + strconv.Itoa(os.Getpid())
	dgram := listen(t, unix.SOCK_DGRAM, &unix.SockaddrUnix{Name: "@" + abstract})
	socks, err := dumpSockets()
	require.NoError(t, err)
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	inode := func(fd int) uint32 {
		var s unix.Stat_t
		require.NoError(t, unix.Fstat(fd, &s))
		return uint32(s.Ino)
	}
	var sawPath, sawAbstract bool
	for _, s := range socks {
		if s.ino == inode(stream) {
			sawPath = true
			require.True(t, s.hasVFS)
			require.Equal(t, kernelDev(st.Dev), s.vfsDev, "the kernel's dev_t encoding")
			require.Equal(t, uint32(st.Ino), s.vfsIno)
			require.Equal(t, path+"\x00", s.name, "as bound, with the NUL the kernel adds")
			require.True(t, s.receives())
		}
		if s.ino == inode(dgram) {
			sawAbstract = true
			require.Equal(t, "\x00"+abstract, s.name)
			require.False(t, s.hasVFS)
			require.True(t, s.receives())
		}
	}
	require.True(t, sawPath, "the path socket is listed")
	require.True(t, sawAbstract, "the abstract socket is listed")
}

func TestDecisions(t *testing.T) {
	dir := t.TempDir()
	// Sockets a process of the run holds, and sockets only this process
	// (outside the run) holds.
	inPath := filepath.Join(dir, "in.sock")
	outPath := filepath.Join(dir, "out.sock")
	allowedDir := filepath.Join(dir, "allowed")
	require.NoError(t, os.Mkdir(allowedDir, 0o755))
	allowedPath := filepath.Join(allowedDir, "a.sock")
	exactPath := filepath.Join(dir, "exact.sock")
	tag := strconv.Itoa(os.Getpid())
	inFd := listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: inPath})
	inDgram := listen(t, unix.SOCK_DGRAM, &unix.SockaddrUnix{Name: "@in-dgram-" + tag})
	inAbs := listen(t, unix.SOCK_SEQPACKET, &unix.SockaddrUnix{Name: "@in-" + tag})
	listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: outPath})
	listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: "@out-" + tag})
	listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: "@allowed-" + tag})
	listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: allowedPath})
	listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: exactPath})
	require.NoError(t, os.Symlink(outPath, filepath.Join(dir, "link-out")))
	require.NoError(t, os.Symlink(inPath, filepath.Join(dir, "link-in")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o644))
	// An outside server's accepted connection, handed to the run: it
	// shares the listener's address but takes no connections.
	accPath := filepath.Join(dir, "acc.sock")
	accListener := listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: accPath})
	client, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(client)
	require.NoError(t, unix.Connect(client, &unix.SockaddrUnix{Name: accPath}))
	accepted, _, err := unix.Accept4(accListener, unix.SOCK_CLOEXEC)
	require.NoError(t, err)
	defer unix.Close(accepted)
	run := holder(t, dir, inFd, inDgram, inAbs, accepted)

	var rec recorder
	g, err := New(Options{
		Allow:      []string{allowedDir, filepath.Join(dir, "exact.sock"), "@allowed-" + tag},
		InRun:      runset.ProcessGroup(run),
		OnDecision: rec.add,
	})
	require.NoError(t, err)

	for _, tc := range []struct {
		addr   string
		want   unix.Errno
		reason string
	}{
		{inPath, cont, "run"},
		{filepath.Join(dir, "link-in"), cont, "run"},
		{dir + "/allowed/../in.sock", cont, "run"},
		{"\x00in-" + tag, cont, "run"},
		{"\x00in-dgram-" + tag, cont, "run"},
		{allowedPath, cont, "allowed"},
		{exactPath, cont, "allowed"},
		{"\x00allowed-" + tag, cont, "allowed"},
		{outPath, PathErrno, "outside"},
		{accPath, PathErrno, "outside"},
		{filepath.Join(dir, "link-out"), PathErrno, "outside"},
		{"\x00out-" + tag, AbstractErrno, "outside"},
		{"\x00nobody-" + tag, AbstractErrno, "outside"},
		{"\x00in-" + tag + "\x00", AbstractErrno, "outside"}, // another name
		{"\x00in-", AbstractErrno, "outside"},                // a prefix of one
		{filepath.Join(dir, "missing.sock"), unix.ENOENT, "unresolved"},
		{filepath.Join(dir, "file"), unix.ECONNREFUSED, "not a socket"},
		{"/proc/self/cwd/in.sock", unix.ELOOP, "unresolved"},
	} {
		got := answer(t, g, connectCtx(t, sunPath(tc.addr)))
		require.Equal(t, tc.want, got, "connect %q: %v", tc.addr, got)
		d := rec.last()
		require.Equal(t, tc.reason, d.Reason, "connect %q", tc.addr)
		require.Equal(t, tc.want == cont, d.Allowed)
		require.Equal(t, "connect", d.Syscall)
	}
	require.Equal(t, inPath, rec.ds[1].Path, "the canonical path is recorded")

	// The same process, seen as outside: nothing of the run is reachable.
	strangers, err := New(Options{InRun: func(int) bool { return false }})
	require.NoError(t, err)
	require.Equal(t, PathErrno, answer(t, strangers, connectCtx(t, sunPath(inPath))))
	require.Equal(t, AbstractErrno, answer(t, strangers, connectCtx(t, sunPath("\x00in-"+tag))))

	// The supervisor never counts, even when InRun says so.
	everyone, err := New(Options{InRun: func(int) bool { return true }})
	require.NoError(t, err)
	require.Equal(t, cont, answer(t, everyone, connectCtx(t, sunPath(inPath))))
	require.Equal(t, PathErrno, answer(t, everyone, connectCtx(t, sunPath(outPath))), "held by the supervisor only")

	// sock_diag failing: fail closed, but the allow list still works.
	broken := *g
	broken.sockets = func() ([]boundSocket, error) { return nil, unix.ENOENT }
	require.Equal(t, PathErrno, answer(t, &broken, connectCtx(t, sunPath(inPath))))
	require.Equal(t, AbstractErrno, answer(t, &broken, connectCtx(t, sunPath("\x00in-"+tag))))
	require.Equal(t, cont, answer(t, &broken, connectCtx(t, sunPath(allowedPath))))
}

func TestNothingToDecide(t *testing.T) {
	g, err := New(Options{InRun: func(int) bool { return false }})
	require.NoError(t, err)
	inet := make([]byte, unix.SizeofSockaddrInet4)
	binary.NativeEndian.PutUint16(inet, unix.AF_INET)
	unnamed := sunPath("")[:2]
	long := make([]byte, 111)
	copy(long, sunPath("/x"))
	require.Equal(t, cont, answer(t, g, connectCtx(t, inet)))
	require.Equal(t, cont, answer(t, g, connectCtx(t, unnamed)), "unnamed (autobind)")
	require.Equal(t, unix.EINVAL, answer(t, g, connectCtx(t, long)), "longer than sockaddr_un")
	require.Equal(t, unix.EFAULT, answer(t, g, ctx(t, "connect", 3, 8, 16)))
	require.Equal(t, cont, answer(t, g, ctx(t, "sendto", 3, 0, 0, 0, 0, 0)), "no destination")
	require.Equal(t, cont, answer(t, g, ctx(t, "getpid")))
}

func TestSendCalls(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.sock")
	listen(t, unix.SOCK_DGRAM, &unix.SockaddrUnix{Name: out})
	ok := filepath.Join(dir, "ok.sock")
	listen(t, unix.SOCK_DGRAM, &unix.SockaddrUnix{Name: ok})
	g, err := New(Options{Allow: []string{ok}, InRun: func(int) bool { return false }})
	require.NoError(t, err)
	sa := sunPath(out)
	saAddr := keep(t, sa)
	hdr := func(name uint64, n int) []byte {
		b := make([]byte, 64) // struct mmsghdr
		binary.NativeEndian.PutUint64(b, name)
		binary.NativeEndian.PutUint32(b[8:], uint32(n))
		return b
	}
	require.Equal(t, PathErrno, answer(t, g, ctx(t, "sendto", 3, 0, 0, 0, saAddr, uint64(len(sa)))))
	require.Equal(t, PathErrno, answer(t, g, ctx(t, "sendmsg", 3, keep(t, hdr(saAddr, len(sa))), 0)))
	require.Equal(t, cont, answer(t, g, ctx(t, "sendmsg", 3, keep(t, hdr(0, 0)), 0)))
	vec := append(hdr(0, 0), hdr(saAddr, len(sa))...)
	require.Equal(t, PathErrno, answer(t, g, ctx(t, "sendmmsg", 3, keep(t, vec), 2, 0)), "the second message")
	require.Equal(t, cont, answer(t, g, ctx(t, "sendmmsg", 3, keep(t, vec), 1, 0)), "only the first")
	okSa := sunPath(ok)
	vec = append(hdr(keep(t, okSa), len(okSa)), hdr(saAddr, len(sa))...)
	require.Equal(t, PathErrno, answer(t, g, ctx(t, "sendmmsg", 3, keep(t, vec), 2, 0)), "an allowed message, then a refused one")
	require.Equal(t, cont, answer(t, g, ctx(t, "sendmmsg", 3, keep(t, vec), 1, 0)), "the allowed one alone")
}

func TestResolveRelative(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	path := filepath.Join(dir, "r.sock")
	listen(t, unix.SOCK_STREAM, &unix.SockaddrUnix{Name: path})
	pid := holder(t, filepath.Join(dir, "sub"))
	for _, rel := range []string{"../r.sock", "./../sub/../r.sock"} {
		fd, errno := resolve(pid, rel)
		require.Zero(t, errno, rel)
		got, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		unix.Close(fd)
		require.NoError(t, err)
		require.Equal(t, path, got, rel)
	}
	_, errno := resolve(pid, "r.sock")
	require.Equal(t, unix.ENOENT, errno)
	_, errno = resolve(-1, "/x")
	require.Equal(t, unix.ESRCH, errno)
}

func TestNewRules(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "real"), 0o755))
	require.NoError(t, os.Symlink("real", filepath.Join(dir, "link")))
	g, err := New(Options{Allow: []string{filepath.Join(dir, "link", "not-yet.sock"), "/", "@x"}})
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(dir, "real", "not-yet.sock"), "/"}, g.paths, "rules resolved when loaded")
	require.True(t, g.names["x"])
	for _, bad := range []string{"relative.sock", "@", ""} {
		_, err := New(Options{Allow: []string{bad}})
		require.Error(t, err, bad)
	}
	require.Equal(t, []string{"connect", "sendto", "sendmsg", "sendmmsg"}, g.Syscalls(nil))
	for _, a := range []*syscalls.Arch{syscalls.X86_64, syscalls.AArch64, syscalls.RISCV64} {
		require.Len(t, g.Syscalls(a), 4, a.String())
	}
	arg, ok := NonZeroArg("sendto")
	require.True(t, ok)
	require.Equal(t, 4, arg)
	_, ok = NonZeroArg("sendmsg")
	require.False(t, ok)
}

func TestPathAllowed(t *testing.T) {
	g := &Guard{paths: []string{"/run/a", "/srv/x.sock"}}
	for p, want := range map[string]bool{
		"/run/a": true, "/run/a/b.sock": true, "/run/ab.sock": false,
		"/srv/x.sock": true, "/srv/x.sock2": false, "/srv": false,
	} {
		require.Equal(t, want, g.pathAllowed(p), p)
	}
}
