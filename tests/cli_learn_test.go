package tests

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// learnEnv is a run's environment: a fake home with secrets in it (a key,
// a dotfile), a private TMPDIR with a secret beside the temporary files,
// so that no test sees another's temporary names, a secret beside the
// working directory and one in /dev/shm beside Python's semaphores. No
// program of the tests reads them: no profile learned in a learnEnv may
// allow them (TestEverydayPrograms checks each).
type learnEnv struct {
	home, tmp, work string
	secrets         []string
	env             []string
}

func newLearnEnv(t *testing.T) *learnEnv {
	t.Helper()
	root := t.TempDir()
	e := &learnEnv{home: filepath.Join(root, "home"), tmp: filepath.Join(root, "tmp"), work: filepath.Join(root, "work")}
	require.NoError(t, os.MkdirAll(filepath.Join(e.home, ".ssh"), 0o700))
	require.NoError(t, os.MkdirAll(e.tmp, 0o700))
	e.secrets = []string{
		writeFile(t, filepath.Join(e.home, ".ssh"), "id_ed25519", "SECRET-KEY\n"),
		writeFile(t, e.home, ".netrc", "SECRET-NETRC\n"),
		writeFile(t, e.tmp, "secret.key", "SECRET-TMP\n"),
	}
	e.secrets = append(e.secrets, writeFile(t, root, "neighbour.secret", "SECRET-NEIGHBOUR\n"))
	// Beside Python's semaphores and other shared memory.
	if f, err := os.CreateTemp("/dev/shm", "canary-"); err == nil {
		_, err = f.WriteString("SECRET-SHM\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())
		t.Cleanup(func() { os.Remove(f.Name()) })
		e.secrets = append(e.secrets, f.Name())
	}
	// Go's telemetry off, so that no counter file named by the date is
	// written; Go's build cache shared with the tests' user (a cache of
	// its own would rebuild the runtime); no pip version check.
	require.NoError(t, os.MkdirAll(filepath.Join(e.home, ".config", "go", "telemetry"), 0o755))
	writeFile(t, filepath.Join(e.home, ".config", "go", "telemetry"), "mode", "off")
	path := os.Getenv("PATH")
	if py := toolPaths().pythonBin; py != "" {
		path = py + ":" + path
	}
	e.env = []string{"HOME=" + e.home, "TMPDIR=" + e.tmp, "PATH=" + path, "LANG=C",
		"GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "GOCACHE=" + toolPaths().gocache,
		"PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1"}
	return e
}

// tools are where this machine's Python and Go are.
type tools struct {
	// pythonBin is the directory of python3's executable when PATH
	// finds a shim first (pyenv's): put first in PATH, python3 starts
	// without pyenv's shell scripts, which under learn's traps cost
	// seconds a run. "" when PATH finds python3 itself.
	pythonBin, pythonPrefix string
	goroot, gocache         string
}

var toolPaths = sync.OnceValue(func() tools {
	var ts tools
	out, err := exec.Command("python3", "-c",
		"import os, sys; print(os.path.dirname(os.path.realpath(sys.executable))); print(sys.base_prefix)").Output()
	if l := strings.Fields(string(out)); err == nil && len(l) == 2 {
		ts.pythonBin, ts.pythonPrefix = l[0], l[1]
		// Only when something else (a shim) is found first.
		if found, err := exec.LookPath("python3"); err == nil {
			if real, err := filepath.EvalSymlinks(found); err == nil && filepath.Dir(real) == ts.pythonBin {
				ts.pythonBin = ""
			}
		}
	}
	out, err = exec.Command("go", "env", "GOROOT", "GOCACHE").Output()
	if l := strings.Fields(string(out)); err == nil && len(l) == 2 {
		ts.goroot, ts.gocache = l[0], l[1]
	}
	return ts
})

// allowFlags is --allow-path of everydaySystem and of allow, spelled as in
// everydayCase.allow, that exist.
func (e *learnEnv) allowFlags(t *testing.T, allow []string) []string {
	t.Helper()
	var paths []string
	for _, a := range append(append([]string(nil), everydaySystem...), allow...) {
		switch a {
		case "DIR":
			paths = append(paths, e.work)
		case "TMP":
			paths = append(paths, e.tmp)
		case "HOME":
			paths = append(paths, e.home)
		case "PYTHON":
			paths = append(paths, toolPaths().pythonPrefix)
		case "GO":
			paths = append(paths, toolPaths().goroot, toolPaths().gocache)
		default:
			if rest, ok := strings.CutPrefix(a, "HOME/"); ok {
				paths = append(paths, filepath.Join(e.home, rest))
				continue
			}
			require.True(t, filepath.IsAbs(a), "allow %q", a)
			paths = append(paths, a)
		}
	}
	var flags []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			flags = append(flags, "--allow-path", p)
		}
	}
	return flags
}

