package sandbox

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// statusPipe returns a launcher reading what the helper wrote to its
// status pipe, the write end already closed.
func statusPipe(t *testing.T, written string) *launcher {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	_, err = w.WriteString(written)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	return &launcher{status: r, pidfd: -1}
}

// The helper's mark line gives the listener's expected number; a failure
// written right after it in the same read is still reported by awaitExec.
func TestReadMark(t *testing.T) {
	l := statusPipe(t, "+7\n125 seccomp: boom")
	n, err := l.readMark()
	require.NoError(t, err)
	require.Equal(t, 7, n)
	require.EqualError(t, l.awaitExec(), "seccomp: boom")

	l = statusPipe(t, "+12\n")
	n, err = l.readMark()
	require.NoError(t, err)
	require.Equal(t, 12, n)
	require.NoError(t, l.awaitExec(), "EOF: the command runs")

	for _, noNumber := range []string{"+\n", "+", "+x\n"} {
		l = statusPipe(t, noNumber)
		n, err = l.readMark()
		require.NoError(t, err, noNumber)
		require.Equal(t, -1, n, "%q: search the fd table", noNumber)
	}

	l = statusPipe(t, "125 chdir /nope: no such file")
	_, err = l.readMark()
	require.EqualError(t, err, "chdir /nope: no such file")

	l = statusPipe(t, "")
	_, err = l.readMark()
	require.Error(t, err, "helper exited")
}
