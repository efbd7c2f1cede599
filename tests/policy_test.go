package tests

// Policy: Landlock paths and the kernel-side deny list.

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// requireFeature skips when the kernel lacks f and fails when the probe
// cannot tell.
func requireFeature(t *testing.T, f *notif.Feature) {
	t.Helper()
	if err := f.Check(); err != nil {
		if errors.Is(err, notif.ErrNotSupported) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
}

// With ReadOnlyPaths the child reads what is listed (its own binary's
// directory and one data directory) and gets EACCES elsewhere.
func TestLandlockReadOnlyPaths(t *testing.T) {
	requireFeature(t, notif.HaveLandlock)
	allowedDir, deniedDir := t.TempDir(), t.TempDir()
	allowed := writeFile(t, allowedDir, "allowed.txt", "allowed content")
	denied := writeFile(t, deniedDir, "denied.txt", "denied content")

	r := newRun(t, "open", allowed, denied)
	r.Policy.ReadOnlyPaths = []string{filepath.Dir(victim(t)), allowedDir}
	r.handle(t, "getppid", func(*handler.Ctx) handler.Action { return handler.Continue() })
	out := r.mustRun(t)
	require.Regexp(t, `open path=`+allowed+` fd=\d+ cloexec=true content=allowed content\n`, out)
	require.Contains(t, out, "open path="+denied+" errno=EACCES\n")

	// Without the policy both open: the EACCES is Landlock's.
	r = newRun(t, "open", allowed, denied)
	out = r.mustRun(t)
	require.Regexp(t, `open path=`+denied+` fd=\d+ cloexec=true content=denied content\n`, out)
}

// A denied syscall fails with EPERM (or DenyErrno) in the kernel: no
// notification reaches the supervisor, while a handler on another syscall
// in the same run still sees its notifications.
func TestDenyList(t *testing.T) {
	for _, tc := range []struct {
		name  string
		errno unix.Errno
		want  string
	}{
		{"default-errno", 0, "EPERM"},
		{"EACCES", unix.EACCES, "EACCES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getppid := nr(t, "getppid")
			r := newRun(t, "getppid")
			r.Policy.Deny = []string{"getppid"}
			r.Policy.DenyErrno = tc.errno
			var mu sync.Mutex
			seen := map[int]int{} // every notification after the launch, by number
			r.ServeOptions = &handler.Options{Prefilter: func(n *notif.Notif) bool {
				mu.Lock()
				seen[int(n.Data.Nr)]++
				mu.Unlock()
				return false
			}}
			var writes atomic.Int32
			r.handle(t, "write", func(*handler.Ctx) handler.Action {
				writes.Add(1)
				return handler.Continue()
			})
			out := r.mustRun(t)
			require.Equal(t, "before\nafter ret=-1 errno="+tc.want+"\n", out)
			require.Positive(t, writes.Load(), "the write handler saw the victim's output")
			mu.Lock()
			defer mu.Unlock()
			require.Zero(t, seen[getppid], "denied getppid was notified: %v", seen)
			require.Positive(t, seen[nr(t, "write")])
		})
	}

	t.Run("handler-on-denied", func(t *testing.T) {
		fds := countFDs(t)
		r := newRunContext(t, context.Background(), victim(t), "getppid")
		r.Policy.Deny = []string{"getppid"}
		r.handle(t, "getppid", func(*handler.Ctx) handler.Action { return handler.Continue() })
		err := r.Start()
		require.ErrorIs(t, err, sandbox.ErrHandlerOnDenied)
		require.Nil(t, r.Process, "no process was started")
		require.Equal(t, fds, countFDs(t))
	})

	t.Run("unknown-name", func(t *testing.T) {
		r := newRunContext(t, context.Background(), victim(t), "getppid")
		r.Policy.Deny = []string{"no_such_syscall_" + strconv.Itoa(1)}
		require.Error(t, r.Start())
		require.Nil(t, r.Process)
	})
}
