package syscalls

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGeneratedUpToDate runs the generator into a temporary directory and
// checks that the checked-in files are exactly its output, and that no
// stale generated file is left over.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go run; skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not in PATH")
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "run", "./internal/mksyscalls", "-o", dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	generated, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	require.Len(t, generated, 6)
	checkedIn, err := filepath.Glob("zsysnum_*.go")
	require.NoError(t, err)
	var names []string
	for _, g := range generated {
		names = append(names, filepath.Base(g))
	}
	slices.Sort(checkedIn)
	assert.Equal(t, names, checkedIn, "generated file set")

	for _, name := range names {
		want, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		got, err := os.ReadFile(name)
		if assert.NoError(t, err) {
			assert.True(t, string(want) == string(got), "%s is stale: run go generate in syscalls/", name)
		}
	}
}
