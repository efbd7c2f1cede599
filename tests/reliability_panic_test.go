package tests

// Scenario 4: handlers that panic in every call, under load.

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
)

// TestReliabilityPanicUnderLoad: 10,000 calls from 4 threads, each handler
// call panics. The supervisor survives, every call gets the handler's
// exception policy (DenyEIO: the victim counts 10,000 EIO; DenyEPERM:
// 10,000 EPERM), OnError hears each panic once, and the next run of the
// same process is answered normally.
func TestReliabilityPanicUnderLoad(t *testing.T) {
	calls := pick(10000, 100000)
	cases := []struct {
		policy handler.ExceptionPolicy
		key    string
	}{
		{handler.ExceptionDenyEIO, "eio"},
		{handler.ExceptionDenyEPERM, "eperm"},
	}
	for _, tc := range cases {
		t.Run(tc.policy.String(), func(t *testing.T) {
			r := newRunContext(t, t.Context(), hostile(t), "count", "4", strconv.Itoa(calls))
			var panics, other atomic.Int64
			r.ServeOptions = &handler.Options{OnError: func(err error) {
				if strings.Contains(err.Error(), "handler for getppid panicked: boom") {
					panics.Add(1)
				} else {
					other.Add(1)
				}
			}}
			var handled atomic.Int64
			h := handler.Func(func(c *handler.Ctx) handler.Action {
				if c.Arg(0) != magicCount {
					return handler.Continue()
				}
				handled.Add(1)
				panic("boom")
			})
			require.NoError(t, r.Handle("getppid", handler.WithExceptionPolicy(h, tc.policy)))
			start := time.Now()
			out := r.mustRun(t)
			elapsed := time.Since(start)
			f := fields(t, out, "count ")
			require.Equal(t, calls, intField(t, f, tc.key), "stdout:\n%s", out)
			require.Equal(t, calls, intField(t, f, "calls"))
			require.EqualValues(t, calls, handled.Load())
			require.EqualValues(t, calls, panics.Load())
			require.Zero(t, other.Load())

			// The supervisor is fine: a normal run next.
			next := newRunContext(t, t.Context(), hostile(t), "values", "2", "1000")
			next.handle(t, "getppid", valueHandler)
			require.Contains(t, next.mustRun(t), "values threads=2 calls=1000 ok")
			figure(t, "%d calls, each handler call panicked: %d answered %s, %d reported to OnError, run %s (%s per call)",
				calls, intField(t, f, tc.key), tc.key, panics.Load(), elapsed.Round(time.Millisecond), (elapsed / time.Duration(calls)).Round(100*time.Nanosecond))
		})
	}
}
