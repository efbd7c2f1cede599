package tests

// Scenario 7: the supervisor process dies (SIGKILL).

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// supervisorEnv makes TestReliabilitySupervisorProcess the supervisor of
// the command in its arguments (after --); its value is the handler mode.
const supervisorEnv = "SANDLOCK_GO_RELIABILITY_SUPERVISOR"

// pdeathBound is how long the command may outlive its supervisor.
const pdeathBound = 2 * time.Second

// TestReliabilitySupervisorDeath: a supervisor (the CLI binary, or this
// test binary re-executed as a small library supervisor) runs a victim
// whose 4 threads make trapped calls without pause; the supervisor is
// SIGKILLed. The victim dies within pdeathBound (PR_SET_PDEATHSIG) and no
// live process is left in its process group.
//
// "descendant" is the documented limit (docs/security.md): a process the
// command started does not get the signal; it keeps running, but its
// trapped syscalls fail with ENOSYS from then on. The test checks exactly
// that, then kills it.
func TestReliabilitySupervisorDeath(t *testing.T) {
	bin := hostile(t)
	cli := buildSandlockGo(t)
	rounds := pick(1, 20)
	supervisors := map[string]func(args ...string) *exec.Cmd{
		"cli": func(args ...string) *exec.Cmd {
			return exec.Command(cli, append([]string{"run", "--on", "getppid=ret:777", "--"}, args...)...)
		},
		"library": func(args ...string) *exec.Cmd {
			c := exec.Command(os.Args[0], append([]string{"-test.run=^TestReliabilitySupervisorProcess$", "--"}, args...)...)
			c.Env = append(os.Environ(), supervisorEnv+"=777")
			return c
		},
	}
	for _, name := range []string{"cli", "library"} {
		t.Run(name, func(t *testing.T) {
			var worst time.Duration
			for round := range rounds {
				worst = max(worst, supervisorKilled(t, supervisors[name], bin, round))
			}
			if rounds > 1 {
				figure(t, "%d rounds, the command dead at most %s after the supervisor's SIGKILL", rounds, worst)
			}
		})
	}
	t.Run("descendant", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "child.log")
		sup := supervisors["cli"](bin, "spin", "777", "4", file)
		lines := startSupervisor(t, sup)
		got := waitLines(t, lines, "spin-child pid=", "spin pid=") // in any order
		child := lineField(t, got["spin-child pid="], "spin-child pid=", "pid")
		defer unix.Kill(child, unix.SIGKILL)
		waitFor(t, runTimeout, func() string { return "the child's first answer" }, func() bool {
			data, _ := os.ReadFile(file)
			return strings.Contains(string(data), "ret=777 errno=0\n")
		})
		require.NoError(t, sup.Process.Kill())
		_ = sup.Wait()
		waitFor(t, runTimeout, func() string {
			data, _ := os.ReadFile(file)
			return "ENOSYS from the child's trapped call after the supervisor died; log:\n" + string(data)
		}, func() bool {
			data, _ := os.ReadFile(file)
			return strings.Contains(string(data), "errno=ENOSYS\n")
		})
		require.False(t, processGone(child), "the descendant keeps running (the documented limit)")
		figure(t, "descendant of the command after the supervisor's SIGKILL: still running, its trapped getppid fails with ENOSYS (documented limit); killed by the test")
	})
}

// TestReliabilitySupervisorStopped: the supervisor (this test binary
// re-executed) answers 4,000 opens (10,000 with -long) of the victim with injected eventfds
// while the test stops and continues it (SIGSTOP/SIGCONT) every
// millisecond or so. A stop interrupts the supervisor's ADDFD ioctl, which
// signal masks cannot prevent; every open must still return the eventfd.
func TestReliabilitySupervisorStopped(t *testing.T) {
	rounds := pick(1, 10)
	total, stops := 0, 0
	for range rounds {
		n, s := supervisorStopped(t)
		total += n
		stops += s
	}
	figure(t, "%d injected opens in %d runs while the supervisor was stopped and continued %d times: all the eventfd", total, rounds, stops)
}

