package runset

import (
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// sleeper starts a sleep in a process group of its own.
func sleeper(t *testing.T) *exec.Cmd {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

func TestProcessGroup(t *testing.T) {
	a, b := sleeper(t), sleeper(t)
	in := ProcessGroup(a.Process.Pid)
	require.True(t, in(a.Process.Pid))
	require.False(t, in(b.Process.Pid), "another group")
	require.False(t, in(os.Getpid()), "the supervisor")
	require.False(t, in(unix.Gettid()), "a supervisor thread")
	require.False(t, in(1))
	require.False(t, in(0))
	require.False(t, in(-1))

	sibling := exec.Command("sleep", "60") // in the supervisor's group
	require.NoError(t, sibling.Start())
	t.Cleanup(func() { _ = sibling.Process.Kill(); _ = sibling.Wait() })
	mine := ProcessGroup(unix.Getpgrp())
	require.False(t, mine(sibling.Process.Pid), "the supervisor's own group is nobody's run")
	require.False(t, mine(os.Getpid()))
	require.False(t, ProcessGroup(0)(a.Process.Pid))
}

func TestProcessGroupOf(t *testing.T) {
	a := sleeper(t)
	pgid := 0
	in := ProcessGroupOf(func() int { return pgid })
	require.False(t, in(a.Process.Pid), "before the command exists")
	pgid = a.Process.Pid
	require.True(t, in(a.Process.Pid))
	require.False(t, in(os.Getpid()))
}

func TestOf(t *testing.T) {
	a, b := sleeper(t), sleeper(t)
	in := Of(a.Process.Pid)
	require.True(t, in(a.Process.Pid))
	require.False(t, in(b.Process.Pid))
	require.False(t, in(os.Getpid()))
	require.False(t, in(1))

	require.False(t, Of(os.Getpid())(os.Getpid()), "the supervisor is never in a run")
	require.False(t, Of(-5)(a.Process.Pid), "an unknown task fails closed")

	// A command left in the supervisor's group: only its own thread group.
	c := exec.Command("sleep", "60")
	require.NoError(t, c.Start())
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	in = Of(c.Process.Pid)
	require.True(t, in(c.Process.Pid))
	require.False(t, in(os.Getpid()))
	require.False(t, in(os.Getppid()), "the supervisor's parent shares its group")
}

func TestSupervisor(t *testing.T) {
	require.True(t, Supervisor(os.Getpid()))
	require.True(t, Supervisor(unix.Gettid()))
	require.False(t, Supervisor(1))
}
