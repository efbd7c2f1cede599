package handler_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
)

// subprocessEnv makes the test binary run subprocessMain instead of the
// tests: the Kill action aimed at a pid that kill(2) would read as a whole
// process group or as every process.
const subprocessEnv = "SANDLOCK_HANDLER_TEST_KILL_PID"

// A notification whose Pid is 0 (the task is not visible in the
// supervisor's pid namespace) or out of pid_t's range must not make Kill
// signal a process group or every process. This runs in a child in a new
// pid namespace and process group, with a sibling that such a kill would
// hit, so that a regression cannot reach anything outside.
func TestKillActionUnusablePid(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, pid := range []uint32{0, 1<<32 - 1, 1 << 31} {
		t.Run(strconv.FormatUint(uint64(pid), 10), func(t *testing.T) {
			cmd := exec.Command(exe)
			// GORACE: the race runtime otherwise sleeps 1s at exit.
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", subprocessEnv, pid), "GORACE=atexit_sleep_ms=0")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Cloneflags: syscall.CLONE_NEWPID}
			out, err := cmd.CombinedOutput()
			if err != nil && errors.Is(err, syscall.EPERM) {
				t.Skipf("cannot create a pid namespace: %v", err)
			}
			require.NoError(t, err, "%s", out)
			require.Contains(t, string(out), "sibling alive\n", "%s", out)
			require.Contains(t, string(out), "answer: error -1\n", "%s", out)
		})
	}
}

// subprocessMain runs in the child of TestKillActionUnusablePid, as pid 1
// of a new pid namespace.
func subprocessMain() int {
	pid, err := strconv.ParseUint(os.Getenv(subprocessEnv), 10, 32)
	if err != nil {
		fmt.Println(err)
		return 2
	}
	sibling := exec.Command("sleep", "60") // same process group
	if err := sibling.Start(); err != nil {
		fmt.Println(err)
		return 2
	}
	exited := make(chan struct{})
	go func() {
		_ = sibling.Wait()
		close(exited)
	}()
	defer func() {
		_ = sibling.Process.Kill()
		<-exited
	}()

	f := notif.NewFake()
	tab := handler.NewTable(nil)
	if err := tab.RegisterName("getpid", handler.Func(func(*handler.Ctx) handler.Action { return handler.Kill() })); err != nil {
		fmt.Println(err)
		return 2
	}
	done := make(chan error, 1)
	go func() { done <- handler.Serve(context.Background(), f, tab, nil) }()
	n := notif.Notif{Pid: uint32(pid)}
	n.Data.Nr = int32(mustNr("getpid"))
	n.Data.Arch = tab.Arch().AuditArch()
	id := f.Push(n)
	resp, ok := f.WaitResponse(id)
	f.Drain()
	<-done
	if !ok {
		fmt.Println("no answer")
		return 1
	}
	fmt.Printf("answer: error %d\n", resp.Error)
	select {
	case <-exited:
		fmt.Println("sibling killed")
	case <-time.After(100 * time.Millisecond):
		fmt.Println("sibling alive")
	}
	return 0
}

func mustNr(name string) int {
	nr, err := handler.NewTable(nil).Arch().Number(name)
	if err != nil {
		panic(err)
	}
	return nr
}
