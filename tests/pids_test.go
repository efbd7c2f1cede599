package tests

// The process limit in the kernel: Policy.MaxProcesses in a pids cgroup of
// the run, and the trap fallback (handler/proclimit).

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// requireCgroup skips unless the supervisor can make pids cgroups (root
// here; CI runs as root with the pids controller).
func requireCgroup(t *testing.T) {
	t.Helper()
	if err := sandbox.ProbePidsCgroup(); err != nil {
		t.Skipf("no pids cgroup for a run: %v", err)
	}
}

// creations counts, per answer, the trapped process creations of a run.
type creations struct {
	mu      sync.Mutex
	answers map[string]int
}

func (cr *creations) observe(c *handler.Ctx, a handler.Action, _ time.Duration) {
	switch c.SyscallName() {
	case "fork", "vfork", "clone", "clone3":
		cr.mu.Lock()
		cr.answers[c.SyscallName()+"="+a.String()]++
		cr.mu.Unlock()
	}
}

// limitedRun runs sh -c script under p and returns the command (waited
// for), its output, the trapped process creations and Wait's error.
func limitedRun(t *testing.T, p sandbox.Policy, script string) (*sandbox.Cmd, string, map[string]int, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*runTimeout)
	defer cancel()
	cmd := sandbox.CommandContext(ctx, "sh", "-c", script)
	cmd.Policy = p
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cr := &creations{answers: map[string]int{}}
	cmd.ServeOptions = &handler.Options{Observe: cr.observe}
	require.NoError(t, cmd.Start())
	dir := cmd.ProcessCgroup()
	err := cmd.Wait()
	if dir != "" {
		_, serr := os.Stat(dir)
		require.ErrorIs(t, serr, os.ErrNotExist, "the run's cgroup outlived it")
	}
	return cmd, out.String(), cr.answers, err
}

// fourSleeps starts 4 sleeps from sh: under a cap of 4 the last start
// fails (sh and 3 sleeps are 4 tasks) and dash gives up with "Cannot fork".
// The sleeps outlive every start, so the count at the 4th is exact.
const fourSleeps = "sleep 60 & sleep 60 & sleep 60 & sleep 60 & wait"

// TestPidsCgroupLimit: Policy.MaxProcesses 4 is enforced by the kernel in
// the run's cgroup: the 5th task fails with EAGAIN ("Cannot fork"), no
// fork or clone is trapped, pids.peak is exactly 4, and the cgroup is
// gone after Wait.
func TestPidsCgroupLimit(t *testing.T) {
	requireCgroup(t)
	t.Parallel()
	cmd, out, answers, err := limitedRun(t, sandbox.Policy{MaxProcesses: 4, ProcessLimit: sandbox.ProcessLimitCgroup}, fourSleeps)
	how, reason := cmd.ProcessCounter()
	require.Equal(t, sandbox.CountCgroup, how)
	require.NoError(t, reason)
	require.Error(t, err)
	require.Equal(t, 2, cmd.ExitStatus(), out)
	require.Contains(t, out, "Cannot fork")
	require.Empty(t, answers, "a process creation was trapped")
	peak, perr := cmd.ProcessPeak()
	require.NoError(t, perr)
	require.Equal(t, 4, peak, "pids.peak")

	// Without the cap, the same script runs its 4 sleeps (all alive
	// until the shell kills them): a peak of 5.
	cmd, out, answers, err = limitedRun(t, sandbox.Policy{CountProcesses: true, ProcessLimit: sandbox.ProcessLimitCgroup},
		"sleep 60 & a=$!; sleep 60 & b=$!; sleep 60 & c=$!; sleep 60 & d=$!; kill $a $b $c $d; wait")
	require.NoError(t, err, out)
	require.Empty(t, answers)
	peak, perr = cmd.ProcessPeak()
	require.NoError(t, perr)
	require.Equal(t, 5, peak, "pids.peak")
}

// TestPidsTrapFallback: ProcessLimitTrap forces the trap (what a
// supervisor without a cgroup gets under ProcessLimitAuto): the same
// script is refused its 4th start by the supervisor, seen in the answers.
func TestPidsTrapFallback(t *testing.T) {
	t.Parallel()
	cmd, out, answers, err := limitedRun(t, sandbox.Policy{MaxProcesses: 4, ProcessLimit: sandbox.ProcessLimitTrap}, fourSleeps)
	how, reason := cmd.ProcessCounter()
	require.Equal(t, sandbox.CountTrap, how)
	require.ErrorIs(t, reason, sandbox.ErrNoPidsCgroup)
	require.Empty(t, cmd.ProcessCgroup())
	require.Error(t, err)
	require.Contains(t, out, "Cannot fork")
	require.Equal(t, map[string]int{"clone=continue": 3, "clone=errno:EAGAIN": 1}, answers)
	peak, perr := cmd.ProcessPeak()
	require.NoError(t, perr)
	require.Equal(t, 4, peak)

	// A syscall of the deny list stays the kernel's: the trap does not
	// go on it (a handler there would make Start fail).
	cmd, out, answers, err = limitedRun(t, sandbox.Policy{MaxProcesses: 4, ProcessLimit: sandbox.ProcessLimitTrap, Deny: []string{"clone"}}, "sleep 0 & wait")
	require.Error(t, err)
	require.Contains(t, out, "Cannot fork")
	require.Empty(t, answers)
}

