package tests

// Handlers on syscalls the launcher itself makes between installing the
// filter and execve of the target must neither deadlock nor see the
// launcher's calls, and must see the target's.

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
)

// launcherSyscalls are the syscalls a Go launcher makes around the filter
// install and the exec of the target.
var launcherSyscalls = []string{"execve", "sendmsg", "read", "write", "close", "futex", "mmap", "rt_sigprocmask"}

// counter counts notifications per syscall name and per pid.
type counter struct {
	mu     sync.Mutex
	byName map[string]int
	byPid  map[int]int
	execs  []string
}

func newCounter() *counter {
	return &counter{byName: map[string]int{}, byPid: map[int]int{}}
}

func (c *counter) handler(name string) handler.Handler {
	return handler.Func(func(ctx *handler.Ctx) handler.Action {
		var path string
		if name == "execve" {
			path, _ = ctx.ReadPath(0)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.byName[name]++
		c.byPid[ctx.Pid()]++
		if path != "" {
			c.execs = append(c.execs, path)
		}
		return handler.Continue()
	})
}

// A shell runs /bin/echo with handlers on every launcher syscall: the
// output arrives, nothing hangs, and the handlers saw the target's own
// execve and write.
func TestHandlersOnLauncherSyscalls(t *testing.T) {
	r := newRunContext(t, context.Background(), "/bin/sh", "-c", "/bin/echo hi; exit 0")
	cnt := newCounter()
	for _, name := range launcherSyscalls {
		require.NoError(t, r.Handle(name, cnt.handler(name)))
	}
	out := r.mustRun(t)
	require.Equal(t, "hi\n", out)

	cnt.mu.Lock()
	defer cnt.mu.Unlock()
	require.Positive(t, cnt.byName["write"], "echo's write: %v", cnt.byName)
	require.Positive(t, cnt.byName["execve"], "the shell's execve of echo: %v", cnt.byName)
	require.Positive(t, cnt.byName["mmap"], "the dynamic loader's mmap: %v", cnt.byName)
	require.Equal(t, []string{"/bin/echo"}, cnt.execs, "the launcher's own execve is not shown")
}

// The same handlers under a multi-threaded Go victim, whose runtime uses
// futex, mmap and rt_sigprocmask on every thread, while its getppid calls
// are answered with values.
func TestHandlersOnRuntimeSyscallsMultiThreaded(t *testing.T) {
	const threads, iters = 4, 500
	r := newRun(t, "threads", strconv.Itoa(threads), strconv.Itoa(iters))
	cnt := newCounter()
	for _, name := range launcherSyscalls {
		require.NoError(t, r.Handle(name, cnt.handler(name)))
	}
	r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
		if int(c.Arg(0)>>20) != c.Pid() {
			return handler.Errno(unix.ESRCH)
		}
		return handler.ReturnValue(int64(c.Arg(0) + 1))
	})
	out := r.mustRun(t)
	require.Contains(t, out, "threads=4 calls=2000 ok\n")
	cnt.mu.Lock()
	defer cnt.mu.Unlock()
	require.Positive(t, cnt.byName["futex"], "%v", cnt.byName)
	require.Positive(t, cnt.byName["mmap"], "%v", cnt.byName)
	require.Positive(t, cnt.byName["rt_sigprocmask"], "%v", cnt.byName)
	require.Positive(t, cnt.byName["write"], "%v", cnt.byName)
	require.Empty(t, cnt.execs, "the launcher's execve of the victim is not shown")
}
