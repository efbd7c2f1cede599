package tests

// Child memory through a Ctx: every read is followed by an ID_VALID check,
// so a reused pid cannot feed another process's memory to a decision.

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/mem"
	"github.com/sandlock-go/sandlock-go/notif"
)

const nsLastPid = "/proc/sys/kernel/ns_last_pid"

// startWithPid starts the victim with args outside the sandbox as process
// pid, steering the kernel's pid allocator through ns_last_pid (root).
// It returns the command and its first output line.
func startWithPid(bin string, pid int, args ...string) (*exec.Cmd, string, error) {
	for range 50 {
		if err := os.WriteFile(nsLastPid, []byte(strconv.Itoa(pid-1)), 0); err != nil {
			return nil, "", err
		}
		cmd := exec.Command(bin, args...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, "", err
		}
		if err := cmd.Start(); err != nil {
			return nil, "", err
		}
		if cmd.Process.Pid != pid {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			continue // another fork took the pid first
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, "", err
		}
		return cmd, strings.TrimSpace(line), nil
	}
	return nil, "", fmt.Errorf("pid %d was taken by other forks 50 times", pid)
}

// The trapped child is killed while its handler runs, and its pid is given
// to a new process of the same (non-PIE) binary holding other bytes at the
// same address. Reading through the Ctx then fails with
// ErrNotificationGone, while a raw read of the pid returns the new
// process's bytes: the ID_VALID check after the read is what tells them
// apart.
func TestCtxReadAfterPidReuse(t *testing.T) {
	bin := victim(t)
	if _, err := os.Stat(nsLastPid); err != nil {
		t.Skipf("no %s: %v", nsLastPid, err)
	}
	r := newRun(t, "buffer", "trap", "first-secret")
	r.ServeOptions = &handler.Options{ShutdownGrace: runTimeout}

	type result struct {
		skip                 string
		live                 string
		liveErr              error
		addr                 string
		secondLine           string
		staleStr, staleBytes error
		raw                  string
		rawErr               error
	}
	var res result
	done := make(chan struct{})
	r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
		defer close(done)
		pid, addr := c.Pid(), c.Arg(0)
		res.addr = fmt.Sprintf("%#x", addr)
		res.live, res.liveErr = c.ReadCString(addr, 63)

		_ = unix.Kill(pid, unix.SIGKILL)
		deadline := time.Now().Add(promptly)
		for { // until Wait has reaped it
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				res.skip = "the killed child was not reaped"
				return handler.Continue()
			}
			time.Sleep(time.Millisecond)
		}
		second, line, err := startWithPid(bin, pid, "buffer", "hold", "second-secret")
		if err != nil {
			if errors.Is(err, os.ErrPermission) {
				res.skip = "cannot steer pids: " + err.Error()
			} else {
				res.skip = err.Error()
			}
			return handler.Continue()
		}
		defer func() {
			_ = second.Process.Kill()
			_ = second.Wait()
		}()
		res.secondLine = line
		_, res.staleStr = c.ReadCString(addr, 63)
		_, res.staleBytes = c.Read(addr, 13)
		res.raw, res.rawErr = mem.ReadCStringRaw(pid, addr, 63)
		return handler.Continue()
	})
	require.NoError(t, r.Start())
	_, _ = r.waitWithin(t, runTimeout, nil)
	receive(t, done, runTimeout, "handler return")

	require.NoError(t, res.liveErr)
	require.Equal(t, "first-secret", res.live)
	if res.skip != "" {
		t.Skip(res.skip)
	}
	if res.secondLine != "buffer addr="+res.addr {
		t.Skipf("the victim is position independent: %q, want buffer addr=%s", res.secondLine, res.addr)
	}
	// The scenario is real: the pid now shows the other process's bytes.
	require.NoError(t, res.rawErr)
	require.Equal(t, "second-secret", res.raw)
	// And the Ctx refuses them.
	require.ErrorIs(t, res.staleStr, notif.ErrNotificationGone)
	require.ErrorIs(t, res.staleStr, unix.ENOENT)
	require.ErrorIs(t, res.staleBytes, notif.ErrNotificationGone)
}