// supervisorStopped runs 4 threads' injected opens and returns their
// number and the number of stops.
func supervisorStopped(t *testing.T) (int, int) {
	const threads = 4
	iters := pick(1000, 2500)
	sup := exec.Command(os.Args[0], "-test.run=^TestReliabilitySupervisorProcess$", "--",
		hostile(t), "inject", strconv.Itoa(threads), strconv.Itoa(iters))
	sup.Env = append(os.Environ(), supervisorEnv+"=inject")
	lines := startSupervisor(t, sup)
	got := waitLines(t, lines, "supervisor pid=", "inject pid=") // in any order
	pid := lineField(t, got["supervisor pid="], "supervisor pid=", "pid")
	done := make(chan struct{})
	stops := 0
	go func() {
		defer close(done)
		for unix.Kill(pid, unix.SIGSTOP) == nil {
			time.Sleep(200 * time.Microsecond)
			_ = unix.Kill(pid, unix.SIGCONT)
			stops++
			time.Sleep(time.Millisecond)
		}
	}()
	result := waitLine(t, lines, "inject opens=")
	counter := waitLineField(t, lines, "supervisor eventfd=", "eventfd")
	require.NoError(t, sup.Wait())
	<-done
	f := fields(t, result, "inject opens=")
	require.Zero(t, intField(t, f, "bad"), "descriptors that were not the injected eventfd: %s", result)
	require.Zero(t, intField(t, f, "other"), result)
	require.Equal(t, threads*iters, intField(t, f, "opens"), result)
	require.Equal(t, threads*iters, counter)
	require.Equal(t, intField(t, f, "fds-start"), intField(t, f, "fds-end"))
	return threads * iters, stops
}

// supervisorKilled runs one round and returns how long the command
// outlived its supervisor.
func supervisorKilled(t *testing.T, newSup func(args ...string) *exec.Cmd, bin string, round int) time.Duration {
	sup := newSup(bin, "spin", "777", "4")
	lines := startSupervisor(t, sup)
	line := waitLine(t, lines, "spin pid=")
	pid, pgid := lineField(t, line, "spin pid=", "pid"), lineField(t, line, "spin pid=", "pgid")
	if pgid == pid && pgid != unix.Getpgrp() {
		defer unix.Kill(-pgid, unix.SIGKILL) // only if the test failed
	} else {
		defer unix.Kill(pid, unix.SIGKILL)
	}
	require.Equal(t, pid, pgid, "the command leads its process group")
	require.False(t, processGone(pid))

	start := time.Now()
	require.NoError(t, sup.Process.Kill())
	_ = sup.Wait()
	waitProcessExit(t, pid, pdeathBound)
	died := time.Since(start)
	waitFor(t, pdeathBound, func() string { return fmt.Sprintf("live processes in group %d: %v", pgid, groupMembers(pgid)) },
		func() bool { return len(groupMembers(pgid)) == 0 })
	if round == 0 {
		figure(t, "supervisor SIGKILLed: command %d (4 threads in trapped calls) dead %s later, process group %d empty", pid, died.Round(time.Microsecond), pgid)
	}
	return died
}

