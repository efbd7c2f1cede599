package lockedpool

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestPoolRunsSetupOnceAndCloses: jobs run on a thread that ran setup,
// once per thread; the caller sees their effects; after Close, Do fails and
// runs nothing.
func TestPoolRunsSetupOnceAndCloses(t *testing.T) {
	var setups atomic.Int32
	var setupTid atomic.Int64
	p := New(2, func() error {
		setups.Add(1)
		setupTid.Store(int64(unix.Gettid()))
		return nil
	})
	t.Cleanup(p.Close)
	ran := 0
	for range 100 {
		require.NoError(t, p.Do(func() {
			ran++
			require.Equal(t, setupTid.Load(), int64(unix.Gettid()), "the thread that ran setup")
		}))
	}
	require.Equal(t, 100, ran)
	require.Equal(t, int32(1), setups.Load())
	p.Close()
	require.ErrorIs(t, p.Do(func() { ran++ }), ErrClosed)
	require.Equal(t, 100, ran)
	p.Close() // twice is fine
}

// TestPoolGrowsOnDemand: one thread serves callers that come one at a
// time; callers at once get more threads, up to the bound; two jobs that
// each wait for the other (both ends of a FIFO) finish.
func TestPoolGrowsOnDemand(t *testing.T) {
	p := New(2, func() error { return nil })
	t.Cleanup(p.Close)
	for range 50 {
		require.NoError(t, p.Do(func() {}))
	}
	require.Equal(t, 1, p.Threads(), "sequential calls")

	// On failure the cleanup releases the jobs, so that closing the
	// pool does not wait for them forever.
	var arrived atomic.Int32
	allIn, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the pool's
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			errs <- p.Do(func() {
				if arrived.Add(1) == 2 {
					close(allIn)
				}
				select {
				case <-allIn:
				case <-release:
				}
			})
		}()
	}
	for range 2 {
		select {
		case err := <-errs:
			require.NoError(t, err)
		case <-time.After(time.Minute):
			t.Fatal("two jobs that wait for each other never ran at once")
		}
	}
	require.Equal(t, 2, p.Threads(), "concurrent calls")
}

// TestPoolConcurrent: more callers than threads, each sees its own work
// done when Do returns.
func TestPoolConcurrent(t *testing.T) {
	p := New(2, func() error { return nil })
	t.Cleanup(p.Close)
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				var mine int
				if err := p.Do(func() { mine = i + g }); err != nil || mine != i+g {
					t.Errorf("do: %v, %d != %d", err, mine, i+g)
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(1600), total.Load())
	require.LessOrEqual(t, p.Threads(), 2)
}

// TestPoolSetupFails: a thread whose setup fails serves nothing, the call
// that needed it fails with the setup's error, and a later call tries
// again.
func TestPoolSetupFails(t *testing.T) {
	boom := errors.New("boom")
	var fail atomic.Bool
	fail.Store(true)
	p := New(1, func() error {
		if fail.Load() {
			return boom
		}
		return nil
	})
	t.Cleanup(p.Close)
	ran := false
	require.ErrorIs(t, p.Do(func() { ran = true }), boom)
	require.False(t, ran)
	require.Equal(t, 0, p.Threads())
	fail.Store(false)
	require.NoError(t, p.Do(func() { ran = true }))
	require.True(t, ran)
}

// TestPoolPanic: a panic of a job comes back to its caller, and the
// thread serves on.
func TestPoolPanic(t *testing.T) {
	p := New(1, func() error { return nil })
	t.Cleanup(p.Close)
	require.PanicsWithValue(t, "boom", func() { _ = p.Do(func() { panic("boom") }) })
	ran := false
	require.NoError(t, p.Do(func() { ran = true }))
	require.True(t, ran)
	require.Equal(t, 1, p.Threads())
}

// TestPoolThreadsEnd: the threads end when the pool closes; the runtime
// does not keep them (they were never unlocked).
func TestPoolThreadsEnd(t *testing.T) {
	p := New(1, func() error { return nil })
	var tid int
	require.NoError(t, p.Do(func() { tid = unix.Gettid() }))
	task := "/proc/self/task/" + strconv.Itoa(tid)
	_, err := os.Stat(task)
	require.NoError(t, err)
	p.Close()
	// The runtime ends the thread after its goroutine returned, not
	// before Close returns: wait (a bound only against hanging forever).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(task); errors.Is(err, os.ErrNotExist) {
			break
		}
		require.True(t, time.Now().Before(deadline), "thread %d still runs after Close", tid)
	}
}

// threadStatus returns fields of the calling thread's /proc status.
func threadStatus(t *testing.T) map[string]string {
	b, err := os.ReadFile("/proc/thread-self/status")
	require.NoError(t, err)
	out := map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// TestTakeFSIdentity: a pool thread takes the groups and fs ids (and the
// fs ids are all it changes); the caller's thread keeps its own.
func TestTakeFSIdentity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: setgroups")
	}
	for _, tc := range []struct {
		groups []uint32
		want   string
	}{{[]uint32{77, 5}, "5 77"}, {nil, ""}} {
		p := New(1, func() error { return TakeFSIdentity(tc.groups, 4321, 1234) })
		var st map[string]string
		require.NoError(t, p.Do(func() { st = threadStatus(t) }))
		p.Close()
		require.Equal(t, "0 0 0 1234", st["Uid"], "fs uid only")
		require.Equal(t, "0 0 0 4321", st["Gid"], "fs gid only")
		require.Equal(t, tc.want, st["Groups"])
	}
	own := threadStatus(t)
	require.Equal(t, "0 0 0 0", own["Uid"])
}

// BenchmarkPoolDo measures the hop to a pool thread and back.
func BenchmarkPoolDo(b *testing.B) {
	p := New(2, func() error { return nil })
	b.Cleanup(p.Close)
	n := 0
	for b.Loop() {
		_ = p.Do(func() { n++ })
	}
}
