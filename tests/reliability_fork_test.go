package tests

// Scenario 2: many processes, exec chains and orphans under one filter.

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
)

// TestReliabilityForkExec: the child starts 200 processes that all make
// their trapped call at once (each answered from its own argument); the
// child executes itself 50 times in a row, with a trapped call before each
// exec and the execve itself seen by a handler that reads its path; a
// grandchild outlives its parent and its calls are answered.
func TestReliabilityForkExec(t *testing.T) {
	t.Run("fork-200", func(t *testing.T) {
		const n = 200
		for round := range pick(1, 5) {
			r := newRunContext(t, t.Context(), hostile(t), "forkmany", strconv.Itoa(n))
			r.ServeOptions = &handler.Options{Workers: 8}
			var mu sync.Mutex
			byIndex := map[uint64]int{}
			byPid := map[int]int{}
			r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
				if c.Arg(0) == magicValue {
					mu.Lock()
					byIndex[c.Arg(1)]++
					byPid[c.Pid()]++
					mu.Unlock()
				}
				return valueHandler(c)
			})
			start := time.Now()
			out := r.mustRun(t)
			elapsed := time.Since(start)
			f := fields(t, out, "forkmany ")
			require.Equal(t, n, intField(t, f, "ok"), "stdout:\n%s", out)
			require.Zero(t, intField(t, f, "failed"))
			mu.Lock()
			require.Len(t, byPid, n, "distinct processes that made the call")
			require.Len(t, byIndex, n)
			for i := range uint64(n) {
				require.Equal(t, 1, byIndex[1000+i], "calls of child %d", i)
			}
			mu.Unlock()
			if round == 0 {
				figure(t, "%d processes, %d trapped calls answered from their argument, run %s", n, n, elapsed.Round(time.Millisecond))
			}
		}
	})

	t.Run("exec-chain", func(t *testing.T) {
		n := pick(50, 500)
		bin := hostile(t)
		r := newRunContext(t, t.Context(), bin, "execchain", strconv.Itoa(n))
		var mu sync.Mutex
		var execs []string
		var values []uint64
		r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
			if c.Arg(0) == magicValue {
				mu.Lock()
				values = append(values, c.Arg(1))
				mu.Unlock()
			}
			return valueHandler(c)
		})
		r.handle(t, "execve", func(c *handler.Ctx) handler.Action {
			path, err := c.ReadPath(0)
			if err != nil {
				path = "error: " + err.Error()
			}
			mu.Lock()
			execs = append(execs, path)
			mu.Unlock()
			return handler.Continue()
		})
		start := time.Now()
		out := r.mustRun(t)
		elapsed := time.Since(start)
		require.True(t, strings.HasSuffix(out, "execchain done\n"), "stdout:\n%s", out)
		pid := r.Process.Pid
		for i := n; i >= 0; i-- {
			require.Contains(t, out, fmt.Sprintf("execchain n=%d pid=%d\n", i, pid))
		}
		mu.Lock()
		defer mu.Unlock()
		// The helper's own execve is the launcher's, not shown.
		require.Len(t, execs, n)
		for _, p := range execs {
			require.Equal(t, bin, p)
		}
		require.Len(t, values, n+1)
		for i, v := range values {
			require.EqualValues(t, 5000+n-i, v, "call %d", i)
		}
		figure(t, "%d execs of one process, %d trapped calls and %d execve read by a handler, run %s", n, n+1, n, elapsed.Round(time.Millisecond))
	})

	t.Run("orphan", func(t *testing.T) {
		calls := pick(100, 10000)
		r := newRunContext(t, t.Context(), hostile(t), "orphan", strconv.Itoa(calls))
		var mu sync.Mutex
		byPid := map[int]int{}
		r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
			if c.Arg(0) == magicValue {
				mu.Lock()
				byPid[tgidOf(c.Pid())]++ // per process, whichever thread calls
				mu.Unlock()
			}
			return valueHandler(c)
		})
		out := r.mustRun(t)
		require.True(t, strings.HasSuffix(out, "orphan done\n"), "stdout:\n%s", out)
		require.Contains(t, out, fmt.Sprintf("calls=%d ok\n", calls))
		require.Less(t, strings.Index(out, "orphan middle-exited"), strings.Index(out, "orphan from-leaf"))
		leaf := lineField(t, out, "orphan middle pid=", "leaf")
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, map[int]int{leaf: calls}, byPid)
		figure(t, "grandchild reparented after its parent exited: %d calls answered", calls)
	})
}
