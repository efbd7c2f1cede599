package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// TestCLI builds the sandlock-go binary once and runs it on real programs.
func TestCLI(t *testing.T) {
	bin := buildCLI(t)
	hostname, err := os.ReadFile("/etc/hostname")
	require.NoError(t, err)

	t.Run("OnRet", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, bin, "run", "--on", "getppid=ret:777", "--", "sh", "-c", "echo $PPID")
		r.requireStatus(t, 0)
		require.Equal(t, "777\n", r.stdout)
	})

	t.Run("OnChain", func(t *testing.T) {
		t.Parallel()
		// continue passes to the next handler; the first other answer wins.
		r := runCLI(t, bin, "run", "--on", "getppid=continue", "--on", "getppid=ret:5", "--on", "getppid=ret:6", "--", "sh", "-c", "echo $PPID")
		r.requireStatus(t, 0)
		require.Equal(t, "5\n", r.stdout)
	})

	t.Run("OnErrno", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, bin, "run", "--on", "openat=errno:EACCES", "--", "cat", "/etc/hostname")
		require.NotEqual(t, 0, r.status, r)
		require.Contains(t, r.stderr, "Permission denied")
		require.Empty(t, r.stdout)

		r = runCLI(t, bin, "run", "--on", "openat=errno:2", "--", "cat", "/etc/hostname")
		require.NotEqual(t, 0, r.status, r)
		require.Contains(t, r.stderr, "No such file or directory")
	})

	t.Run("OnKill", func(t *testing.T) {
		t.Parallel()
		// --on-exception continue: the kill comes from the action, not
		// from a failing handler.
		r := runCLI(t, bin, "run", "--on-exception", "continue", "--on", "getppid=kill", "--", "sh", "-c", "echo $PPID")
		r.requireStatus(t, 137)
		require.Empty(t, r.stdout)
	})

	t.Run("OnContinue", func(t *testing.T) {
		t.Parallel()
		tracePath := filepath.Join(t.TempDir(), "trace.jsonl")
		r := runCLI(t, bin, "run", "--trace", tracePath, "--on", "openat=continue", "--", "cat", "/etc/hostname")
		r.requireStatus(t, 0)
		require.Equal(t, string(hostname), r.stdout)
		// The syscalls were trapped and let through.
		recs := readTrace(t, tracePath)
		require.NotEmpty(t, recs)
		for _, rec := range recs {
			if rec.Syscall == "openat" {
				require.Equal(t, "continue", rec.Action)
			}
		}
	})

	t.Run("Deny", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "made")
		r := runCLI(t, bin, "run", "--deny", nativeNames("mkdir", "mkdirat"), "--", "mkdir", dir)
		r.requireStatus(t, 1)
		require.Contains(t, r.stderr, "Operation not permitted")
		require.NoDirExists(t, dir)

		r = runCLI(t, bin, "run", "--", "mkdir", dir)
		r.requireStatus(t, 0)
		require.DirExists(t, dir)
	})

	t.Run("DenyDefault", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("unshare"); err != nil {
			t.Skip("no unshare(1)")
		}
		r := runCLI(t, bin, "run", "--deny-default", "--", "unshare", "-U", "true")
		r.requireStatus(t, 1)
		require.Contains(t, r.stderr, "Operation not permitted")
	})

	t.Run("Landlock", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		outside := filepath.Join(dir, "secret")
		require.NoError(t, os.WriteFile(outside, []byte("secret\n"), 0o644))
		ro := []string{"run", "-r", "/usr", "-r", "/etc"}

		r := runCLI(t, bin, append(ro, "--", "cat", "/etc/hostname")...)
		r.requireStatus(t, 0)
		require.Equal(t, string(hostname), r.stdout)

		r = runCLI(t, bin, append(ro, "--", "cat", outside)...)
		r.requireStatus(t, 1)
		require.Contains(t, r.stderr, "Permission denied")
		require.Empty(t, r.stdout)

		// -r allows reading, not writing; -w allows both.
		created := filepath.Join(dir, "created")
		r = runCLI(t, bin, "run", "-r", "/usr", "-r", dir, "--", "touch", created)
		r.requireStatus(t, 1)
		require.Contains(t, r.stderr, "Permission denied")
		require.NoFileExists(t, created)
		r = runCLI(t, bin, "run", "-r", "/usr", "-w", dir, "--", "touch", created)
		r.requireStatus(t, 0)
		require.FileExists(t, created)
	})

	t.Run("TraceStderr", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		r := runCLI(t, bin, "run", "--trace", "-", "--on", "openat=continue", "--", "cat", "/etc/hostname")
		r.requireStatus(t, 0)
		require.Equal(t, string(hostname), r.stdout)
		require.Contains(t, r.stderr, `"path":"/etc/hostname"`)
		recs := parseTrace(t, r.stderr)
		var found *traceRecord
		for i := range recs {
			if recs[i].Path == "/etc/hostname" {
				found = &recs[i]
			}
		}
		require.NotNil(t, found, r.stderr)
		require.Equal(t, "openat", found.Syscall)
		require.Equal(t, "continue", found.Action)
		require.Greater(t, found.Pid, 0)
		require.Len(t, found.Args, 6)
		require.True(t, strings.HasPrefix(found.Args[1], "0x"), found.Args[1])
		require.GreaterOrEqual(t, found.LatencyNS, int64(0))
		tm, err := time.Parse(time.RFC3339Nano, found.Time)
		require.NoError(t, err)
		require.WithinDuration(t, start, tm, time.Minute)
	})

	t.Run("ExitStatus", func(t *testing.T) {
		t.Parallel()
		runCLI(t, bin, "run", "--", "sh", "-c", "exit 3").requireStatus(t, 3)
		runCLI(t, bin, "run", "--", "sh", "-c", "kill -9 $$").requireStatus(t, 137)
		runCLI(t, bin, "run", "--", "sh", "-c", "kill -TERM $$").requireStatus(t, 143)
		runCLI(t, bin, "run", "--", "true").requireStatus(t, 0)
	})

	t.Run("ForwardsSignals", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(bin, "run", "--", "sh", "-c", "echo ready; exec sleep 100")
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		line, err := bufio.NewReader(stdout).ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, "ready\n", line)
		time.Sleep(50 * time.Millisecond) // let sh exec sleep
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatal("sandlock-go did not end after SIGTERM")
		}
		// sandlock-go itself survived and exited with sleep's status.
		require.Equal(t, 143, cmd.ProcessState.ExitCode())
	})

	t.Run("Terminal", func(t *testing.T) {
		t.Parallel()
		// sandlock-go holds a terminal: the program, in a process group
		// of its own, can read it (instead of being stopped by SIGTTIN),
		// and Ctrl-C reaches it.
		ptmx, tty := openPty(t)
		cmd := exec.Command(bin, "run", "--", "sh", "-c", "read x; echo got $x; exec sleep 100")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		require.NoError(t, cmd.Start())
		tty.Close()
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(exited)
		}()
		defer func() {
			_ = cmd.Process.Kill()
			<-exited
		}()
		out := make(chan string, 64)
		go func() {
			buf := make([]byte, 256)
			for {
				n, err := ptmx.Read(buf)
				if n > 0 {
					out <- string(buf[:n])
				}
				if err != nil {
					close(out)
					return
				}
			}
		}()
		_, err := ptmx.Write([]byte("hello\n"))
		require.NoError(t, err)
		var seen string
		deadline := time.After(10 * time.Second)
		for !strings.Contains(seen, "got hello") {
			select {
			case s, ok := <-out:
				require.True(t, ok, "terminal closed; output %q", seen)
				seen += s
			case <-deadline:
				t.Fatalf("the program did not read the terminal; output %q", seen)
			}
		}
		time.Sleep(50 * time.Millisecond) // let sh exec sleep
		_, err = ptmx.Write([]byte{3})    // Ctrl-C
		require.NoError(t, err)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Fatal("Ctrl-C did not end the program")
		}
		require.Equal(t, 130, cmd.ProcessState.ExitCode())
	})

	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		arch := syscalls.Native().String()
		missing := filepath.Join(t.TempDir(), "missing")
		tests := []struct {
			args []string
			msg  string
		}{
			{[]string{"run", "--on", "opnat=continue", "--", "true"}, `sandlock-go: --on opnat=continue: unknown syscall "opnat" on ` + arch},
			{[]string{"run", "--on", "getppid=frob", "--", "true"}, `sandlock-go: --on getppid=frob: unknown action "frob" (want continue, errno:NAME, errno:NUMBER, ret:N or kill)`},
			{[]string{"run", "--on", "openat=errno:EFOO", "--", "true"}, `sandlock-go: --on openat=errno:EFOO: unknown errno "EFOO" (want a name such as EACCES or a number)`},
			{[]string{"run", "--deny", "getppid,opnat", "--", "true"}, `sandlock-go: --deny getppid,opnat: unknown syscall "opnat" on ` + arch},
			{[]string{"run", "--on", "getppid=continue"}, "sandlock-go: run: no program given (usage: sandlock-go run [flags] -- PROGRAM [ARGS...])"},
			{[]string{"run", "-r", missing, "--", "true"}, "sandlock-go: -r " + missing + ": no such file or directory"},
			{[]string{"run", "--frob", "--", "true"}, "sandlock-go: run: flag provided but not defined: -frob (see sandlock-go run --help)"},
			{[]string{"run", "--on-exception", "explode", "--", "true"}, `sandlock-go: --on-exception explode: unknown exception policy "explode" (want kill, eperm, continue or eio)`},
			{[]string{"frob"}, `sandlock-go: unknown command "frob" (want run, trace, learn, agent, check or syscalls; see sandlock-go --help)`},
			{[]string{"syscalls", "--arch", "sparc"}, `sandlock-go: syscalls --arch sparc: unknown architecture "sparc" (want x86_64, aarch64 or riscv64)`},
		}
		for _, tc := range tests {
			r := runCLI(t, bin, tc.args...)
			r.requireStatus(t, 2)
			require.Equal(t, tc.msg+"\n", r.stderr, tc.args)
			require.Empty(t, r.stdout)
		}
		r := runCLI(t, bin, "run", "--", missing)
		r.requireStatus(t, 127)
		require.Equal(t, "sandlock-go: run: "+missing+": not found\n", r.stderr)
	})

	t.Run("Help", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"--help"}, {"run", "--help"}} {
			r := runCLI(t, bin, args...)
			r.requireStatus(t, 0)
			for _, flag := range []string{"--on ", "--deny ", "--deny-default", "-r ", "-w ", "--landlock-strict", "--trace ", "--on-exception ", "--workers ",
				"--allow-path ", "--deny-path ", "--allow-exec ", "--max-processes ", "--allow-connect ", "--allow-bind ", "--profile "} {
				require.Contains(t, r.stdout, "\n  "+flag, args)
			}
		}
	})

	t.Run("Check", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, bin, "check")
		r.requireStatus(t, 0)
		require.Contains(t, r.stdout, "seccomp user notification (Linux >= 5.0): ok\n")
		require.Contains(t, r.stdout, "Landlock ABI: ")
		require.Contains(t, r.stdout, "supervision: ok")
	})

	t.Run("Syscalls", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, bin, "syscalls", "--arch", "aarch64")
		r.requireStatus(t, 0)
		lines := strings.Split(r.stdout, "\n")
		require.Contains(t, lines, "openat 56")
		for _, l := range lines {
			require.False(t, strings.HasPrefix(l, "open "), l)
		}
		r = runCLI(t, bin, "syscalls", "--arch", "x86_64")
		r.requireStatus(t, 0)
		require.Contains(t, strings.Split(r.stdout, "\n"), "open 2")
	})
}

