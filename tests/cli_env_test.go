package tests

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCLIEnv checks the environment flags of run on what the program sees.
func TestCLIEnv(t *testing.T) {
	bin := buildCLI(t)
	envBin, err := exec.LookPath("env")
	require.NoError(t, err)
	t.Setenv("SANDLOCK_TEST_KEEP", "kept")
	t.Setenv("SANDLOCK_TEST_DROP", "dropped")

	t.Run("Clearenv", func(t *testing.T) {
		r := runCLI(t, bin, "run", "--clearenv", "--", envBin)
		r.requireStatus(t, 0)
		require.Empty(t, r.stdout)

		// env is still found in sandlock-go's PATH.
		r = runCLI(t, bin, "run", "--clearenv", "--setenv", "ONLY", "this one", "--", "env")
		r.requireStatus(t, 0)
		require.Equal(t, "ONLY=this one\n", r.stdout)
	})

	t.Run("Setenv", func(t *testing.T) {
		r := runCLI(t, bin, "run", "--setenv", "SANDLOCK_TEST_KEEP", "replaced", "--setenv", "NEW", "-x=y", "--", "env")
		r.requireStatus(t, 0)
		lines := strings.Split(r.stdout, "\n")
		require.Contains(t, lines, "SANDLOCK_TEST_KEEP=replaced")
		require.Contains(t, lines, "NEW=-x=y")
		require.Contains(t, lines, "SANDLOCK_TEST_DROP=dropped")
		require.NotContains(t, lines, "SANDLOCK_TEST_KEEP=kept")
	})

	t.Run("Unsetenv", func(t *testing.T) {
		r := runCLI(t, bin, "run", "--unsetenv", "SANDLOCK_TEST_DROP", "--", "env")
		r.requireStatus(t, 0)
		require.NotContains(t, r.stdout, "SANDLOCK_TEST_DROP")
		require.Contains(t, strings.Split(r.stdout, "\n"), "SANDLOCK_TEST_KEEP=kept")
	})

	t.Run("NoFlags", func(t *testing.T) {
		r := runCLI(t, bin, "run", "--", "env")
		r.requireStatus(t, 0)
		lines := strings.Split(r.stdout, "\n")
		require.Contains(t, lines, "SANDLOCK_TEST_KEEP=kept")
		require.Contains(t, lines, "SANDLOCK_TEST_DROP=dropped")
	})

	t.Run("BadInput", func(t *testing.T) {
		r := runCLI(t, bin, "run", "--setenv", "A", "--", "env")
		r.requireStatus(t, 0) // "--" is A's value: env runs
		require.Contains(t, strings.Split(r.stdout, "\n"), "A=--")
		r = runCLI(t, bin, "run", "--setenv", "A")
		r.requireStatus(t, 2)
		require.Equal(t, "sandlock-go: --setenv A: want a VALUE after VAR (--setenv VAR VALUE)\n", r.stderr)
	})

	t.Run("Help", func(t *testing.T) {
		r := runCLI(t, bin, "run", "--help")
		r.requireStatus(t, 0)
		for _, flag := range []string{"--no-pty", "--clearenv", "--setenv VAR VALUE", "--unsetenv VAR"} {
			require.Contains(t, r.stdout, "\n  "+flag+"\n")
		}
		for _, cmd := range []string{"trace", "learn"} {
			r := runCLI(t, bin, cmd, "--help")
			r.requireStatus(t, 0)
			require.Contains(t, r.stdout, "\n  --no-pty\n")
		}
	})
}
