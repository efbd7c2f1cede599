package tests

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

func TestSmokeGetppid(t *testing.T) {
	cmd := sandbox.Command("/bin/sh", "-c", "echo $PPID")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	require.NoError(t, cmd.Handle("getppid", handler.Func(func(c *handler.Ctx) handler.Action {
		return handler.ReturnValue(777)
	})))
	require.NoError(t, cmd.Run())
	require.Equal(t, "777", strings.TrimSpace(out.String()))
}

// TestPollListener runs with process groups allowed, where the runner cannot
// rely on killing the group to wake a blocking RECV and waits in poll():
// answers still arrive, setsid is allowed, and a cancelled run with a live
// child still ends.
func TestPollListener(t *testing.T) {
	cmd := sandbox.Command("/bin/sh", "-c", "echo $PPID; exec setsid -w /bin/sh -c 'echo $PPID'")
	cmd.Policy.AllowProcessGroups = true
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Handle("getppid", handler.Func(func(c *handler.Ctx) handler.Action {
		return handler.ReturnValue(777)
	})))
	require.NoError(t, cmd.Run(), out.String())
	require.Equal(t, "777\n777\n", out.String())

	ctx, cancel := context.WithCancel(context.Background())
	cmd = sandbox.CommandContext(ctx, "/bin/sleep", "30")
	cmd.Policy.AllowProcessGroups = true
	require.NoError(t, cmd.Handle("getppid", handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() })))
	require.NoError(t, cmd.Start())
	start := time.Now()
	cancel()
	require.Error(t, cmd.Wait())
	require.Less(t, time.Since(start), 20*time.Second, "Wait waited for sleep 30")
}