// fresh makes the working directory anew with the inputs of learnCases.
func (e *learnEnv) fresh(t *testing.T) {
	t.Helper()
	require.NoError(t, os.RemoveAll(e.work))
	require.NoError(t, os.MkdirAll(filepath.Join(e.work, "src", "sub"), 0o755))
	writeFile(t, e.work, "hello.c", "#include <stdio.h>\nint main(void){puts(\"hello\");return 0;}\n")
	writeFile(t, e.work, "Makefile", "hello: hello.c\n\tcc -o hello hello.c\n")
	writeFile(t, filepath.Join(e.work, "src", "sub"), "f", "data\n")
}

// run runs argv in a fresh working directory with e's environment.
func (e *learnEnv) run(t *testing.T, argv ...string) cliResult {
	t.Helper()
	return e.runInput(t, "", argv...)
}

// runScript runs tc's script with bash, prefixed by wrap, as run does,
// with tc's stdin.
func (e *learnEnv) runScript(t *testing.T, wrap []string, tc everydayCase) cliResult {
	t.Helper()
	return e.runInput(t, tc.stdin, append(append([]string(nil), wrap...), "bash", "-c", tc.script)...)
}

// runInput runs argv as run does, with stdin.
func (e *learnEnv) runInput(t *testing.T, stdin string, argv ...string) cliResult {
	t.Helper()
	e.fresh(t)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = e.work, e.env
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	require.NoError(t, cmd.Start())
	timer := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	return cliResult{args: argv, status: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// TestLearnHostileDoesNotWiden learns a program that reads /etc/hostname
// and runs one that reads /etc/shadow under the profile: denied, and the
// note names the path and the profile.
func TestLearnHostileDoesNotWiden(t *testing.T) {
	bin := buildCLI(t)
	e := newLearnEnv(t)
	profile := filepath.Join(t.TempDir(), "cat.toml")
	r := e.run(t, bin, "learn", "-o", profile, "--", "cat", "/etc/hostname")
	require.Equal(t, 0, r.status, r.stderr)
	data, err := os.ReadFile(profile)
	require.NoError(t, err)
	require.NotContains(t, profileBody(string(data)), "*", "nothing to generalize in cat /etc/hostname:\n%s", data)

	r = e.run(t, bin, "run", "--profile", profile, "--", "cat", "/etc/shadow")
	require.Equal(t, 1, r.status)
	require.Contains(t, r.stderr, "cat: /etc/shadow: Permission denied")
	require.Contains(t, r.stderr, "sandlock-go: denied open /etc/shadow (not in --profile "+profile+")")

	// --quiet: no note.
	r = e.run(t, bin, "run", "--quiet", "--profile", profile, "--", "cat", "/etc/shadow")
	require.Equal(t, 1, r.status)
	require.NotContains(t, r.stderr, "sandlock-go: denied")
}

// TestLearnRecordsMissingFiles checks that a lookup of a file that does
// not exist, by a relative name, is recorded absolute and fails the same
// way (ENOENT, not EACCES) under the profile.
func TestLearnRecordsMissingFiles(t *testing.T) {
	bin := buildCLI(t)
	e := newLearnEnv(t)
	profile := filepath.Join(t.TempDir(), "cat.toml")
	argv := []string{"cat", "hello.c", "nodir/x"}
	bare := e.run(t, argv...)
	require.Equal(t, 1, bare.status)
	r := e.run(t, append([]string{bin, "learn", "-o", profile, "--"}, argv...)...)
	require.Equal(t, 1, r.status, r.stderr)
	data, err := os.ReadFile(profile)
	require.NoError(t, err)
	require.Contains(t, string(data), `"`+filepath.Join(e.work, "nodir/x")+`"`)
	require.NotContains(t, string(data), "  \"nodir/x\",")

	r = e.run(t, append([]string{bin, "run", "--profile", profile, "--"}, argv...)...)
	require.Equal(t, bare.status, r.status)
	require.Equal(t, bare.stdout, r.stdout)
	require.Contains(t, r.stderr, "nodir/x: No such file or directory")
	require.NotContains(t, r.stderr, "sandlock-go: denied")
}

// TestLearnStrict checks that --strict keeps the temporary names exact,
// so that the next gcc run fails, and reports the denial.
func TestLearnStrict(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed")
	}
	bin := buildCLI(t)
	e := newLearnEnv(t)
	profile := filepath.Join(t.TempDir(), "gcc.toml")
	argv := []string{"gcc", "-o", "hello", "hello.c"}
	r := e.run(t, append([]string{bin, "learn", "--strict", "-o", profile, "--"}, argv...)...)
	require.Equal(t, 0, r.status, r.stderr)
	require.Contains(t, r.stderr, "(strict)")
	data, err := os.ReadFile(profile)
	require.NoError(t, err)
	require.NotContains(t, profileBody(string(data)), "*")
	require.Contains(t, string(data), `"`+e.tmp+"/cc")

	r = e.run(t, append([]string{bin, "run", "--profile", profile, "--"}, argv...)...)
	require.NotEqual(t, 0, r.status)
	require.Contains(t, r.stderr, "sandlock-go: denied open "+e.tmp+"/cc")
}

// profileBody is a profile without its comment header.
func profileBody(profile string) string {
	_, body, _ := strings.Cut(profile, "\nversion = ")
	return body
}
