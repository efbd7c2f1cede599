package proclimit

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	state, pgrp, ppid, err := parseStat([]byte("1234 (we ird) name)) S 77 1200 1200 0 -1"))
	require.NoError(t, err)
	require.Equal(t, byte('S'), state)
	require.Equal(t, 77, ppid)
	require.Equal(t, 1200, pgrp)

	_, _, _, err = parseStat([]byte("garbage"))
	require.Error(t, err)
	_, _, _, err = parseStat([]byte("123 (x"))
	require.Error(t, err)
	_, _, _, err = parseStat([]byte("123 (x) S 1"))
	require.Error(t, err)
}

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
