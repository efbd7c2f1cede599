package agent

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseCreds(t *testing.T) {
	c, err := parseCreds([]byte("Name:\tx\nUid:\t0\t1\t2\t1234\nGid:\t5\t6\t7\t4321\nGroups:\t10 20 \nCapEff:\t00000000a80425fb\n"))
	require.NoError(t, err)
	require.Equal(t, creds{fsuid: 1234, fsgid: 4321, groups: "10 20", capEff: 0xa80425fb}, c)
	for _, bad := range []string{
		"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n",              // no CapEff
		"Uid:\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\nCapEff:\t0\n",     // 3 uids
		"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\tx\nCapEff:\t0\n", // a bad group
		"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\nCapEff:\tzz\n",
	} {
		_, err := parseCreds([]byte(bad))
		require.Error(t, err, bad)
	}
}

// statusOfThread returns fields of the calling thread's status.
func statusOfThread(t *testing.T) map[string]string {
	b, err := os.ReadFile("/proc/thread-self/status")
	require.NoError(t, err)
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// TestIdentity: a function run as a task runs on a thread with the task's
// fs uid and gid, groups and capabilities (none here), not the agent's;
// the agent's own threads keep theirs; after close nothing runs.
func TestIdentity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a child with other credentials")
	}
	child := exec.Command("sleep", "60")
	child.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1234, Gid: 4321, Groups: []uint32{77}}}
	require.NoError(t, child.Start())
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })

	id, err := newIdentity()
	require.NoError(t, err)
	var st map[string]string
	var opened error
	secret := t.TempDir() + "/root-only"
	require.NoError(t, os.WriteFile(secret, []byte("x"), 0o600))
	require.NoError(t, id.do(child.Process.Pid, func() {
		st = statusOfThread(t)
		f, err := os.Open(secret)
		if err == nil {
			f.Close()
		}
		opened = err
	}))
	require.Equal(t, "0 0 0 1234", st["Uid"], "fs uid only")
	require.Equal(t, "0 0 0 4321", st["Gid"], "fs gid only")
	require.Equal(t, "77", st["Groups"])
	require.Equal(t, "0000000000000000", st["CapEff"])
	require.ErrorIs(t, opened, unix.EACCES, "no host root's rights")
	// The same credentials, the same thread when it is free.
	var tid1, tid2 int
	require.NoError(t, id.do(child.Process.Pid, func() { tid1 = unix.Gettid() }))
	require.NoError(t, id.do(child.Process.Pid, func() { tid2 = unix.Gettid() }))
	require.Equal(t, tid1, tid2)
	require.Len(t, id.pools, 1)
	// A call that blocks (a FIFO's open waiting for its writer) does not
	// hold up the next one of the same credentials.
	// The first is blocked on its thread before the second is made; on
	// failure the second never runs, and the cleanup releases the first
	// so that close does not wait for it forever.
	started, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	blocked, second := make(chan error, 1), make(chan error, 1)
	go func() { blocked <- id.do(child.Process.Pid, func() { close(started); <-release }) }()
	<-started
	go func() { second <- id.do(child.Process.Pid, unblock) }()
	select {
	case err := <-second:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("a blocked call held up the next one of the same credentials")
	}
	require.NoError(t, <-blocked)
	// The caller's thread is untouched.
	own := statusOfThread(t)
	require.Equal(t, "0 0 0 0", own["Uid"])

	// A panic comes back to the caller.
	require.PanicsWithValue(t, "boom", func() { _ = id.do(child.Process.Pid, func() { panic("boom") }) })

	id.close()
	ran := false
	require.ErrorIs(t, id.do(child.Process.Pid, func() { ran = true }), errIdentityClosed)
	require.False(t, ran)
	require.Error(t, id.do(-1, func() {}), "no such task")
}

// BenchmarkIdentityDo measures one call run as a task: reading its
// credentials and the hop to a thread that took them, and back.
func BenchmarkIdentityDo(b *testing.B) {
	id, err := newIdentity()
	require.NoError(b, err)
	b.Cleanup(id.close)
	pid, n := os.Getpid(), 0
	for b.Loop() {
		if err := id.do(pid, func() { n++ }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCredsOf is the part of BenchmarkIdentityDo that reads the
// task's credentials; the rest is the hop.
func BenchmarkCredsOf(b *testing.B) {
	id, err := newIdentity()
	require.NoError(b, err)
	b.Cleanup(id.close)
	pid := os.Getpid()
	for b.Loop() {
		if _, err := id.credsOf(pid); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdentityHop is the hop of BenchmarkIdentityDo alone: to a
// thread with known credentials and back.
func BenchmarkIdentityHop(b *testing.B) {
	id, err := newIdentity()
	require.NoError(b, err)
	b.Cleanup(id.close)
	c, err := id.credsOf(os.Getpid())
	require.NoError(b, err)
	n := 0
	for b.Loop() {
		pool, err := id.pool(c)
		if err != nil {
			b.Fatal(err)
		}
		if err := pool.Do(func() { n++ }); err != nil {
			b.Fatal(err)
		}
	}
}
