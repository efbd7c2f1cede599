package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTempGlob(t *testing.T) {
	const w = wordClass
	for name, want := range map[string]string{
		"ccQ6jPfA.s":       "cc*",
		"cctoNw3i.res":     "cc*",
		"cc5apfR3.cdtor.o": "cc*",
		"sem.mp-x8k2pklm":  "sem.*",
		"sem.4ypERi":       "sem.*",
		"pymp-3k2j4h":      "pymp-*",
		"go-build12345678": "go-*",
		"tmpab12cdxy":      "tmp*",
		"tmpab_x9k2q":      "tmp*", // "_" is random in Python's names
		"ab_x9k2q":         w + w + w + w + w + w + w + w,
		"c6o3qjhl":         w + w + w + w + w + w + w + w,
		"ccabc3ef.s":       w + w + w + w + w + w + w + w + ".s", // mkstemp, all lowercase
		"ABCDEF":           w + w + w + w + w + w,
		"QabcDEFG.o":       w + w + w + w + w + w + w + w + ".o",
	} {
		got, ok := tempGlob(name)
		require.True(t, ok, name)
		require.Equal(t, want, got, name)
		match, err := filepath.Match(got, name)
		require.NoError(t, err)
		require.True(t, match, "%s does not match %s", got, name)
	}
	for _, name := range []string{"x", "tmp", "abc", "a b c d e f", "secret"} {
		_, ok := tempGlob(name)
		if name == "secret" {
			require.True(t, ok) // six letters: a shape; tempPattern keeps it exact if it covers an older entry
			continue
		}
		require.False(t, ok, name)
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

	// A shape glob is not used when it covers an older entry either
	// (ccOLD123 has eight characters).
	require.Equal(t, tmp+"/c6o3qjhl", g.path(tmp+"/c6o3qjhl"))
	g.before[tmp] = []string{"secret.key", "work"}
	require.Equal(t, tmp+"/"+strings.Repeat(wordClass, 8), g.path(tmp+"/c6o3qjhl"))

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

// TestGeneralizeCreatedDirs: a directory the run made and only listed
// (mkdir, nothing opened beneath it) is allowed in files too, where the
// next run's mkdir is decided; a directory it did not make is not; the
// programs it ran from beneath one become that directory.
func TestGeneralizeCreatedDirs(t *testing.T) {
	g := &generalizer{created: map[string]bool{"/w/d077": true, "/w/g": true}}
	p := &Profile{}
	p.Open.Dirs = pathList{"/w/d077", "/w/src"}
	p.Exec.Paths = pathList{"/w/g/m", "/w/h", "/usr/bin/env"}
	g.generalize(p)
	require.Equal(t, pathList{"/w/d077"}, p.Open.Files)
	// A program the run built in a directory it made: that directory.
	require.Equal(t, pathList{"/w/g", "/w/h", "/usr/bin/env"}, p.Exec.Paths)
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
		// Python's compiled modules count for the directory of their sources.
		"/usr/lib/python3/dist-packages/__pycache__/a.pyc", "/usr/lib/python3/dist-packages/__pycache__/b.pyc",
		"/usr/lib/python3/dist-packages/c.py",
	}
	require.Equal(t, []string{"/opt/tool", "/usr/lib/python3.11/json", "/usr/lib/python3/dist-packages"}, libDirs(files, nil))
}

// TestLibDirsPrefix: the library tree of an executed program's prefix
// (a Python under a home) is widened like /usr when it is open to
// everyone; a private directory, a dot-name beneath it, the prefix's
// other trees and a prefix nothing was executed from stay exact.
func TestLibDirsPrefix(t *testing.T) {
	home := t.TempDir()
	require.NoError(t, os.Chmod(home, 0o700))
	prefix := filepath.Join(home, ".pyenv", "versions", "3.11.7")
	for _, d := range []string{"bin", "lib/python3.11/json", "lib/.hidden", "lib/private", "share/doc"} {
		require.NoError(t, os.MkdirAll(filepath.Join(prefix, d), 0o755))
	}
	require.NoError(t, os.Chmod(filepath.Join(prefix, "lib/private"), 0o700))
	python := filepath.Join(prefix, "bin", "python3.11")
	require.NoError(t, os.WriteFile(python, nil, 0o755))
	var files []string
	for _, d := range []string{"lib/python3.11", "lib/python3.11/json", "lib/.hidden", "lib/private", "share/doc"} {
		for _, f := range []string{"a", "b", "c"} {
			files = append(files, filepath.Join(prefix, d, f))
		}
	}
	want := []string{filepath.Join(prefix, "lib/python3.11"), filepath.Join(prefix, "lib/python3.11/json")}
	require.Equal(t, want, libDirs(files, []string{python, "/usr/bin/env"}))
	require.Empty(t, libDirs(files, []string{"/usr/bin/env"}))
	require.Empty(t, libDirs(files, []string{filepath.Join(prefix, "lib", "python3.11", "x")})) // not P/bin/NAME
}
