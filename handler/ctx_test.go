package handler_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/mem"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// addrOf returns the address of b's first byte. The tests' "trapped task"
// is the test process itself, so Ctx memory accessors read this memory.
func addrOf(b []byte) uint64 { return uint64(reflect.ValueOf(b).Pointer()) }

// selfTrap is trap with the test process as the trapped task.
func selfTrap(t testing.TB, name string, args ...uint64) notif.Notif {
	n := trap(t, name, args...)
	n.Pid = uint32(os.Getpid())
	return n
}

func TestCtxSnapshot(t *testing.T) {
	n := trap(t, "openat", 1, 2, 3, 4, 5, 6)
	n.ID = 99
	n.Data.InstructionPointer = 0x1234
	c := handler.NewTestCtx(n, notif.NewFake())
	assert.Equal(t, uint64(99), c.ID())
	assert.Equal(t, noPid, c.Pid())
	assert.Equal(t, int(nr(t, "openat")), c.Syscall())
	assert.Equal(t, "openat", c.SyscallName())
	assert.Equal(t, syscalls.Native(), c.Arch())
	assert.Equal(t, uint64(0x1234), c.InstructionPointer())
	assert.Equal(t, [6]uint64{1, 2, 3, 4, 5, 6}, c.Args())
	for i := range 6 {
		assert.Equal(t, uint64(i+1), c.Arg(i))
	}
	assert.Zero(t, c.Arg(-1))
	assert.Zero(t, c.Arg(6))
	assert.Equal(t, n, c.Notif())

	// The snapshot is a copy: changing what was passed in changes nothing.
	args := c.Args()
	args[0] = 100
	assert.Equal(t, uint64(1), c.Arg(0))

	n.Data.Nr = int32(syscalls.Native().MaxNumber() + 7)
	c = handler.NewTestCtx(n, notif.NewFake())
	assert.Equal(t, "syscall_"+strconv.Itoa(syscalls.Native().MaxNumber()+7), c.SyscallName())

	// An unknown audit arch falls back to the native one.
	n.Data.Arch = 0
	assert.Equal(t, syscalls.Native(), handler.NewTestCtx(n, notif.NewFake()).Arch())
}

// A live Ctx reads and writes the task's memory and checks the
// notification after each read.
func TestCtxMemoryLive(t *testing.T) {
	f := notif.NewFake()
	buf := []byte("/tmp/some path\x00more")
	n := selfTrap(t, "openat", fdArg(unix.AT_FDCWD), addrOf(buf))
	n.ID = f.Push(n)
	c := handler.NewTestCtx(n, f)

	s, err := c.ReadCString(addrOf(buf), handler.PathMax)
	require.NoError(t, err)
	assert.Equal(t, "/tmp/some path", s)
	b, err := c.Read(addrOf(buf), 4)
	require.NoError(t, err)
	assert.Equal(t, "/tmp", string(b))
	require.NoError(t, c.Write(addrOf(buf)+1, []byte("TMP")))
	assert.Equal(t, "/TMP/some path", string(buf[:14]))
	path, err := c.ReadPath(1)
	require.NoError(t, err)
	assert.Equal(t, "/TMP/some path", path)
	require.NoError(t, c.Valid())
	assert.Equal(t, []uint64{n.ID, n.ID, n.ID, n.ID, n.ID}, f.IDValidCalls())

	// Once the notification is gone, reads fail and return nothing.
	f.Kill(n.ID)
	b, err = c.Read(addrOf(buf), 4)
	assert.ErrorIs(t, err, notif.ErrNotificationGone)
	assert.Nil(t, b)
	s, err = c.ReadCString(addrOf(buf), 100)
	assert.ErrorIs(t, err, notif.ErrNotificationGone)
	assert.Empty(t, s)
	assert.ErrorIs(t, c.Write(addrOf(buf), []byte("x")), notif.ErrNotificationGone)
	assert.Equal(t, byte('/'), buf[0])
	_, err = c.ReadPath(1)
	assert.ErrorIs(t, err, notif.ErrNotificationGone)
	assert.ErrorIs(t, c.Valid(), notif.ErrNotificationGone)
	assert.ErrorIs(t, c.Valid(), unix.ENOENT)

	_, err = c.ReadCString(0, 10)
	assert.ErrorIs(t, err, mem.ErrFault)
	runtime.KeepAlive(buf)
}

