package tests

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// TestCLITrace runs `sandlock-go trace` on real programs.
func TestCLITrace(t *testing.T) {
	bin := buildCLI(t)
	hostname, err := os.ReadFile("/etc/hostname")
	require.NoError(t, err)

	t.Run("Text", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, bin, "trace", "--", "cat", "/etc/hostname")
		r.requireStatus(t, 0)
		require.Equal(t, string(hostname), r.stdout)
		re := regexp.MustCompile(`(?m)^\[pid [0-9]+\] openat\(AT_FDCWD, "/etc/hostname", O_RDONLY(\|O_[A-Z]+)*\) = continue$`)
		require.Regexp(t, re, r.stderr)
		// Every line of the trace is a traced syscall, answered continue.
		for _, l := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
			require.Regexp(t, `^\[pid [0-9]+\] [a-z0-9_]+\(.*\) = continue$`, l)
		}
		require.Regexp(t, `(?m)\] exit_group\(0\) = continue$`, r.stderr)
		// The sandbox's own execve of cat is not shown.
		require.NotContains(t, r.stderr, "execve(")
	})

	t.Run("ExecArgvAndFile", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "trace.txt")
		r := runCLI(t, bin, "trace", "-o", out, "--syscalls", "exec,openat", "--", "sh", "-c", "exec cat /etc/hostname")
		r.requireStatus(t, 0)
		require.Equal(t, string(hostname), r.stdout)
		require.Empty(t, r.stderr, "the trace goes to -o")
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Regexp(t, `(?m)^\[pid [0-9]+\] execve\("/[a-z/]*bin/cat", \["cat", "/etc/hostname"\], /\* [0-9]+ vars \*/\) = continue$`, string(data))
		require.Contains(t, string(data), `openat(AT_FDCWD, "/etc/hostname", O_RDONLY`)
		require.NotContains(t, string(data), "newfstatat", "--syscalls limits the trace")
	})

	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		// sh execs cat, but only openat is asked for (the sandbox traps
		// execve anyway: it must not show).
		r := runCLI(t, bin, "trace", "--json", "--syscalls", "openat", "--", "sh", "-c", "exec cat /etc/hostname")
		r.requireStatus(t, 0)
		require.Equal(t, string(hostname), r.stdout)
		var found bool
		for _, line := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
			var rec struct {
				Syscall string         `json:"syscall"`
				Path    string         `json:"path"`
				Action  string         `json:"action"`
				Decoded map[string]any `json:"decoded"`
			}
			require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
			require.Equal(t, "openat", rec.Syscall)
			require.Equal(t, "continue", rec.Action)
			require.Equal(t, "AT_FDCWD", rec.Decoded["dirfd"])
			if rec.Path == "/etc/hostname" {
				found = true
				require.Equal(t, "/etc/hostname", rec.Decoded["path"])
				require.Equal(t, "O_RDONLY", rec.Decoded["flags"])
			}
		}
		require.True(t, found, r.stderr)
	})
}

// TestCLITraceMatchesStrace counts the syscalls a program makes, once
// traced by `sandlock-go trace --json` and once by strace, for the same set
// of syscalls: the counts must be equal.
//
// Excluded: the first execve (the sandbox starts the program with it and
// answers it itself; strace sees it), so strace's execve count is one
// more. The programs are chosen to be deterministic: no threads racing, no
// time- or pid-dependent paths.
func TestCLITraceMatchesStrace(t *testing.T) {
	straceBin, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (.ci/run installs it); the comparison with strace is skipped")
	}
	bin := buildCLI(t)
	var set []string
	for _, n := range []string{
		"open", "openat", "newfstatat", "stat", "lstat", "access", "faccessat", "statfs", "statx",
		"readlink", "readlinkat", "execve", "clone", "clone3", "fork", "vfork", "exit_group",
		"socket", "connect",
	} {
		if _, err := syscalls.Native().Number(n); err == nil {
			set = append(set, n)
		}
	}
	list := strings.Join(set, ",")

	programs := map[string][]string{
		"sh": {"sh", "-c", "cat /etc/hostname >/dev/null; ls / >/dev/null"},
	}
	if py := realPython(); py != "" {
		programs["python3"] = []string{py, "-c", "import json; json.dumps([1])"}
	} else {
		t.Log("no python3 binary (only scripts such as a pyenv shim): its comparison is skipped")
	}
	for name, prog := range programs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tracePath := filepath.Join(dir, "trace.jsonl")
			r := runCLI(t, bin, append([]string{"trace", "--json", "--syscalls", list, "-o", tracePath, "--"}, prog...)...)
			r.requireStatus(t, 0)
			ours := map[string]int{}
			for _, rec := range readTrace(t, tracePath) {
				ours[rec.Syscall]++
			}

			stracePath := filepath.Join(dir, "strace.txt")
			cmd := exec.Command(straceBin, append([]string{"-f", "-qq", "-o", stracePath, "-e", "trace=" + list}, prog...)...)
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "strace: %s", out)
			theirs := straceCounts(t, stracePath)
			require.Positive(t, theirs["execve"], "strace saw no execve")
			theirs["execve"]-- // the sandbox's start of the program
			if theirs["execve"] == 0 {
				delete(theirs, "execve")
			}
			require.Equal(t, theirs, ours, "syscall counts: strace (want) vs sandlock-go trace (got)")
			require.Positive(t, ours["openat"]+ours["open"], "nothing traced")
		})
	}
}

// straceCounts counts the calls in an `strace -f -o` file: "PID name(..."
// lines (an unfinished call counts once; its "<... resumed>" line not).
func straceCounts(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	re := regexp.MustCompile(`^[0-9]+\s+([a-z0-9_]+)\(`)
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			counts[m[1]]++
		}
	}
	require.NoError(t, sc.Err())
	return counts
}

// realPython finds a python3 that is an ELF binary, not a launcher script
// (a pyenv shim runs a different set of programs each time).
func realPython() string {
	var candidates []string
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	candidates = append(candidates, "/usr/bin/python3")
	for _, c := range candidates {
		if f, err := elf.Open(c); err == nil {
			f.Close()
			return c
		}
	}
	return ""
}
