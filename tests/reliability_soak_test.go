package tests

// Scenario 8: soak. Many sequential runs, and many notifications in one
// run, with the supervisor's descriptors, goroutines and memory flat.

import (
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
)

// rssBound is how much the supervisor's resident memory may grow over a
// soak.
const rssBound = 20 << 20

// TestReliabilitySoak: 100 sequential runs (10,000 with -long), half of
// them 20 answered calls on 2 threads, half 5 injected descriptors; then
// one run of 100,000 notifications on 4 threads (1,000,000 with -long).
// After each part the test process has exactly as many descriptors as
// before, its goroutines are back to the baseline (goleak) and its VmRSS
// grew by less than 20 MiB.
func TestReliabilitySoak(t *testing.T) {
	warmUp(t)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	require.NoError(t, err)
	defer unix.Close(efd)

	t.Run("sequential-runs", func(t *testing.T) {
		runs := pick(100, 10000)
		fds, rss0, ignore := soakBaseline(t)
		start := time.Now()
		for i := range runs {
			if i%2 == 0 {
				r := newRunContext(t, t.Context(), hostile(t), "values", "2", "10")
				r.handle(t, "getppid", valueHandler)
				require.Contains(t, r.mustRun(t), "values threads=2 calls=10 ok")
				continue
			}
			r := newRunContext(t, t.Context(), hostile(t), "inject", "1", "5")
			r.handle(t, "openat", injectEventfd(efd))
			out := r.mustRun(t)
			f := fields(t, out, "inject opens=")
			require.Equal(t, 5, intField(t, f, "opens"), out)
			require.Zero(t, intField(t, f, "bad"), out)
		}
		elapsed := time.Since(start)
		rss1 := soakCheck(t, fds, rss0, ignore)
		figure(t, "%d runs in %s (%s per run): fds %d before, %d after; goroutines back to baseline; VmRSS %s before, %s after (%+.1f MiB)",
			runs, elapsed.Round(time.Millisecond), (elapsed / time.Duration(runs)).Round(10*time.Microsecond),
			fds, countFDs(t), mib(rss0), mib(rss1), float64(rss1-rss0)/(1<<20))
	})

	t.Run("notifications", func(t *testing.T) {
		calls := pick(100000, 1000000)
		fds, rss0, ignore := soakBaseline(t)
		r := newRunContext(t, t.Context(), hostile(t), "values", "4", strconv.Itoa(calls))
		r.handle(t, "getppid", valueHandler)
		start := time.Now()
		require.Contains(t, r.mustRun(t), "values threads=4 calls="+strconv.Itoa(calls)+" ok")
		elapsed := time.Since(start)
		rss1 := soakCheck(t, fds, rss0, ignore)
		figure(t, "%d notifications in one run in %s (%s per call): fds %d before, %d after; goroutines back to baseline; VmRSS %s before, %s after (%+.1f MiB)",
			calls, elapsed.Round(time.Millisecond), (elapsed / time.Duration(calls)).Round(10*time.Nanosecond),
			fds, countFDs(t), mib(rss0), mib(rss1), float64(rss1-rss0)/(1<<20))
	})
}

// injectEventfd answers opens of injectPath with a duplicate of efd.
func injectEventfd(efd int) func(c *handler.Ctx) handler.Action {
	return func(c *handler.Ctx) handler.Action {
		if p, err := c.ReadCString(c.Arg(1), 64); err != nil || p != injectPath {
			return handler.Continue()
		}
		fd, err := unix.FcntlInt(uintptr(efd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			panic(err)
		}
		return handler.InjectFD(fd, unix.O_CLOEXEC)
	}
}

// soakBaseline returns the descriptor count, VmRSS and goroutines before a
// soak, after a collection.
func soakBaseline(t *testing.T) (int, int64, goleak.Option) {
	runtime.GC()
	debug.FreeOSMemory()
	return countFDs(t), rss(t), goleak.IgnoreCurrent()
}

// soakCheck checks the soak's end against its baseline and returns VmRSS.
func soakCheck(t *testing.T, fds int, rss0 int64, ignore goleak.Option) int64 {
	runtime.GC()
	debug.FreeOSMemory()
	require.Equal(t, fds, countFDs(t), "open descriptors:\n%s", listFDs())
	goleak.VerifyNone(t, ignore)
	rss1 := rss(t)
	require.Less(t, rss1-rss0, int64(rssBound), "VmRSS grew from %s to %s", mib(rss0), mib(rss1))
	return rss1
}
