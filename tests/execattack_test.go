package tests

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// runExecattack runs tests/victims/execattack under the exec policy of
// allow (nil: none) and p, and returns its output.
func runExecattack(t *testing.T, allow []string, p sandbox.Policy, args ...string) string {
	t.Helper()
	cmd := sandbox.Command(buildProgram(t, "execattack"), args...)
	cmd.Policy = p
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if allow != nil {
		pol, err := pathpolicy.NewExecPolicy(pathpolicy.Rules{Allow: allow})
		require.NoError(t, err)
		for _, name := range pol.Syscalls(nil) {
			require.NoError(t, cmd.Handle(name, pol))
		}
	}
	require.NoError(t, cmd.Run(), out.String())
	return out.String()
}

// TestExecPolicyShebang: a script in an allowed directory cannot run an
// interpreter outside the allowed paths, directly or through another
// script; with an allowed interpreter it runs. Both with the supervisor's
// exec policy alone and with Landlock's execute right alone.
func TestExecPolicyShebang(t *testing.T) {
	const denied = "/usr/bin/echo" // prints "HACKED ..." when it runs
	const allowed = "/usr/bin/printf"
	for _, layer := range []struct {
		name   string
		allow  func(dir string) []string
		policy func(dir string) sandbox.Policy
	}{
		{"Supervisor", func(dir string) []string { return []string{dir, allowed} },
			func(string) sandbox.Policy { return sandbox.Policy{} }},
		{"Landlock", func(string) []string { return nil },
			func(dir string) sandbox.Policy { return sandbox.Policy{ExecPaths: []string{dir, allowed}} }},
	} {
		t.Run(layer.name, func(t *testing.T) {
			dir := t.TempDir()
			out := runExecattack(t, layer.allow(dir), layer.policy(dir), "shebang", dir, denied)
			require.NotContains(t, out, "HACKED", "the #! interpreter ran")
			require.Contains(t, out, "exec errno=EACCES")

			dir = t.TempDir()
			out = runExecattack(t, layer.allow(dir), layer.policy(dir), "xonly", dir, denied)
			require.NotContains(t, out, "HACKED", "the #! interpreter of an execute-only script ran")
			require.Contains(t, out, "exec errno=EACCES")

			dir = t.TempDir()
			out = runExecattack(t, layer.allow(dir), layer.policy(dir), "chain", dir, denied)
			require.NotContains(t, out, "HACKED", "the interpreter of the #! interpreter ran")
			require.Contains(t, out, "exec errno=EACCES")

			dir = t.TempDir()
			out = runExecattack(t, layer.allow(dir), layer.policy(dir), "shebang", dir, allowed)
			require.True(t, strings.HasPrefix(out, "HACKED"), "an allowed interpreter runs: %s", out)
			require.NotContains(t, out, "exec errno")
		})
	}
}

// TestExecPolicyShebangRace: a thread swapping a script between one whose
// interpreter is allowed and one whose interpreter is denied, while
// another runs it. The supervisor's check reads the #! line before the
// kernel does, so some runs get through it (shown, not required); with
// Landlock's execute right under it, none does.
func TestExecPolicyShebangRace(t *testing.T) {
	const runs = "300"
	count := func(out, what string) int {
		m := regexp.MustCompile(what + `=(\d+)`).FindStringSubmatch(out)
		require.NotNil(t, m, out)
		n, _ := strconv.Atoi(m[1])
		return n
	}
	dir := t.TempDir()
	out := runExecattack(t, []string{dir, "/usr/bin/printf"}, sandbox.Policy{}, "flip", dir, "/usr/bin/printf", "/usr/bin/echo", runs)
	t.Logf("supervisor alone: %s", out)
	require.Positive(t, count(out, "ok"), out)

	dir = t.TempDir()
	out = runExecattack(t, []string{dir, "/usr/bin/printf"}, sandbox.Policy{ExecPaths: []string{dir, "/usr/bin/printf"}},
		"flip", dir, "/usr/bin/printf", "/usr/bin/echo", runs)
	t.Logf("supervisor and Landlock: %s", out)
	require.Zero(t, count(out, "hacked"), "a denied interpreter ran under Landlock's execute right")
	require.Positive(t, count(out, "ok"), out)
}

// TestLandlockExecStartsTheCommand: under Landlock's execute right with no
// path allowed, the command the caller named still starts, with what the
// kernel runs for it (its #! interpreter, the dynamic loader), and nothing
// else executes.
func TestLandlockExecStartsTheCommand(t *testing.T) {
	dir := t.TempDir()
	script := writeFile(t, dir, "script", "#!/bin/sh\necho started; /usr/bin/printf never || echo refused\n")
	require.NoError(t, os.Chmod(script, 0o755))
	r := newRunContext(t, context.Background(), script)
	r.Policy = sandbox.Policy{ExecPaths: []string{}}
	out := r.mustRun(t)
	require.Equal(t, "started\nrefused\n", out, r.stderr.String())

	r = newRunContext(t, context.Background(), "/usr/bin/printf", "dynamic")
	r.Policy = sandbox.Policy{ExecPaths: []string{}}
	require.Equal(t, "dynamic", r.mustRun(t))
}
