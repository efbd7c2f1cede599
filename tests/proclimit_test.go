package tests

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler/proclimit"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// groupSize counts the live processes of process group pgid.
func groupSize(pgid int) int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		end := bytes.LastIndexByte(stat, ')')
		fields := strings.Fields(string(stat[end+2:]))
		if len(fields) > 2 && fields[0] != "Z" && fields[2] == strconv.Itoa(pgid) {
			n++
		}
	}
	return n
}

// TestForkBombHeld: a bounded fork bomb (up to 4+16+64+256 processes) runs
// under a cap of 8; the sandbox's process count never exceeds it, starts
// fail with EAGAIN, and the run ends with no process left.
func TestForkBombHeld(t *testing.T) {
	const limit = 8
	bomb := buildProgram(t, "forkbomb")
	lim, err := proclimit.New(limit)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*runTimeout)
	defer cancel()
	cmd := sandbox.CommandContext(ctx, bomb, "4", "4", "300ms")
	cmd.Env = append(os.Environ(), "FORKBOMB_REPORT=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	for _, name := range lim.Syscalls(nil) {
		require.NoError(t, cmd.Handle(name, lim))
	}
	require.NoError(t, cmd.Start())
	pgid := cmd.Process.Pid

	var peak int
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				peak = max(peak, groupSize(pgid))
			}
		}
	}()
	err = cmd.Wait()
	close(stop)
	wg.Wait()
	t.Logf("peak=%d denied=%d\n%s", peak, lim.Denied(), out.String())
	require.NoError(t, err, out.String())
	require.LessOrEqual(t, peak, limit, "the process count exceeded the cap")
	require.Greater(t, peak, 1, "the bomb never forked")
	require.Positive(t, lim.Denied(), "no fork was refused")
	require.Contains(t, out.String(), "eagain=")
	require.NotContains(t, out.String(), "other=1", "a start failed with an error other than EAGAIN")
	require.Zero(t, groupSize(pgid), "processes outlived the run")
}
