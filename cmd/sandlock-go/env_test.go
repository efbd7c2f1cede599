package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

func TestParseRunEnv(t *testing.T) {
	good := []struct {
		args    []string
		ops     []envOp
		program []string
	}{
		{[]string{"--setenv", "A", "1", "--", "env"}, []envOp{{"setenv", "A", "1"}}, []string{"env"}},
		// VALUE may look like a flag, or be empty.
		{[]string{"--setenv", "A", "-1", "-setenv", "B", "", "env"}, []envOp{{"setenv", "A", "-1"}, {"setenv", "B", ""}}, []string{"env"}},
		{[]string{"--setenv=A", "x=y", "env"}, []envOp{{"setenv", "A", "x=y"}}, []string{"env"}},
		// In command-line order, among other flags and their values.
		{[]string{"--setenv", "A", "1", "--on", "getppid=ret:1", "--clearenv", "--no-pty", "--unsetenv", "B", "--unsetenv=C", "--", "env"},
			[]envOp{{"setenv", "A", "1"}, {"clearenv", "", ""}, {"unsetenv", "B", ""}, {"unsetenv", "C", ""}}, []string{"env"}},
		// The value of another flag is not a flag.
		{[]string{"--trace", "--clearenv", "env"}, nil, []string{"env"}},
		// PROGRAM's arguments are its own.
		{[]string{"env", "--setenv", "A", "1"}, nil, []string{"env", "--setenv", "A", "1"}},
		{[]string{"--", "--setenv", "A", "1"}, nil, []string{"--setenv", "A", "1"}},
	}
	for _, tc := range good {
		cfg, err := parseRun(tc.args, syscalls.X86_64)
		require.NoError(t, err, tc.args)
		require.Equal(t, tc.ops, cfg.Env, tc.args)
		require.Equal(t, tc.program, cfg.Program, tc.args)
	}

	bad := []struct {
		args []string
		msg  string
	}{
		{[]string{"--setenv"}, "--setenv: want VAR VALUE"},
		{[]string{"--setenv", "A"}, "--setenv A: want a VALUE after VAR (--setenv VAR VALUE)"},
		{[]string{"--setenv", "A=B", "1", "env"}, `--setenv "A=B": want a variable name, without '='`},
		{[]string{"--setenv", "", "1", "env"}, `--setenv "": want a variable name, without '='`},
		{[]string{"--unsetenv"}, "--unsetenv: want VAR"},
		{[]string{"--unsetenv", "A=", "env"}, `--unsetenv "A=": want a variable name, without '='`},
		{[]string{"--clearenv=true", "env"}, "--clearenv takes no value"},
	}
	for _, tc := range bad {
		_, err := parseRun(tc.args, syscalls.X86_64)
		var ue *usageError
		require.ErrorAs(t, err, &ue, tc.args)
		require.Equal(t, tc.msg, err.Error(), tc.args)
	}
}

func TestEnviron(t *testing.T) {
	base := []string{"A=1", "B=2", "A=dup", "C=3"}
	require.Nil(t, environ(base, nil))
	require.Equal(t, []string{"B=2", "C=3", "A=x"}, environ(base, []envOp{{"setenv", "A", "x"}}))
	require.Equal(t, []string{"A=1", "A=dup", "C=3"}, environ(base, []envOp{{"unsetenv", "B", ""}}))
	cleared := environ(base, []envOp{{"clearenv", "", ""}})
	require.NotNil(t, cleared, "an empty environment is not the supervisor's")
	require.Empty(t, cleared)
	// A --setenv before --clearenv is cleared too, as in bubblewrap.
	require.Equal(t, []string{"D=4"}, environ(base, []envOp{{"setenv", "X", "1"}, {"clearenv", "", ""}, {"setenv", "D", "4"}}))
	require.Equal(t, []string{"A=1", "B=2", "A=dup", "C=3"}, base, "base changed")
}

func TestCRLFWriter(t *testing.T) {
	var b bytes.Buffer
	w := &crlfWriter{w: &b}
	for _, s := range []string{"a\n", "\n", "b\r", "\n", "c\r\nd\n\n"} {
		n, err := w.Write([]byte(s))
		require.NoError(t, err)
		require.Equal(t, len(s), n)
	}
	require.Equal(t, "a\r\n\r\nb\r\nc\r\nd\r\n\r\n", b.String())
}
