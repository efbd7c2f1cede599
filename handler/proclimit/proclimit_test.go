package proclimit

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCountGroupSeesThisProcess(t *testing.T) {
	pgid, err := processGroup(os.Getpid())
	require.NoError(t, err)
	n, err := countGroup(pgid)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)

	n, err = GroupSize(os.Getpid())
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
}

func TestNewRejectsZero(t *testing.T) {
	_, err := New(0)
	require.Error(t, err)
}
