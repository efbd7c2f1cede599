package handler_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

func TestMain(m *testing.M) {
	if os.Getenv(subprocessEnv) != "" {
		os.Exit(subprocessMain())
	}
	// No ignores: every test ends its Serve calls, releases its stuck
	// handlers and reaps its victims.
	goleak.VerifyTestMain(m)
}

// noPid is a pid no process has (above any pid_max): a Kill that reaches
// it by mistake fails with ESRCH instead of killing something.
const noPid = 1 << 30

// timeout bounds every wait of the tests.
const timeout = 5 * time.Second

// nr returns the native number of a syscall by name.
func nr(t testing.TB, name string) int32 {
	t.Helper()
	n, err := syscalls.Number(name)
	require.NoError(t, err)
	return int32(n)
}

// trap builds a native notification of the named syscall from task noPid.
func trap(t testing.TB, name string, args ...uint64) notif.Notif {
	t.Helper()
	n := notif.Notif{Pid: noPid, Data: notif.Data{Nr: nr(t, name), Arch: syscalls.Native().AuditArch(), InstructionPointer: 0x401000}}
	copy(n.Data.Args[:], args)
	return n
}

// table registers handlers on the named syscall, in order.
func table(t testing.TB, name string, hs ...handler.Handler) *handler.Table {
	t.Helper()
	tab := handler.NewTable(nil)
	for _, h := range hs {
		require.NoError(t, tab.RegisterName(name, h))
	}
	return tab
}

// policy gives h the exception policy p.
func policy(h handler.Handler, p handler.ExceptionPolicy) handler.Handler {
	return handler.WithExceptionPolicy(h, p)
}

// run is one Serve call on a Fake.
type run struct {
	t      testing.TB
	f      *notif.Fake
	cancel context.CancelFunc
	done   chan error

	errMu sync.Mutex
	errs  []error
}

// serve starts Serve on a new Fake. Unless opts.OnError is set, unexpected
// errors are collected for Errors. The run is drained and waited for when
// the test ends.
func serve(t testing.TB, tab *handler.Table, opts *handler.Options) *run {
	t.Helper()
	return serveOn(t, notif.NewFake(), tab, opts)
}

func serveOn(t testing.TB, f *notif.Fake, tab *handler.Table, opts *handler.Options) *run {
	t.Helper()
	r := &run{t: t, f: f, done: make(chan error, 1)}
	var o handler.Options
	if opts != nil {
		o = *opts
	}
	if o.OnError == nil {
		o.OnError = func(err error) {
			r.errMu.Lock()
			r.errs = append(r.errs, err)
			r.errMu.Unlock()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- handler.Serve(ctx, f, tab, &o) }()
	t.Cleanup(func() {
		f.Drain()
		select {
		case <-r.done:
		case <-time.After(timeout):
			t.Error("Serve did not return after Drain")
		}
		cancel()
	})
	return r
}

// Errors returns what OnError received so far.
func (r *run) Errors() []error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return append([]error(nil), r.errs...)
}

func (r *run) push(n notif.Notif) uint64 { return r.f.Push(n) }

// answer waits for the answer to id. It fails the test when the
// notification was killed instead or nothing came within the timeout.
func (r *run) answer(id uint64) notif.Resp {
	r.t.Helper()
	return waitAnswer(r.t, r.f, id)
}

func waitAnswer(t testing.TB, f *notif.Fake, id uint64) notif.Resp {
	t.Helper()
	type result struct {
		resp notif.Resp
		ok   bool
	}
	ch := make(chan result, 1)
	go func() {
		resp, ok := f.WaitResponse(id)
		ch <- result{resp, ok}
	}()
	select {
	case res := <-ch:
		require.True(t, res.ok, "notification %d was not answered", id)
		return res.resp
	case <-time.After(timeout):
		f.Kill(id) // let the waiter go
		<-ch
		t.Fatalf("notification %d: no answer within %v", id, timeout)
		return notif.Resp{}
	}
}

// stop drains the Fake (all tasks exited) and returns Serve's result.
func (r *run) stop() error {
	r.t.Helper()
	r.f.Drain()
	return r.wait()
}

// wait returns Serve's result.
func (r *run) wait() error {
	r.t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(timeout):
		r.t.Fatal("Serve did not return")
		return nil
	}
}

// requirePending checks that id stays unanswered for a while.
func requirePending(t testing.TB, f *notif.Fake, id uint64) {
	t.Helper()
	time.Sleep(30 * time.Millisecond)
	require.True(t, f.Pending(id), "notification %d was answered: %+v", id, f.Responses())
}

// Responses with fixed fields, for comparisons.
func contResp(id uint64) notif.Resp { return notif.Resp{ID: id, Flags: notif.RespFlagContinue} }
func errnoResp(id uint64, e unix.Errno) notif.Resp {
	return notif.Resp{ID: id, Error: -int32(e)}
}

// victim is a real process that a Kill action may target.
type victim struct {
	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func newVictim(t testing.TB) *victim {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	v := &victim{t: t, cmd: cmd, done: make(chan struct{})}
	go func() {
		v.err = cmd.Wait()
		close(v.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-v.done
	})
	return v
}

func (v *victim) pid() uint32 { return uint32(v.cmd.Process.Pid) }

// requireKilled waits for the victim to die of SIGKILL.
func (v *victim) requireKilled() {
	v.t.Helper()
	select {
	case <-v.done:
	case <-time.After(timeout):
		v.t.Fatal("victim still alive")
	}
	var exit *exec.ExitError
	require.True(v.t, errors.As(v.err, &exit), "victim exited with %v", v.err)
	ws := exit.Sys().(syscall.WaitStatus)
	require.True(v.t, ws.Signaled(), "victim was not killed by a signal: %v", ws)
	require.Equal(v.t, syscall.SIGKILL, ws.Signal())
}

// requireAlive checks that the victim is still running.
func (v *victim) requireAlive() {
	v.t.Helper()
	select {
	case <-v.done:
		v.t.Fatalf("victim died: %v", v.err)
	case <-time.After(20 * time.Millisecond):
	}
}

// fdClosed reports whether fd is closed in this process.
func fdClosed(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == unix.EBADF
}

// assertNoErrors checks that OnError saw nothing.
func (r *run) assertNoErrors() {
	r.t.Helper()
	assert.Empty(r.t, r.Errors())
}
