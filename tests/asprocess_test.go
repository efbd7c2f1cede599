package tests

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler/netpolicy"
	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// openPolicyRun runs sh -c script with an open policy of rules and p.
func openPolicyRun(t *testing.T, rules pathpolicy.Rules, p sandbox.Policy, script string) (string, string) {
	t.Helper()
	pol, err := pathpolicy.NewOpenPolicy(rules)
	require.NoError(t, err)
	r := newRunContext(t, context.Background(), "/bin/sh", "-c", script)
	r.Policy = p
	for _, name := range pol.Syscalls(nil) {
		require.NoError(t, r.Handle(name, pol))
	}
	_, err = r.run(t)
	require.NotNil(t, r.ProcessState, "start: %v", err)
	return r.stdout.String(), r.stderr.String()
}

// TestAsProcessOpenKeepsWriteProtection: under an open policy that allows
// everything, the supervisor opens files for the command, and still the
// command cannot write a root-owned file under /etc: the open is performed
// on a thread confined as the command is.
func TestAsProcessOpenKeepsWriteProtection(t *testing.T) {
	requireRoot(t)
	sys := rootOwnedSystemFile(t)
	out, errOut := openPolicyRun(t, pathpolicy.Rules{Allow: []string{"/"}}, sandbox.Policy{},
		"(echo x >> "+sys+") && echo WROTE-ETC; cat /etc/hostname >/dev/null && echo READ-OK")
	require.NotContains(t, out, "WROTE-ETC", "stderr: %s", errOut)
	require.Contains(t, out, "READ-OK", "reads still go through: %s", errOut)
	data, err := os.ReadFile(sys)
	require.NoError(t, err)
	require.Empty(t, data)
}

// TestAsProcessOpenKeepsLandlockRules: with Landlock read-only rules and an
// open policy that denies one file, a file outside the Landlock rules stays
// out of reach although the supervisor performs the opens.
func TestAsProcessOpenKeepsLandlockRules(t *testing.T) {
	dir := t.TempDir()
	outside := writeFile(t, dir, "outside.txt", "OUTSIDE-SECRET")
	p := sandbox.Policy{ReadOnlyPaths: []string{"/usr", "/bin", "/lib", "/lib64", "/etc"}}
	out, errOut := openPolicyRun(t, pathpolicy.Rules{Deny: []string{filepath.Join(dir, "other")}}, p,
		"cat "+outside+"; cat /etc/hostname && echo READ-OK")
	require.NotContains(t, out, "OUTSIDE-SECRET", "stderr: %s", errOut)
	require.Contains(t, out, "READ-OK", "stderr: %s", errOut)
}

// TestAsProcessBindNeedsTheCapability: a bind performed for the command
// needs the command's capability, not the supervisor's.
func TestAsProcessBindNeedsTheCapability(t *testing.T) {
	requireRoot(t)
	pol, err := netpolicy.New(netpolicy.Rules{Bind: []string{"*"}})
	require.NoError(t, err)
	bind := func(p sandbox.Policy) string {
		r := newRunContext(t, context.Background(), "python3", "-c",
			"import socket\ns=socket.socket()\ntry:\n  s.bind(('127.0.0.1', 81)); print('BOUND')\nexcept OSError as e: print('ERR', e.errno)")
		r.Policy = p
		for _, name := range pol.Syscalls(nil) {
			require.NoError(t, r.Handle(name, pol))
		}
		out := r.mustRun(t)
		return out
	}
	require.Equal(t, "ERR 13\n", bind(sandbox.Policy{}), "no CAP_NET_BIND_SERVICE: EACCES")
	require.Equal(t, "BOUND\n", bind(sandbox.Policy{CapAdd: []string{"CAP_NET_BIND_SERVICE"}}))
}

// TestFilePathsInTheKernel: Policy.FilePaths confines file access in the
// kernel, with no handler at all: a file outside is refused, one inside is
// read, and programs outside still execute.
func TestFilePathsInTheKernel(t *testing.T) {
	inside, outside := t.TempDir(), t.TempDir()
	writeFile(t, inside, "in.txt", "INSIDE")
	secret := writeFile(t, outside, "out.txt", "OUTSIDE-SECRET")
	r := newRunContext(t, context.Background(), "/bin/sh", "-c", "cat in.txt; cat "+secret+"; echo new > made && cat made")
	r.Dir = inside
	r.Policy.FilePaths = []string{inside, "/usr", "/lib", "/lib64", "/etc", "/dev"}
	_, _ = r.run(t)
	out := r.stdout.String()
	require.Contains(t, out, "INSIDE", "stderr: %s", r.stderr.String())
	require.Contains(t, out, "new", "creating beneath an allowed path")
	require.NotContains(t, out, "OUTSIDE-SECRET")
	require.Contains(t, r.stderr.String(), "Permission denied")
}
