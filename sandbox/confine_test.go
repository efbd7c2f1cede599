package sandbox

import (
	"testing"

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
