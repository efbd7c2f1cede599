package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNamePrefix(t *testing.T) {
	for name, want := range map[string]string{
		"ccQ6jPfA.s":       "cc",
		"cctoNw3i.res":     "cc",
		"cc5apfR3.cdtor.o": "cc",
		"sem.mp-x8k2pklm":  "sem.",
		"sem.4ypERi":       "sem.",
		"pymp-3k2j4h":      "pymp-",
		"go-build12345678": "go-",
		"tmpab12cdxy":      "tmp",
		"ABCDEF":           "",
		"x":                "",
	} {
		require.Equal(t, want, namePrefix(name), name)
	}
}

func TestGeneralize(t *testing.T) {
	tmp := t.TempDir()
	g := &generalizer{
		before: tempSnapshot{tmp: {"secret.key", "ccOLD123", "work"}},
		created: map[string]bool{
			"/home/u/proj/.git": true,
		},
	}
	for in, want := range map[string]string{
		tmp + "/ccQ6jPfA.s":            tmp + "/ccQ6jPfA.s", // cc* would cover ccOLD123
		tmp + "/sem.mp-x8k2":           tmp + "/sem.*",
		tmp + "/pymp-abc/listener-x":   tmp + "/pymp-*",
		tmp + "/work/a.c":              tmp + "/work/a.c", // existed before the run
		tmp + "/secret.key":            tmp + "/secret.key",
		tmp + "/Q":                     tmp + "/Q",
		"/home/u/proj/.git/objects/ab": "/home/u/proj/.git",
		"/home/u/proj/.gitignore":      "/home/u/proj/.gitignore",
		"/home/u/.ssh/id_ed25519":      "/home/u/.ssh/id_ed25519",
		"/proc/123/status":             "/proc/*/status",
		"/proc/123/task/124/comm":      "/proc/*/task/*/comm",
		"/proc/self/fd":                "/proc/self/fd",
		"/etc/shadow":                  "/etc/shadow",
	} {
		require.Equal(t, want, g.path(in), in)
	}
	require.Len(t, g.kept, 1)

	// No glob matches a name that existed before the run.
	for _, in := range []string{tmp + "/sem.mp-x8k2", tmp + "/pymp-abc/x"} {
		pat := g.path(in)
		for _, old := range g.before[tmp] {
			ok, err := filepath.Match(pat, tmp+"/"+old)
			require.NoError(t, err)
			require.False(t, ok, "%s covers %s", pat, old)
		}
	}
}

func TestGeneralizeExecs(t *testing.T) {
	gcc, err := filepath.Glob("/usr/lib/gcc/*/*/cc1")
	if err != nil || len(gcc) == 0 {
		t.Skip("no gcc cc1 here")
	}
	g := &generalizer{}
	require.Equal(t, []string{filepath.Dir(gcc[0]), "/usr/bin/as", "/usr/lib/nonexistent/x"},
		g.execs([]string{gcc[0], "/usr/bin/as", "/usr/lib/nonexistent/x"}))
}

func TestGeneralizeProcesses(t *testing.T) {
	p := &Profile{}
	p.Processes.Max = 3
	(&generalizer{}).generalize(p)
	require.Equal(t, 6, p.Processes.Max)
	p.Processes.Max = 1
	(&generalizer{}).generalize(p)
	require.Equal(t, 3, p.Processes.Max)
}

func TestTempRoots(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	roots := tempRoots()
	require.Contains(t, roots, dir)
	if _, err := os.Stat("/tmp"); err == nil {
		require.Contains(t, roots, "/tmp")
	}
}

// TestLibDirs: a system code directory read extensively becomes a directory
// rule; /etc, homes, a root itself and one or two files stay exact.
func TestLibDirs(t *testing.T) {
	files := []string{
		"/usr/lib/python3.11/json/__init__.py", "/usr/lib/python3.11/json/decoder.py", "/usr/lib/python3.11/json/scanner.py",
		"/usr/lib/python3.11/os.py", "/usr/lib/python3.11/abc.py",
		"/usr/bin/a", "/usr/b", "/usr/c", "/usr/d", // /usr itself is a root: never
		"/etc/a", "/etc/b", "/etc/c", "/etc/d",
		"/root/.ssh/a", "/root/.ssh/b", "/root/.ssh/c",
		"/opt/tool/x", "/opt/tool/y", "/opt/tool/z",
		"/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libm.so.6",
		"/usr/lib/gcc/*/x", "/usr/lib/gcc/*/y", "/usr/lib/gcc/*/z", // globs do not count
	}
	require.Equal(t, []string{"/opt/tool", "/usr/lib/python3.11/json"}, libDirs(files))
}
