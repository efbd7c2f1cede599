package sandbox

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testConfiner(t testing.TB) *confiner {
	c := newConfiner(&helperConfig{Isolation: &isolationConfig{}}, IdentityHostRoot, 2)
	t.Cleanup(c.close)
	return c
}

// TestConfinerRunsAndCloses: work runs on a confined thread and the
// caller sees its effects; after close, do fails and runs nothing.
func TestConfinerRunsAndCloses(t *testing.T) {
	c := testConfiner(t)
	ran := 0
	for range 100 {
		require.NoError(t, c.do(func() { ran++ }))
	}
	require.Equal(t, 100, ran)
	c.close()
	require.ErrorIs(t, c.do(func() { ran++ }), errConfinerClosed)
	require.Equal(t, 100, ran)
}

// BenchmarkConfinerDo measures the hop to a confined thread and back.
func BenchmarkConfinerDo(b *testing.B) {
	c := testConfiner(b)
	n := 0
	for b.Loop() {
		_ = c.do(func() { n++ })
	}
}

// BenchmarkDirectCall is the baseline of BenchmarkConfinerDo.
func BenchmarkDirectCall(b *testing.B) {
	n := 0
	f := func() { n++ }
	for b.Loop() {
		f()
	}
}

// TestConfinerConcurrent: more callers than threads, each sees its own
// work done when do returns, also when the threads wait a while between
// calls.
func TestConfinerConcurrent(t *testing.T) {
	c := testConfiner(t)
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				var mine int
				require.NoError(t, c.do(func() { mine = i + g }))
				require.Equal(t, i+g, mine)
				total.Add(1)
				if i%50 == 0 {
					time.Sleep(time.Millisecond) // a pause between bursts
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(1600), total.Load())
}

// TestConfinerGrowsOnDemand: one thread serves callers that come one at a
// time; callers at once get more threads, up to the bound.
func TestConfinerGrowsOnDemand(t *testing.T) {
	c := testConfiner(t) // at most 2 threads
	for range 50 {
		require.NoError(t, c.do(func() {}))
	}
	require.Equal(t, 1, c.pool.Threads(), "sequential calls")

	// Two jobs that each wait for the other can only finish on two
	// threads at once. On failure the cleanup releases them, so that
	// closing the confiner does not wait for them forever.
	var arrived atomic.Int32
	allIn, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the confiner's
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			errs <- c.do(func() {
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
	require.Equal(t, 2, c.pool.Threads(), "concurrent calls")
}

// TestConfinerFailsClosed: when a thread cannot be confined (here: the
// command's mount namespace cannot be found), do fails with the reason and
// the function does not run on an unconfined thread.
func TestConfinerFailsClosed(t *testing.T) {
	c := testConfiner(t)
	c.target(1 << 30) // no such process
	ran := false
	err := c.do(func() { ran = true })
	require.ErrorContains(t, err, "confine a supervisor thread as the command")
	require.ErrorContains(t, err, "mount namespace")
	require.False(t, ran)
	require.Equal(t, 0, c.pool.Threads())
}