// startSupervisor starts sup with its stdout scanned into the returned
// channel of lines, and kills it when the test ends. The read end of the
// pipe stays open until then (exec.Cmd.Wait would close it), so that the
// command never dies of SIGPIPE instead of its supervisor's death signal.
func startSupervisor(t *testing.T, sup *exec.Cmd) <-chan string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	sup.Stdout, sup.Stderr = w, os.Stderr
	err = sup.Start()
	w.Close()
	if err != nil {
		r.Close()
		require.NoError(t, err)
	}
	lines := make(chan string, 1024)
	var mu sync.Mutex
	var victims []int // every victim pid a line named
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			for _, w := range strings.Fields(line) {
				k, v, _ := strings.Cut(w, "=")
				if pid, err := strconv.Atoi(v); err == nil && (k == "pid" || k == "child") && strings.HasPrefix(line, "spin") {
					mu.Lock()
					victims = append(victims, pid)
					mu.Unlock()
				}
			}
			select {
			case lines <- line:
			default: // nobody listens any more
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	t.Cleanup(func() {
		_ = sup.Process.Kill()
		_ = sup.Wait()
		// Whatever failed, no victim outlives the test.
		mu.Lock()
		defer mu.Unlock()
		for _, pid := range victims {
			if cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); err == nil && strings.Contains(string(cmdline), "hostile") {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		r.Close()
	})
	return lines
}

// waitLineField waits for a line starting with prefix and returns its
// integer key=value field.
func waitLineField(t *testing.T, lines <-chan string, prefix, key string) int {
	t.Helper()
	return lineField(t, waitLine(t, lines, prefix), prefix, key)
}

// waitLine waits for a line starting with prefix; the lines before it
// are dropped.
func waitLine(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	return waitLines(t, lines, prefix)[prefix]
}

// waitLines waits until a line starting with each prefix has come, in any
// order, and returns the first of each by prefix.
func waitLines(t *testing.T, lines <-chan string, prefixes ...string) map[string]string {
	t.Helper()
	found := map[string]string{}
	deadline := time.After(runTimeout)
	var seen []string
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("no lines %q before EOF; got:\n%s", prefixes, strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			for _, p := range prefixes {
				if _, ok := found[p]; !ok && strings.HasPrefix(line, p) {
					found[p] = line
				}
			}
			if len(found) == len(prefixes) {
				return found
			}
		case <-deadline:
			t.Fatalf("no lines %q within %s; got:\n%s", prefixes, runTimeout, strings.Join(seen, "\n"))
		}
	}
}

// groupMembers returns the live (not zombie) processes of process group
// pgid.
func groupMembers(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:]) // state ppid pgrp ...
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// buildSandlockGo builds cmd/sandlock-go into a directory that lives as
// long as t (the go build cache makes it quick).
func buildSandlockGo(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sandlock-go")
	build := exec.Command(goTool(), "build", "-o", bin, "github.com/sandlock-go/sandlock-go/cmd/sandlock-go")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// TestReliabilitySupervisorProcess is not a test: with supervisorEnv set,
// TestReliabilitySupervisorDeath runs this test binary as a small
// supervisor of the command after --. Modes: a number N answers
// getppid(magicValue, x) with N; "inject" answers opens of injectPath
// with an eventfd (and prints its counter at the end).
func TestReliabilitySupervisorProcess(t *testing.T) {
	mode := os.Getenv(supervisorEnv)
	if mode == "" {
		t.Skip("the supervisor process of TestReliabilitySupervisorDeath and TestReliabilitySupervisorStopped")
	}
	args := flag.Args()
	require.NotEmpty(t, args)
	cmd := sandbox.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	var efd int
	if mode == "inject" {
		var err error
		efd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		require.NoError(t, err)
		require.NoError(t, cmd.Handle("openat", handler.Func(func(c *handler.Ctx) handler.Action {
			if p, err := c.ReadCString(c.Arg(1), 64); err != nil || p != injectPath {
				return handler.Continue()
			}
			fd, err := unix.FcntlInt(uintptr(efd), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				panic(err)
			}
			return handler.InjectFD(fd, unix.O_CLOEXEC)
		})))
	} else {
		answer, err := strconv.ParseInt(mode, 10, 64)
		require.NoError(t, err)
		require.NoError(t, cmd.Handle("getppid", handler.Func(func(c *handler.Ctx) handler.Action {
			if c.Arg(0) != magicValue {
				return handler.Continue()
			}
			return handler.ReturnValue(answer)
		})))
	}
	require.NoError(t, cmd.Start())
	fmt.Printf("supervisor pid=%d command=%d\n", os.Getpid(), cmd.Process.Pid)
	err := cmd.Wait()
	if mode == "inject" {
		var counter [8]byte
		_, _ = unix.Read(efd, counter[:])
		fmt.Printf("supervisor eventfd=%d\n", binary.NativeEndian.Uint64(counter[:]))
	}
	require.NoError(t, err)
}