func TestCtxReadPath(t *testing.T) {
	f := notif.NewFake()
	cwd, err := os.Getwd()
	require.NoError(t, err)
	dir := t.TempDir()
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(dirfd)
	realDir, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)

	rel := []byte("a/../b/./c\x00")
	abs := []byte("//etc/../etc/passwd\x00")
	for _, tc := range []struct {
		name    string
		syscall string
		args    []uint64
		index   int
		want    string
		wantErr error
	}{
		{"absolute is cleaned", "openat", []uint64{fdArg(unix.AT_FDCWD), addrOf(abs)}, 1, "/etc/passwd", nil},
		{"relative to cwd", "openat", []uint64{fdArg(unix.AT_FDCWD), addrOf(rel)}, 1, filepath.Join(cwd, "b/c"), nil},
		{"relative to dirfd", "openat", []uint64{uint64(dirfd), addrOf(rel)}, 1, filepath.Join(realDir, "b/c"), nil},
		{"negative dirfd", "openat", []uint64{uint64(1<<32 - 5), addrOf(rel)}, 1, "", unix.EBADF},
		{"mkdirat argument without dirfd", "mkdirat", []uint64{uint64(dirfd), 0, addrOf(rel)}, 2, filepath.Join(cwd, "b/c"), nil},
		{"second path of renameat", "renameat", []uint64{0, addrOf(abs), uint64(dirfd), addrOf(rel)}, 3, filepath.Join(realDir, "b/c"), nil},
		{"symlinkat target is not dirfd-relative", "symlinkat", []uint64{addrOf(rel), uint64(dirfd), addrOf(rel)}, 0, filepath.Join(cwd, "b/c"), nil},
		{"NULL", "openat", []uint64{fdArg(unix.AT_FDCWD), 0}, 1, "", mem.ErrFault},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := selfTrap(t, tc.syscall, tc.args...)
			n.ID = f.Push(n)
			c := handler.NewTestCtx(n, f)
			got, err := c.ReadPath(tc.index)
			if tc.wantErr != nil {
				assert.ErrorIs(t, err, tc.wantErr)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	c := handler.NewTestCtx(selfTrap(t, "openat"), f)
	for _, i := range []int{-1, 6} {
		_, err := c.ReadPath(i)
		assert.ErrorContains(t, err, "out of range")
	}
	runtime.KeepAlive(rel)
	runtime.KeepAlive(abs)
}

// retainedCtx runs one notification through Serve whose handler reads the
// path argument (proving the accessors work while live) and keeps its Ctx,
// which the caller then uses after the handler returned.
func retainedCtx(t *testing.T, a func(c *handler.Ctx) handler.Action) (*run, *handler.Ctx, []byte, uint64) {
	buf := []byte("/etc/hostname\x00")
	ctxs := make(chan *handler.Ctx, 1)
	live := make(chan string, 1)
	r := serve(t, table(t, "openat", policy(handler.Func(func(c *handler.Ctx) handler.Action {
		s, err := c.ReadCString(c.Arg(1), handler.PathMax)
		if err != nil {
			s = err.Error()
		}
		live <- s
		ctxs <- c
		return a(c)
	}), handler.ExceptionDenyEIO)), nil)
	id := r.push(selfTrap(t, "openat", fdArg(unix.AT_FDCWD), addrOf(buf)))
	require.Equal(t, "/etc/hostname", <-live, "the live Ctx reads memory")
	return r, <-ctxs, buf, id
}

// requireExpired checks that every accessor of a retained Ctx fails with
// ErrExpired without touching the task's memory or the notifier.
func requireExpired(t *testing.T, r *run, c *handler.Ctx, buf []byte, id uint64) {
	t.Helper()
	checks := len(r.f.IDValidCalls())
	addr := addrOf(buf)

	b, err := c.Read(addr, 4)
	assert.ErrorIs(t, err, handler.ErrExpired)
	assert.Nil(t, b)
	s, err := c.ReadCString(addr, handler.PathMax)
	assert.ErrorIs(t, err, handler.ErrExpired)
	assert.Empty(t, s)
	assert.ErrorIs(t, c.Write(addr, []byte("XXXX")), handler.ErrExpired)
	assert.Equal(t, "/etc/hostname\x00", string(buf), "no write after expiry")
	p, err := c.ReadPath(1)
	assert.ErrorIs(t, err, handler.ErrExpired)
	assert.Empty(t, p)
	assert.ErrorIs(t, c.Valid(), handler.ErrExpired)
	assert.Nil(t, c.Responder())
	// An address that would fault shows that nothing was read, either.
	_, err = c.Read(0, 4)
	assert.ErrorIs(t, err, handler.ErrExpired)
	assert.NotErrorIs(t, err, mem.ErrFault)

	assert.Len(t, r.f.IDValidCalls(), checks, "no ID_VALID check after expiry")

	// The snapshot itself stays readable.
	assert.Equal(t, id, c.ID())
	assert.Equal(t, "openat", c.SyscallName())
	assert.Equal(t, addr, c.Arg(1))
	runtime.KeepAlive(buf)
}

// A Ctx kept after its handler returned fails safe.
func TestRetainedCtxAfterAnswer(t *testing.T) {
	r, c, buf, id := retainedCtx(t, func(*handler.Ctx) handler.Action { return handler.ReturnValue(0) })
	assert.Equal(t, notif.Resp{ID: id}, r.answer(id))
	requireExpired(t, r, c, buf, id)
	require.NoError(t, r.stop())
	r.assertNoErrors()
}

// A held notification is still pending after its handler returned, so the
// notifier alone would allow access: the Ctx must refuse by itself.
func TestRetainedCtxWhileHeld(t *testing.T) {
	responders := make(chan *handler.Responder, 1)
	r, c, buf, id := retainedCtx(t, func(c *handler.Ctx) handler.Action {
		responders <- c.Responder()
		return handler.Hold()
	})
	resp := <-responders
	requirePending(t, r.f, id)
	require.NoError(t, r.f.IDValid(id), "still pending")
	requireExpired(t, r, c, buf, id)
	require.NoError(t, resp.Respond(handler.ReturnValue(1)))
	require.NoError(t, r.stop())
}

// A Ctx used from another goroutine while its handler still runs works;
// the answer is what the handler returns.
func TestCtxFromOtherGoroutineWhileLive(t *testing.T) {
	buf := []byte("shared\x00")
	r := serve(t, table(t, "openat", handler.Func(func(c *handler.Ctx) handler.Action {
		got := make(chan string)
		go func() {
			s, _ := c.ReadCString(c.Arg(1), 100)
			got <- s
		}()
		if <-got != "shared" {
			return handler.Errno(unix.EIO)
		}
		return handler.ReturnValue(6)
	})), nil)
	id := r.push(selfTrap(t, "openat", 0, addrOf(buf)))
	assert.Equal(t, notif.Resp{ID: id, Val: 6}, r.answer(id))
	require.NoError(t, r.stop())
	runtime.KeepAlive(buf)
}

// fdArg is a file descriptor argument as the kernel passes it.
func fdArg(fd int) uint64 { return uint64(int64(fd)) }

// gatedIDValid is a Fake whose IDValid waits for the test: a memory read
// that has copied the bytes then waits in its notification check.
type gatedIDValid struct {
	*notif.Fake
	entered chan struct{}
	gate    chan struct{}
}

func (g gatedIDValid) IDValid(id uint64) error {
	g.entered <- struct{}{}
	<-g.gate
	return g.Fake.IDValid(id)
}

// A read that is under way when the handler returns must not hand out its
// bytes, even though the (held) notification is still pending.
func TestCtxExpiresDuringRead(t *testing.T) {
	buf := []byte("secret\x00")
	for _, tc := range []struct {
		name string
		read func(c *handler.Ctx) (string, error)
	}{
		{"Read", func(c *handler.Ctx) (string, error) {
			b, err := c.Read(c.Arg(1), 6)
			return string(b), err
		}},
		{"ReadCString", func(c *handler.Ctx) (string, error) { return c.ReadCString(c.Arg(1), 100) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := notif.NewFake()
			g := gatedIDValid{f, make(chan struct{}), make(chan struct{})}
			type result struct {
				s   string
				err error
			}
			results := make(chan result, 1)
			ctxs := make(chan *handler.Ctx, 1)
			responders := make(chan *handler.Responder, 1)
			tab := table(t, "openat", handler.Func(func(c *handler.Ctx) handler.Action {
				responders <- c.Responder()
				go func() {
					s, err := tc.read(c)
					results <- result{s, err}
				}()
				<-g.entered // the bytes are read; the check waits
				ctxs <- c
				return handler.Hold()
			}))
			done := make(chan error, 1)
			go func() { done <- handler.Serve(context.Background(), g, tab, nil) }()
			id := f.Push(selfTrap(t, "openat", 0, addrOf(buf)))
			resp, c := <-responders, <-ctxs
			require.Eventually(t, func() bool { return c.Responder() == nil }, timeout, time.Millisecond, "handler returned")
			close(g.gate) // the notification is still pending: IDValid says yes
			res := <-results
			assert.ErrorIs(t, res.err, handler.ErrExpired)
			assert.Empty(t, res.s)
			require.NoError(t, resp.Respond(handler.ReturnValue(0)))
			f.Drain()
			require.NoError(t, <-done)
			assert.Equal(t, notif.Resp{ID: id}, waitAnswer(t, f, id))
		})
	}
	runtime.KeepAlive(buf)
}
