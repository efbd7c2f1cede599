package agent_test

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox/agent"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// newAgent returns an agent answering getppid with v.
func newAgent(t *testing.T, v int64) *agent.Agent {
	a := agent.New(func(agent.State) (*handler.Table, *handler.Options, error) {
		tab := handler.NewTable(syscalls.Native())
		err := tab.RegisterName("getppid", handler.Func(func(*handler.Ctx) handler.Action { return handler.ReturnValue(v) }))
		return tab, nil, err
	}, &agent.Options{Logf: t.Logf})
	t.Cleanup(func() { a.Close() })
	return a
}

// TestHandover: a container running across an agent upgrade: the new
// agent takes the socket and the listener over, answers the container's
// next calls, and serves containers started after; the old agent's Serve
// returns ErrHandedOver and nothing is refused in between.
func TestHandover(t *testing.T) {
	fdsBefore := openFDs(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	old := newAgent(t, 100)
	l, err := agent.Listen(sock)
	require.NoError(t, err)
	oldDone := make(chan error, 1)
	go func() { oldDone <- old.Serve(l) }()

	c := startSteppedContainer(t, sock, "across", 3)
	c.step(t)
	require.Equal(t, "100 ", c.result(t))

	upgraded := newAgent(t, 200)
	nl, err := upgraded.TakeOver(sock)
	require.NoError(t, err)
	select {
	case err := <-oldDone:
		require.ErrorIs(t, err, agent.ErrHandedOver)
	case <-time.After(5 * time.Second):
		t.Fatal("old agent's Serve did not return")
	}
	require.Empty(t, old.Containers())
	require.NoError(t, old.Close())
	newDone := make(chan error, 1)
	go func() { newDone <- upgraded.Serve(nl) }()

	c.step(t)
	require.Equal(t, "200 ", c.result(t), "the call after the upgrade")
	d := startContainer(t, sock, "after", "", 1)
	require.Equal(t, "200 ", d.result(t))
	c.step(t)
	require.Equal(t, "200 ", c.result(t))
	require.NoError(t, c.cmd.Wait())
	require.NoError(t, d.cmd.Wait())

	require.NoError(t, upgraded.Close())
	require.ErrorIs(t, <-newDone, agent.ErrClosed)
	eventually(t, func() bool { return openFDs(t) <= fdsBefore }, "descriptors released")
}

// TestTakeOverNoAgent: nothing to take over from.
func TestTakeOverNoAgent(t *testing.T) {
	a := newAgent(t, 1)
	_, err := a.TakeOver(filepath.Join(t.TempDir(), "none.sock"))
	require.True(t, errors.Is(err, agent.ErrNoAgent), "%v", err)
}

// TestHandoverPeerGone: a "new agent" that asks for a handover and hangs
// up makes the old agent's Serve return the failure instead of hanging;
// the containers not handed over are still served until Close.
func TestHandoverPeerGone(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	old := newAgent(t, 100)
	l, err := agent.Listen(sock)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- old.Serve(l) }()
	c := startSteppedContainer(t, sock, "stays", 2)
	c.step(t)
	require.Equal(t, "100 ", c.result(t))

	conn, err := net.Dial("unix", sock)
	require.NoError(t, err)
	_, err = conn.Write([]byte(`{"sandlockHandover":1}`))
	require.NoError(t, err)
	conn.Close()
	select {
	case err := <-done:
		require.ErrorIs(t, err, agent.ErrHandoverFailed)
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after a failed handover")
	}
	c.step(t)
	require.Equal(t, "100 ", c.result(t), "still served by the old agent")

	// It can listen and serve again.
	l, err = agent.Listen(sock)
	require.NoError(t, err)
	go func() { done <- old.Serve(l) }()
	d := startContainer(t, sock, "later", "", 1)
	require.Equal(t, "100 ", d.result(t))
	require.NoError(t, old.Close())
	require.ErrorIs(t, <-done, agent.ErrClosed)
}
