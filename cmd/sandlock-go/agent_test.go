package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/audit"
	"github.com/sandlock-go/sandlock-go/sandbox/agent"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

func TestParseAgent(t *testing.T) {
	arch := syscalls.Native()
	cfg, err := parseAgent([]string{"--socket", "/run/a.sock", "--on", "getppid=ret:7", "--on-exception", "eperm", "--trace", "-", "--workers", "3"}, arch)
	require.NoError(t, err)
	require.Equal(t, "/run/a.sock", cfg.Socket)
	require.Equal(t, []OnRule{{Syscall: "getppid", Action: handler.ReturnValue(7)}}, cfg.Rules)
	require.Equal(t, handler.ExceptionDenyEPERM, cfg.OnException)
	require.Equal(t, "-", cfg.Trace)
	require.Equal(t, 3, cfg.Workers)

	cfg, err = parseAgent([]string{"--socket", "s", "--take-over", "--wait-after-handover"}, arch)
	require.NoError(t, err)
	require.True(t, cfg.TakeOver)
	require.True(t, cfg.WaitAfter)

	cfg, err = parseAgent([]string{"--socket", "s"}, arch)
	require.NoError(t, err)
	require.False(t, cfg.TakeOver)
	require.Equal(t, handler.ExceptionKill, cfg.OnException, "fail-closed by default")

	_, err = parseAgent([]string{"-h"}, arch)
	require.ErrorIs(t, err, errHelp)

	for _, bad := range []struct {
		args []string
		want string
	}{
		{nil, "--socket PATH is required"},
		{[]string{"--socket", "s", "--on", "nosuchcall=continue"}, "--on nosuchcall=continue"},
		{[]string{"--socket", "s", "--on-exception", "maybe"}, "--on-exception maybe"},
		{[]string{"--socket", "s", "--workers", "0"}, "--workers 0"},
		{[]string{"--socket", "s", "--deny-path", "/secret"}, "--deny-path is not supported in agent mode"},
		{[]string{"--socket", "s", "--profiles", "/etc/p"}, "--profiles is not supported in agent mode"},
		{[]string{"--socket", "s", "prog"}, "unexpected argument"},
		{[]string{"--bogus"}, "flag provided but not defined"},
	} {
		_, err := parseAgent(bad.args, arch)
		var ue *usageError
		require.ErrorAs(t, err, &ue, "%q", bad.args)
		require.Contains(t, err.Error(), bad.want)
	}
}

func TestAgentCLIUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, cli([]string{"agent", "--help"}, nil, &out, &errOut))
	require.Contains(t, out.String(), "--socket PATH")
	out.Reset()
	require.Equal(t, exitUsage, cli([]string{"agent"}, nil, &out, &errOut))
	require.Contains(t, errOut.String(), "--socket")
}

// TestAgentSelector: each container gets a fresh table with the --on
// rules, and its trace lines carry its id and pid.
func TestAgentSelector(t *testing.T) {
	arch := syscalls.Native()
	cfg, err := parseAgent([]string{"--socket", "s", "--on", "getppid=ret:7"}, arch)
	require.NoError(t, err)
	var buf bytes.Buffer
	tr := &agentTracer{w: bufio.NewWriter(&buf)}
	sel := agentSelector(cfg, arch, tr, t.Logf)
	st := agent.State{Pid: 42, State: agent.ContainerState{ID: "c1"}}
	tab, opts, err := sel(st)
	require.NoError(t, err)
	nr, err := arch.Number("getppid")
	require.NoError(t, err)
	require.Equal(t, []int{nr}, tab.Syscalls())
	require.NotNil(t, opts.Observe)
	tab2, _, err := sel(agent.State{Pid: 43, State: agent.ContainerState{ID: "c2"}})
	require.NoError(t, err)
	require.NotSame(t, tab, tab2)

	line, err := json.Marshal(traceLine{Container: "c1", ContainerPid: 42, Record: &audit.Record{Pid: 50, Syscall: "getppid", Action: "return:7"}})
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(line, &back))
	require.Equal(t, "c1", back["container"])
	require.EqualValues(t, 42, back["container_pid"])
	require.EqualValues(t, 50, back["pid"])
	require.Equal(t, "getppid", back["syscall"])
}
