package tests

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler/proclimit"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// sampledRun runs victims/NAME with args under p and, when limit > 0, a
// proclimit cap; it samples the size of the run's process group until
// the run ends and returns the largest seen with the output.
func sampledRun(t *testing.T, name string, p sandbox.Policy, limit int, args ...string) (peak int, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*runTimeout)
	defer cancel()
	cmd := sandbox.CommandContext(ctx, buildProgram(t, name), args...)
	cmd.Env = append(os.Environ(), "FORKBOMB_REPORT=1")
	cmd.Policy = p
	var buf syncBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if limit > 0 {
		lim, err := proclimit.New(limit)
		require.NoError(t, err)
		for _, n := range lim.Syscalls(nil) {
			require.NoError(t, cmd.Handle(n, lim))
		}
	}
	require.NoError(t, cmd.Start())
	pgid := cmd.Process.Pid
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				n := groupSize(pgid)
				mu.Lock()
				peak = max(peak, n)
				mu.Unlock()
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	wg.Wait()
	require.NoError(t, err, buf.String())
	return peak, buf.String()
}

func cloneflipCount(t *testing.T, out, what string) int {
	m := regexp.MustCompile(` ` + what + `=(\d+)`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

// TestProcLimitClone3Flip: a thread flipping clone3's flags between
// CLONE_THREAD and a fork while another calls clone3 creates no process
// under a cap of 3: clone3 answers ENOSYS, in the kernel by default, and
// from the limiter when Policy.AllowSyscalls lets clone3 through (a
// limiter that read the flags and let threads pass was raced past its cap
// by this program).
func TestProcLimitClone3Flip(t *testing.T) {
	const limit = 3
	for _, tc := range []struct {
		name string
		p    sandbox.Policy
	}{
		{"Default", sandbox.Policy{}},
		{"AllowClone3", sandbox.Policy{AllowSyscalls: []string{"clone3"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peak, out := sampledRun(t, "cloneflip", tc.p, limit, "3000", "300ms")
			t.Logf("peak=%d %s", peak, out)
			require.Zero(t, cloneflipCount(t, out, "forks"), "clone3 created processes")
			require.Equal(t, 3000, cloneflipCount(t, out, "enosys"))
			require.LessOrEqual(t, peak, limit, "the process group grew past the cap")
		})
	}
}

// TestProcLimitRootChild: the command runs as root (uid 0 without
// capabilities): RLIMIT_NPROC (Policy.MaxUserProcesses) does not hold it,
// the limiter does.
func TestProcLimitRootChild(t *testing.T) {
	requireRoot(t)
	const limit = 3
	peak, out := sampledRun(t, "forkbomb", sandbox.Policy{MaxUserProcesses: limit}, 0, "4", "2", "300ms")
	t.Logf("RLIMIT_NPROC %d alone: peak=%d\n%s", limit, peak, out)
	require.Greater(t, peak, limit, "RLIMIT_NPROC held for root: the limiter would not be needed")

	peak, out = sampledRun(t, "forkbomb", sandbox.Policy{}, limit, "4", "2", "300ms")
	t.Logf("limiter %d: peak=%d\n%s", limit, peak, out)
	require.LessOrEqual(t, peak, limit, "the process group grew past the cap")
	require.Contains(t, out, "eagain=")
}
