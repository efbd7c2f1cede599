package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

	dir := t.TempDir()
	cfg, err = parseAgent([]string{"--socket", "s", "--deny-path", "/secret", "--allow-exec", "/bin", "--profiles", dir}, arch)
	require.NoError(t, err)
	require.Equal(t, stringList{"/secret"}, cfg.Paths.denyPath)
	require.Equal(t, stringList{"/bin"}, cfg.Paths.allowExec)
	require.Equal(t, dir, cfg.Profiles)

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
		{[]string{"--socket", "s", "--allow-connect", "example.org:443"}, "--allow-connect is not supported in agent mode"},
		{[]string{"--socket", "s", "--profile", "p.toml"}, "--profile is not supported in agent mode"},
		{[]string{"--socket", "s", "--deny-path", "relative"}, "--deny-path relative"},
		{[]string{"--socket", "s", "--profiles", "/nonexistent/dir"}, "--profiles /nonexistent/dir: not a directory"},
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

func TestProfileName(t *testing.T) {
	for _, good := range []string{"web", "web-1.2", "a_b"} {
		require.NoError(t, profileName(good), good)
	}
	for _, bad := range []string{"", ".", "..", "../web", "a/b", "/etc/x", ".hidden", "a\\b", "a\nb", strings.Repeat("x", 300)} {
		require.Error(t, profileName(bad), "%q", bad)
	}
}

// TestAgentSelectorPolicies: a path policy needs the container's root (a
// State without one is rejected); a bad profile name or a missing profile
// gives a table that answers every syscall with the exception policy; a
// good profile gives its open policy.
func TestAgentSelectorPolicies(t *testing.T) {
	arch := syscalls.Native()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "web.toml"), []byte("version = 1\n[open]\nfiles = [\"/etc/hosts\"]\n"), 0o644))
	cfg, err := parseAgent([]string{"--socket", "s", "--on", "getppid=ret:7", "--deny-path", "/secret", "--profiles", dir}, arch)
	require.NoError(t, err)
	var logs []string
	sel := agentSelector(cfg, arch, nil, func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) })

	_, _, err = sel(agent.State{Pid: 42, State: agent.ContainerState{ID: "c1"}})
	require.ErrorContains(t, err, "root", "no root: no path policy")

	every := len(arch.Syscalls())
	for _, meta := range []string{"profile=../web", "profile=.web", "profile=missing"} {
		logs = nil
		tab, _, err := sel(agent.State{Pid: 42, Metadata: meta, State: agent.ContainerState{ID: "c1"}})
		require.NoError(t, err, meta)
		require.Len(t, tab.Syscalls(), every, "%s: every syscall answered by the exception policy", meta)
		require.Len(t, logs, 1, meta)
		require.Contains(t, logs[0], "answering every call with --on-exception kill")
	}
	_, _, err = sel(agent.State{Pid: 42, Metadata: "profile=web", State: agent.ContainerState{ID: "c1"}})
	require.ErrorContains(t, err, "root", "a good profile is a path policy")
}
