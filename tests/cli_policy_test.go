package tests

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/sandbox"
)

// systemPaths lets system programs load: their binaries, libraries and
// locale data, under both the names they use and the targets of those
// names (merged /usr).
var systemPaths = []string{"--allow-path", "/usr", "--allow-path", "/lib", "--allow-path", "/lib64", "--allow-path", "/etc/ld.so.cache"}

// TestCLIPolicyFlags runs the policy flags of `sandlock-go run` on real
// programs.
func TestCLIPolicyFlags(t *testing.T) {
	bin := buildCLI(t)

	t.Run("AllowDenyPath", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		ok := writeFile(t, dir, "ok", "fine\n")
		secret := writeFile(t, dir, "secret", "secret\n")
		other := writeFile(t, t.TempDir(), "other", "other\n")
		args := append([]string{"run"}, systemPaths...)
		args = append(args, "--allow-path", dir, "--deny-path", secret, "--")

		r := runCLI(t, bin, append(args, "cat", ok)...)
		r.requireStatus(t, 0)
		require.Equal(t, "fine\n", r.stdout)

		// Denied by --deny-path inside an allowed directory.
		r = runCLI(t, bin, append(args, "cat", ok, secret)...)
		r.requireStatus(t, 1)
		require.Equal(t, "fine\n", r.stdout)
		require.Contains(t, r.stderr, secret+": Permission denied")
		require.NotContains(t, r.stdout, "secret")

		// Outside every --allow-path.
		r = runCLI(t, bin, append(args, "cat", other)...)
		r.requireStatus(t, 1)
		require.Contains(t, r.stderr, other+": Permission denied")

		// A symlink from an allowed place to the denied file: the
		// canonical path decides.
		link := filepath.Join(dir, "link")
		require.NoError(t, os.Symlink(secret, link))
		r = runCLI(t, bin, append(args, "cat", link)...)
		r.requireStatus(t, 1)
		require.Contains(t, r.stderr, "Permission denied")

		// --deny-path alone: everything else stays readable.
		r = runCLI(t, bin, "run", "--deny-path", secret, "--", "cat", ok, other, secret)
		r.requireStatus(t, 1)
		require.Equal(t, "fine\nother\n", r.stdout)
		require.Contains(t, r.stderr, secret+": Permission denied")

		// --trace shows the policy's answers.
		r = runCLI(t, bin, "run", "--trace", "-", "--deny-path", secret, "--", "cat", secret)
		r.requireStatus(t, 1)
		var denied bool
		for _, rec := range parseTrace(t, r.stderr) {
			if rec.Path == secret {
				denied = rec.Action == "errno:EACCES"
			}
		}
		require.True(t, denied, r.stderr)
	})

	t.Run("KernelDenialHint", func(t *testing.T) {
		t.Parallel()
		// An allow list of plain paths is Landlock's alone for opens:
		// the supervisor never sees those denials, so a failed run
		// says where to look instead of counting them.
		dir := t.TempDir()
		ok := writeFile(t, dir, "ok", "fine\n")
		args := append(append([]string{"run"}, systemPaths...), "--allow-path", ok, "--", "cat", ok, "/etc/hostname")
		r := runCLI(t, bin, args...)
		r.requireStatus(t, 1)
		require.Equal(t, "fine\n", r.stdout)
		require.Contains(t, r.stderr, "/etc/hostname: Permission denied")
		require.Contains(t, r.stderr, "sandlock-go: opens outside --allow-path are refused by the kernel (Landlock) and not counted")

		// A run that succeeds, and --quiet, print nothing of ours.
		args = append(append([]string{"run"}, systemPaths...), "--allow-path", ok, "--", "cat", ok)
		r = runCLI(t, bin, args...)
		r.requireStatus(t, 0)
		require.Empty(t, r.stderr)
		args = append(append([]string{"run", "--quiet"}, systemPaths...), "--allow-path", ok, "--", "cat", ok, "/etc/hostname")
		r = runCLI(t, bin, args...)
		r.requireStatus(t, 1)
		require.NotContains(t, r.stderr, "sandlock-go:")
	})

	t.Run("AllowExec", func(t *testing.T) {
		t.Parallel()
		cat, err := exec.LookPath("cat")
		require.NoError(t, err)
		cat, err = filepath.EvalSymlinks(cat)
		require.NoError(t, err)
		r := runCLI(t, bin, "run", "--allow-exec", cat, "--", "sh", "-c", "cat /etc/hostname >/dev/null && echo cat ran; ls /")
		require.NotEqual(t, 0, r.status, r)
		require.Equal(t, "cat ran\n", r.stdout)
		require.Contains(t, r.stderr, "ls: Permission denied")

		// Without the flag, ls runs.
		r = runCLI(t, bin, "run", "--", "sh", "-c", "ls / >/dev/null && echo ls ran")
		r.requireStatus(t, 0)
		require.Equal(t, "ls ran\n", r.stdout)
	})

	t.Run("MaxProcesses", func(t *testing.T) {
		t.Parallel()
		// sh starts 3 sleeps (4 processes, 4 tasks) and waits for the
		// sampler to see them; released, it starts 6 more and waits
		// again. Under the cap of 4 the first of those fails and dash
		// gives up ("Cannot fork"). The handshake keeps the test independent of
		// how often the sampler runs on a loaded machine.
		const limit = 4
		gate := filepath.Join(t.TempDir(), "gate")
		require.NoError(t, unix.Mkfifo(gate, 0o600))
		script := "echo $$ >" + gate + ".pid; sleep 60 & sleep 60 & sleep 60 & read x <" + gate + "; for i in 1 2 3 4 5 6; do sleep 60 & done; read x <" + gate
		tracePath := filepath.Join(t.TempDir(), "trace.jsonl")
		// The second release comes only if the cap broke (5 processes).
		peak, stderr, status := runSampled(t, bin, gate, []int{limit, limit + 1}, "run", "--trace", tracePath, "--max-processes", strconv.Itoa(limit), "--", "sh", "-c", script)
		answers := map[string]int{}
		for _, rec := range readTrace(t, tracePath) {
			switch rec.Syscall {
			case "fork", "vfork", "clone", "clone3":
				answers[rec.Action]++
			}
		}
		require.NotEqual(t, 0, status)
		require.Contains(t, stderr, "Cannot fork")
		require.LessOrEqual(t, peak, limit, "the process group grew past --max-processes")
		if sandbox.ProbePidsCgroup() == nil {
			// The kernel's pids cgroup refuses the 5th task: no fork
			// or clone is trapped, and the trace has none.
			require.Empty(t, answers, "stderr: %s", stderr)
			require.NotContains(t, stderr, "trapped instead")
		} else {
			// No cgroup: the trap, which says so.
			require.Equal(t, map[string]int{"continue": 3, "errno:EAGAIN": 1}, answers, "stderr: %s", stderr)
			require.Contains(t, stderr, "fork and clone were trapped instead")
		}
		require.Equal(t, limit, peak, "the group never reached the cap; stderr: %s", stderr)

		// The same script without the cap reaches 10 processes.
		peak, stderr, status = runSampled(t, bin, gate, []int{limit, 10}, "run", "--", "sh", "-c", script)
		require.Equal(t, 0, status, stderr)
		require.Equal(t, 10, peak)
	})

	t.Run("AllowConnect", func(t *testing.T) {
		t.Parallel()
		peer := buildProgram(t, "netpeer")
		okPort, okCount := countingListener(t)
		badPort, badCount := countingListener(t)
		r := runCLI(t, bin, "run", "--allow-connect", "127.0.0.1:"+strconv.Itoa(okPort), "--",
			peer, "connect", strconv.Itoa(okPort), strconv.Itoa(badPort))
		r.requireStatus(t, 0)
		require.Equal(t, "connect port="+strconv.Itoa(okPort)+" ok\nconnect port="+strconv.Itoa(badPort)+" errno=ECONNREFUSED\n", r.stdout)
		require.Eventually(t, func() bool { return okCount.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
		require.Zero(t, badCount.Load(), "the refused port saw a connection")

		// --allow-bind alone leaves connect free.
		r = runCLI(t, bin, "run", "--allow-bind", "1", "--", peer, "connect", strconv.Itoa(badPort))
		r.requireStatus(t, 0)
		require.Equal(t, "connect port="+strconv.Itoa(badPort)+" ok\n", r.stdout)
	})

	t.Run("AllowBind", func(t *testing.T) {
		t.Parallel()
		peer := buildProgram(t, "netpeer")
		okPort, badPort := freePort(t), freePort(t)
		r := runCLI(t, bin, "run", "--allow-bind", strconv.Itoa(okPort), "--",
			peer, "bind", strconv.Itoa(okPort), strconv.Itoa(badPort))
		r.requireStatus(t, 0)
		require.Equal(t, "bind port="+strconv.Itoa(okPort)+" ok\nbind port="+strconv.Itoa(badPort)+" errno=EACCES\n", r.stdout)
	})

	t.Run("BadValues", func(t *testing.T) {
		t.Parallel()
		for args, msg := range map[string]string{
			"--allow-path etc":               `sandlock-go: --allow-path etc: path pattern "etc" is not absolute`,
			"--deny-path /a/[":               `sandlock-go: --deny-path /a/[: path pattern "/a/[": syntax error in pattern`,
			"--allow-exec bin/ls":            `sandlock-go: --allow-exec bin/ls: path pattern "bin/ls" is not absolute`,
			"--max-processes 0":              "sandlock-go: --max-processes 0: want a number from 1 to 1048576",
			"--allow-connect 127.0.0.1":      "sandlock-go: --allow-connect 127.0.0.1: want HOST:PORT: address 127.0.0.1: missing port in address",
			"--allow-bind 70000":             `sandlock-go: --allow-bind 70000: bad port "70000"`,
			"--profile /nonexistent/p.toml":  "sandlock-go: --profile /nonexistent/p.toml: no such file or directory",
			"--deny-path /usr --deny openat": "sandlock-go: --deny openat: openat is also decided by --allow-path/--deny-path",
		} {
			r := runCLI(t, bin, append(append([]string{"run"}, strings.Fields(args)...), "--", "true")...)
			r.requireStatus(t, 2)
			require.Equal(t, msg+"\n", r.stderr, args)
		}
	})
}

// TestCLILearn learns profiles of real programs and runs them under the
// profiles: the same run passes, anything more is denied.
func TestCLILearn(t *testing.T) {
	bin := buildCLI(t)
	hostname, err := os.ReadFile("/etc/hostname")
	require.NoError(t, err)

	t.Run("Files", func(t *testing.T) {
		t.Parallel()
		profile := filepath.Join(t.TempDir(), "cat.toml")
		r := runCLI(t, bin, "learn", "-o", profile, "--", "cat", "/etc/hostname")
		r.requireStatus(t, 0)
		require.Equal(t, string(hostname), r.stdout)
		data, err := os.ReadFile(profile)
		require.NoError(t, err)
		require.Contains(t, string(data), "\n  \"/etc/hostname\",\n")
		require.NotContains(t, string(data), "/etc/passwd")

		r = runCLI(t, bin, "run", "--profile", profile, "--", "cat", "/etc/hostname")
		r.requireStatus(t, 0)
		require.Equal(t, string(hostname), r.stdout)
		require.Empty(t, r.stderr)

		r = runCLI(t, bin, "run", "--profile", profile, "--", "cat", "/etc/hostname", "/etc/passwd")
		r.requireStatus(t, 1)
		require.Equal(t, string(hostname), r.stdout)
		require.Contains(t, r.stderr, "/etc/passwd: Permission denied")

		// --allow-path adds to the profile.
		r = runCLI(t, bin, "run", "--profile", profile, "--allow-path", "/etc/passwd", "--", "cat", "/etc/hostname", "/etc/passwd")
		r.requireStatus(t, 0)
	})

	t.Run("ExecsAndDirs", func(t *testing.T) {
		t.Parallel()
		profile := filepath.Join(t.TempDir(), "sh.toml")
		// /bin/cat: on merged-/usr systems a name whose target is
		// /usr/bin/cat; the exec policy checks both, so learn records
		// both.
		script := "/bin/cat /etc/hostname >/dev/null; ls / >/dev/null; echo done"
		r := runCLI(t, bin, "learn", "-o", profile, "--", "sh", "-c", script)
		r.requireStatus(t, 0)

		r = runCLI(t, bin, "run", "--profile", profile, "--", "sh", "-c", script)
		r.requireStatus(t, 0)
		require.Equal(t, "done\n", r.stdout)
		require.Empty(t, r.stderr)

		// A program it did not exec.
		r = runCLI(t, bin, "run", "--profile", profile, "--", "sh", "-c", "id -u")
		require.NotEqual(t, 0, r.status)
		require.Contains(t, r.stderr, "id: Permission denied")

		// ls / was learned: listing / is allowed, reading a file in a
		// directory that was not opened is not.
		r = runCLI(t, bin, "run", "--profile", profile, "--", "sh", "-c", "ls / >/dev/null && cat /etc/passwd")
		require.NotEqual(t, 0, r.status)
		require.Contains(t, r.stderr, "/etc/passwd: Permission denied")
	})

	t.Run("PlainDirectory", func(t *testing.T) {
		t.Parallel()
		// cat opens a directory without O_DIRECTORY: the profile lists
		// it with the directories, not with the files, whose rules
		// would cover the files in it.
		dir := t.TempDir()
		secret := writeFile(t, dir, "secret", "secret\n")
		profile := filepath.Join(t.TempDir(), "dir.toml")
		r := runCLI(t, bin, "learn", "-o", profile, "--", "cat", dir)
		r.requireStatus(t, 1)
		require.Contains(t, r.stderr, "Is a directory")
		data, err := os.ReadFile(profile)
		require.NoError(t, err)
		dirs := string(data)[strings.Index(string(data), "\ndirs = ["):]
		dirs = dirs[:strings.Index(dirs, "]")]
		require.Contains(t, dirs, `"`+dir+`"`)

		r = runCLI(t, bin, "run", "--profile", profile, "--", "cat", secret)
		r.requireStatus(t, 1)
		require.Empty(t, r.stdout)
		require.Contains(t, r.stderr, secret+": Permission denied")
	})

	t.Run("Network", func(t *testing.T) {
		t.Parallel()
		peer := buildProgram(t, "netpeer")
		okPort, _ := countingListener(t)
		badPort, badCount := countingListener(t)
		profile := filepath.Join(t.TempDir(), "net.toml")
		r := runCLI(t, bin, "learn", "-o", profile, "--", peer, "connect", strconv.Itoa(okPort))
		r.requireStatus(t, 0)
		require.Equal(t, "connect port="+strconv.Itoa(okPort)+" ok\n", r.stdout)
		data, err := os.ReadFile(profile)
		require.NoError(t, err)
		require.Contains(t, string(data), `"127.0.0.1:`+strconv.Itoa(okPort)+`"`)

		r = runCLI(t, bin, "run", "--profile", profile, "--", peer, "connect", strconv.Itoa(okPort), strconv.Itoa(badPort))
		r.requireStatus(t, 0)
		require.Equal(t, "connect port="+strconv.Itoa(okPort)+" ok\nconnect port="+strconv.Itoa(badPort)+" errno=ECONNREFUSED\n", r.stdout)
		require.Zero(t, badCount.Load())
	})

	t.Run("Processes", func(t *testing.T) {
		t.Parallel()
		// Both sleeps live until the shell kills them (kill is a
		// builtin): 3 tasks at once, whatever the timing.
		const twoSleeps = "sleep 60 & a=$!; sleep 60 & b=$!; kill $a $b; wait"
		profile := filepath.Join(t.TempDir(), "procs.toml")
		r := runCLI(t, bin, "learn", "--strict", "-o", profile, "--", "sh", "-c", twoSleeps)
		r.requireStatus(t, 0)
		data, err := os.ReadFile(profile)
		require.NoError(t, err)
		require.Contains(t, string(data), "[processes]\nmax = 3\n")
		// Generalized, the count doubles: fork timing varies.
		r = runCLI(t, bin, "learn", "-o", profile, "--", "sh", "-c", twoSleeps)
		r.requireStatus(t, 0)
		data, err = os.ReadFile(profile)
		require.NoError(t, err)
		require.Contains(t, string(data), "[processes]\nmax = 6\n")
	})
}

// runSampled runs sandlock-go and samples the size of the program's
// process group until it exits; it returns the largest size seen. The
// program writes its pid (its group's id) to gate+".pid" first. Each time
// the group first reaches the next of gates, a line is written to the
// FIFO gate for the program to read.
func runSampled(t *testing.T, bin, gate string, gates []int, args ...string) (peak int, stderr string, status int) {
	t.Helper()
	// Read-write: opening does not wait for the program, and what is
	// written stays in the pipe until it reads.
	_ = os.Remove(gate + ".pid") // a previous run's
	fifo, err := os.OpenFile(gate, os.O_RDWR, 0)
	require.NoError(t, err)
	defer fifo.Close()
	cmd := exec.Command(bin, args...)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	require.NoError(t, cmd.Start())
	timer := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	pgid := 0
	for {
		select {
		case <-done:
			return peak, errBuf.String(), cmd.ProcessState.ExitCode()
		default:
		}
		if pgid == 0 {
			data, _ := os.ReadFile(gate + ".pid")
			pgid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		}
		if pgid != 0 {
			peak = max(peak, groupSize(pgid))
		}
		if len(gates) > 0 && peak >= gates[0] {
			gates = gates[1:]
			_, err := fifo.WriteString("go\n")
			require.NoError(t, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
