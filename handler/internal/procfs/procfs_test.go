package procfs

import (
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	s, err := ParseStat([]byte("1234 (we ird) name)) S 77 1200 1200 0 -1"))
	require.NoError(t, err)
	require.Equal(t, Stat{State: 'S', Ppid: 77, Pgrp: 1200, Session: 1200}, s)
	require.True(t, s.Live())
	s, err = ParseStat([]byte("1 (x) Z 1 2 3 0"))
	require.NoError(t, err)
	require.False(t, s.Live())

	for _, bad := range []string{"garbage", "123 (x", "123 (x) S 1", "123 (x) S a b", "123 (x) S 1 2"} {
		_, err = ParseStat([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestSelf(t *testing.T) {
	s, err := ReadStat(os.Getpid())
	require.NoError(t, err)
	require.Equal(t, unix.Getpgrp(), s.Pgrp)
	sid, err := unix.Getsid(0)
	require.NoError(t, err)
	require.Equal(t, sid, s.Session)
	require.Equal(t, os.Getppid(), s.Ppid)

	tgid, err := Tgid(unix.Gettid())
	require.NoError(t, err)
	require.Equal(t, os.Getpid(), tgid)
	_, err = ParseTgid([]byte("Name:\tx\nPid:\t3\n"))
	require.Error(t, err)

	pids, err := Pids()
	require.NoError(t, err)
	require.True(t, slices.Contains(pids, os.Getpid()))
}

func TestParseUmask(t *testing.T) {
	m, err := ParseUmask([]byte("Name:\tx\nUmask:\t0027\nState:\tR\n"))
	if err != nil || m != 0o027 {
		t.Fatalf("got %o, %v", m, err)
	}
	if _, err := ParseUmask([]byte("Name:\tx\n")); err == nil {
		t.Fatal("no Umask line: want an error")
	}
}

func TestParseNSIDs(t *testing.T) {
	tgid, pid, err := ParseNSIDs([]byte("Name:\tsh\nTgid:\t900\nNStgid:\t900\t7\nNSpid:\t901\t8\n"))
	require.NoError(t, err)
	require.Equal(t, [2]int{7, 8}, [2]int{tgid, pid})
	tid := unix.Gettid() // once: the goroutine may move to another thread
	tgid, pid, err = NSIDs(tid)
	require.NoError(t, err)
	require.Equal(t, [2]int{os.Getpid(), tid}, [2]int{tgid, pid}, "the innermost namespace is the one the process sees itself in")
	for _, bad := range []string{"NSpid:\t1\n", "NStgid:\t1\n", "NStgid:\tx\nNSpid:\t1\n", "NStgid:\nNSpid:\t1\n"} {
		_, _, err := ParseNSIDs([]byte(bad))
		require.Error(t, err, bad)
	}
}