// TestPidsCountsThreads: the pids controller counts tasks. A Go program
// (the runtime has at least its main thread and sysmon) peaks at 2 or
// more tasks under the cgroup, where the trap counts 1 process.
func TestPidsCountsThreads(t *testing.T) {
	requireCgroup(t)
	t.Parallel()
	prog := buildProgram(t, "forkbomb")
	for _, tc := range []struct {
		mode sandbox.ProcessLimitMode
		want func(int) bool
	}{
		{sandbox.ProcessLimitCgroup, func(n int) bool { return n >= 2 }},
		{sandbox.ProcessLimitTrap, func(n int) bool { return n == 1 }},
	} {
		cmd := sandbox.Command(prog, "0", "0", "0s")
		cmd.Policy = sandbox.Policy{CountProcesses: true, ProcessLimit: tc.mode}
		require.NoError(t, cmd.Run())
		peak, err := cmd.ProcessPeak()
		require.NoError(t, err)
		require.True(t, tc.want(peak), "mode %d: peak %d", tc.mode, peak)
	}
}

// TestPidsCgroupNotLeaked: the run's cgroup goes when Start fails after
// the helper started, when a handler panics (the exception policy kills
// the command), and when a process left the run's session (it is killed
// through the cgroup).
func TestPidsCgroupNotLeaked(t *testing.T) {
	requireCgroup(t)
	t.Parallel()
	gone := func(t *testing.T, dir string) {
		t.Helper()
		require.NotEmpty(t, dir)
		_, err := os.Stat(dir)
		require.ErrorIs(t, err, os.ErrNotExist, "the run's cgroup was left behind")
	}
	t.Run("StartError", func(t *testing.T) {
		// Not an executable format: the launcher's execve (the moment
		// it enters the cgroup) fails, after the helper started.
		bad := filepath.Join(t.TempDir(), "notelf")
		require.NoError(t, os.WriteFile(bad, []byte("\x00\x01garbage"), 0o755))
		cmd := sandbox.Command(bad)
		cmd.Policy.MaxProcesses = 3
		cmd.Policy.ProcessLimit = sandbox.ProcessLimitCgroup
		require.Error(t, cmd.Start())
		gone(t, cmd.ProcessCgroup())
	})
	t.Run("HandlerPanic", func(t *testing.T) {
		cmd := sandbox.Command("sh", "-c", "echo hi")
		cmd.Policy.MaxProcesses = 3
		cmd.Policy.ProcessLimit = sandbox.ProcessLimitCgroup
		require.NoError(t, cmd.Handle("write", handler.Func(func(*handler.Ctx) handler.Action { panic("handler bug") })))
		require.NoError(t, cmd.Start())
		dir := cmd.ProcessCgroup()
		require.Error(t, cmd.Wait())
		require.Equal(t, syscall.SIGKILL, cmd.Signal())
		gone(t, dir)
	})
	t.Run("LeftSession", func(t *testing.T) {
		// The shell reports the pid of a process once it has left
		// the session (which the end of the run kills); only the
		// cgroup still finds it.
		fifo := filepath.Join(t.TempDir(), "fifo")
		require.NoError(t, unix.Mkfifo(fifo, 0o600))
		ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
		defer cancel()
		cmd := sandbox.CommandContext(ctx, "sh", "-c", `setsid sh -c 'echo $$ >`+fifo+`; exec sleep 60 >/dev/null 2>&1' & read p <`+fifo+`; echo $p`)
		cmd.Policy.MaxProcesses = 10
		cmd.Policy.ProcessLimit = sandbox.ProcessLimitCgroup
		cmd.Policy.AllowProcessGroups = true
		var out syncBuffer
		cmd.Stdout = &out
		require.NoError(t, cmd.Start())
		dir := cmd.ProcessCgroup()
		require.NoError(t, cmd.Wait())
		gone(t, dir)
		pid := strings.TrimSpace(out.String())
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err == nil { // a zombie until its new parent reaps it
			require.Regexp(t, regexp.MustCompile(`\) [ZX] `), string(stat), "the escaped sleep still runs")
		}
	})
}

// TestPidsForkNoEINTR is the reproduction of the EINTR failures of trapped
// forks: dash's SIGCHLD handler has no SA_RESTART, and a fork that a
// signal interrupts before the supervisor received its notification fails
// with EINTR ("Cannot fork"). 100 pipelines of 3 commands run in one
// sandboxed shell. With the cgroup nothing is trapped and none may fail;
// the trap's figure is logged (it varies: 18 to 29 of 100 here).
func TestPidsForkNoEINTR(t *testing.T) {
	requireCgroup(t)
	t.Parallel()
	const script = `n=0; i=0; while [ $i -lt 100 ]; do i=$((i+1)); sh -c "echo x | cat | cat >/dev/null" 2>/dev/null || n=$((n+1)); done; echo failures=$n`
	failures := func(mode sandbox.ProcessLimitMode) int {
		cmd, out, _, err := limitedRun(t, sandbox.Policy{MaxProcesses: 100, ProcessLimit: mode}, script)
		if mode == sandbox.ProcessLimitCgroup {
			how, _ := cmd.ProcessCounter()
			require.Equal(t, sandbox.CountCgroup, how)
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return -1 // the outer shell's own fork failed
		}
		require.NoError(t, err, out)
		m := regexp.MustCompile(`failures=(\d+)`).FindStringSubmatch(out)
		require.NotNil(t, m, out)
		n, _ := strconv.Atoi(m[1])
		return n
	}
	trapped := failures(sandbox.ProcessLimitTrap)
	figure(t, "pipelines failing with the trap: %d of 100 (-1: the outer shell failed)", trapped)
	require.Zero(t, failures(sandbox.ProcessLimitCgroup), "a pipeline failed under the cgroup")
}