// buildCLI builds cmd/sandlock-go into a directory that lives as long as t.
func buildCLI(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the CLI with")
	}
	bin := filepath.Join(t.TempDir(), "sandlock-go")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/sandlock-go/sandlock-go/cmd/sandlock-go")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

type cliResult struct {
	args           []string
	status         int
	stdout, stderr string
}

func (r cliResult) requireStatus(t *testing.T, want int) {
	t.Helper()
	require.Equal(t, want, r.status, "sandlock-go %s\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.stdout, r.stderr)
}

// runCLI runs the binary with stdin on /dev/null and a time limit.
func runCLI(t *testing.T, bin string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	require.NoError(t, cmd.Start())
	timer := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	return cliResult{args: args, status: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// openPty opens a pseudo-terminal pair: the master, and the terminal.
func openPty(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	require.NoError(t, unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	require.NoError(t, err)
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { tty.Close() })
	return ptmx, tty
}

// nativeNames joins the names the native architecture has.
func nativeNames(names ...string) string {
	var have []string
	for _, n := range names {
		if _, err := syscalls.Native().Number(n); err == nil {
			have = append(have, n)
		}
	}
	return strings.Join(have, ",")
}

// traceRecord is one line of --trace, as documented in docs/cli.md.
type traceRecord struct {
	Time      string   `json:"time"`
	Pid       int      `json:"pid"`
	Syscall   string   `json:"syscall"`
	Nr        int      `json:"nr"`
	Args      []string `json:"args"`
	Path      string   `json:"path"`
	PathError string   `json:"path_error"`
	Action    string   `json:"action"`
	LatencyNS int64    `json:"latency_ns"`
}

func readTrace(t *testing.T, path string) []traceRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return parseTrace(t, string(data))
}

// parseTrace decodes the JSON lines of s, skipping other lines (the
// program's own stderr).
func parseTrace(t *testing.T, s string) []traceRecord {
	t.Helper()
	var recs []traceRecord
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r traceRecord
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		recs = append(recs, r)
	}
	return recs
}
