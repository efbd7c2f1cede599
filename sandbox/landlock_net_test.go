package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPolicyLayer(t *testing.T) {
	require.Nil(t, (&Policy{}).policyLayer("/bin/true"), "nothing to restrict")

	l := (&Policy{TCPConnectPorts: []uint16{}}).policyLayer("/bin/true")
	require.NotNil(t, l)
	require.True(t, l.RestrictConnect, "an empty list allows no port")
	require.False(t, l.RestrictBind)
	require.False(t, l.RestrictExec)

	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	loader := elfInterpreter(sh)
	if loader == "" {
		t.Skipf("%s has no ELF interpreter", sh)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "script")
	require.NoError(t, os.WriteFile(script, []byte("#!"+sh+" -e\necho hi\n"), 0o755))
	l = (&Policy{ExecPaths: []string{"/usr/local/bin", sh}}).policyLayer(script)
	require.True(t, l.RestrictExec)
	require.Equal(t, []string{"/usr/local/bin", sh, loader, script, sh, loader}, l.ExecPaths,
		"the paths, the loader of a listed file, the command, its interpreter and its loader")
}
