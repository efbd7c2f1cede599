package tests

// Scenario 8: soak. Many sequential runs, and many notifications in one
// run, with the supervisor's descriptors, goroutines and memory flat.

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// rssBound is how much the supervisor's resident memory may grow over a
// soak (five times as much under -race).
const rssBound = 20 << 20

// heapObjectsBound is how much the number of live heap objects may grow:
// a leak of one object per run or per notification exceeds it in the long
// soak (one Ctx per notification also in the short one).
const heapObjectsBound = 2000

// TestReliabilitySoak: 100 sequential runs (10,000 with -long), half of
// them 20 answered calls on 2 threads, half 5 injected descriptors; then
// one run of 100,000 notifications on 4 threads (1,000,000 with -long).
// After each part the test process has exactly as many descriptors as
// before, its goroutines are back to the baseline (goleak) and its VmRSS
// grew by less than 20 MiB, its live heap objects by less than 2,000.
func TestReliabilitySoak(t *testing.T) {
	warmUp(t)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	require.NoError(t, err)
	defer unix.Close(efd)

	t.Run("sequential-runs", func(t *testing.T) {
		runs := pick(100, 10000)
		base := soakBaseline(t)
		start := time.Now()
		for i := range runs {
			if i%2 == 0 {
				out := soakRun(t, "getppid", valueHandler, "values", "2", "10")
				require.Contains(t, out, "values threads=2 calls=10 ok")
				continue
			}
			out := soakRun(t, "openat", injectEventfd(efd), "inject", "1", "5")
			f := fields(t, out, "inject opens=")
			require.Equal(t, 5, intField(t, f, "opens"), out)
			require.Zero(t, intField(t, f, "bad"), out)
		}
		elapsed := time.Since(start)
		figure(t, "%d runs in %s (%s per run): %s", runs, elapsed.Round(time.Millisecond),
			(elapsed / time.Duration(runs)).Round(10*time.Microsecond), soakCheck(t, base))
	})

	t.Run("notifications", func(t *testing.T) {
		calls := pick(100000, 1000000)
		base := soakBaseline(t)
		start := time.Now()
		out := soakRun(t, "getppid", valueHandler, "values", "4", strconv.Itoa(calls))
		require.Contains(t, out, "values threads=4 calls="+strconv.Itoa(calls)+" ok")
		elapsed := time.Since(start)
		figure(t, "%d notifications in one run in %s (%s per call): %s", calls, elapsed.Round(time.Millisecond),
			(elapsed / time.Duration(calls)).Round(10*time.Nanosecond), soakCheck(t, base))
	})
}

// soakRun runs the hostile victim with args and one handler, and returns
// its stdout. Unlike newRunContext it releases the run's context at once,
// so that thousands of runs keep nothing alive in the test.
func soakRun(t *testing.T, syscall string, h func(*handler.Ctx) handler.Action, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), runTimeout)
	defer cancel()
	cmd := sandbox.CommandContext(ctx, hostile(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Handle(syscall, handler.Func(h)))
	require.NoError(t, cmd.Run(), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	return stdout.String()
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

// soak is the state of the test process at the start of a soak.
type soak struct {
	fds     int
	rss     int64
	objects uint64
	ignore  goleak.Option
}

// heapObjects returns the number of live heap objects after a collection.
func heapObjects() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapObjects
}

// soakBaseline returns the descriptors, VmRSS, live heap objects and
// goroutines before a soak.
func soakBaseline(t *testing.T) soak {
	objects := heapObjects()
	return soak{fds: countFDs(t), rss: rss(t), objects: objects, ignore: goleak.IgnoreCurrent()}
}

// soakCheck checks the end of a soak against its start and describes both.
func soakCheck(t *testing.T, s soak) string {
	objects := heapObjects()
	fds := countFDs(t)
	require.Equal(t, s.fds, fds, "open descriptors:\n%s", listFDs())
	goleak.VerifyNone(t, s.ignore)
	rss1 := rss(t)
	bound := int64(rssBound)
	if raceEnabled {
		bound *= 5 // the race detector's shadow memory
	}
	require.Less(t, rss1-s.rss, bound, "VmRSS grew from %s to %s", mib(s.rss), mib(rss1))
	require.Less(t, int64(objects)-int64(s.objects), int64(heapObjectsBound), "live heap objects grew from %d to %d", s.objects, objects)
	return fmt.Sprintf("fds %d before, %d after; goroutines back to baseline; VmRSS %s before, %s after (%+.1f MiB); live heap objects %d before, %d after",
		s.fds, fds, mib(s.rss), mib(rss1), float64(rss1-s.rss)/(1<<20), s.objects, objects)
}
