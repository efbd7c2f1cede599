package notif_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// childEnv marks the re-executed test binary as the filtered child.
const childEnv = "NOTIF_TEST_CHILD"

// getppidMarker is the first argument of the child's getppid calls; the
// filter notifies only those, so the Go runtime's own syscalls run free.
const getppidMarker = 0x5eed

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		listenerChild()
		return
	}
	os.Exit(m.Run())
}

// listenerChild installs a filter notifying getppid(getppidMarker) on its
// locked thread, prints the listener's fd number, waits for a line on
// stdin, closes its own copy of the listener, makes COUNT calls and prints
// each result.
func listenerChild() {
	runtime.LockOSThread()
	count, _ := strconv.Atoi(os.Getenv(childEnv))
	arch := syscalls.Native()
	nr, err := arch.Number("getppid")
	if err != nil {
		fmt.Println("FAIL", err)
		os.Exit(1)
	}
	prog, err := (&seccomp.Filter{Arch: arch, Rules: []seccomp.Rule{{
		Syscall: nr, Action: seccomp.Notify, Conds: []seccomp.Cond{seccomp.ArgEq(0, getppidMarker)},
	}}}).Compile()
	if err != nil {
		fmt.Println("FAIL", err)
		os.Exit(1)
	}
	fd, err := seccomp.Install(prog, seccomp.InstallOptions{Listener: true})
	if err != nil {
		fmt.Println("FAIL", err)
		os.Exit(1)
	}
	fmt.Println("listener", fd)
	bufio.NewReader(os.Stdin).ReadString('\n')
	// The supervisor has its copy now; with ours gone, closing that copy
	// releases the listener.
	unix.Close(fd)
	for range count {
		r, _, errno := unix.RawSyscall(unix.SYS_GETPPID, getppidMarker, 0, 0)
		fmt.Println("result", int64(r), unix.ErrnoName(errno))
	}
	os.Exit(0)
}

type filteredChild struct {
	cmd    *exec.Cmd
	stdin  *os.File
	out    *bufio.Scanner
	l      *notif.Listener
	parent int
}

// startChild re-executes the test binary as a filtered child and copies its
// listener into this process with pidfd_getfd.
func startChild(t *testing.T, calls int) *filteredChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strconv.Itoa(calls))
	stdinR, stdinW, err := os.Pipe()
	require.NoError(t, err)
	cmd.Stdin = stdinR
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	stdinR.Close()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		stdinW.Close()
	})
	out := bufio.NewScanner(stdout)
	require.True(t, out.Scan(), "child said nothing")
	var childFD int
	_, err = fmt.Sscanf(out.Text(), "listener %d", &childFD)
	require.NoError(t, err, out.Text())

	pidfd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	require.NoError(t, err)
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, childFD, 0)
	require.NoError(t, err)
	l, err := notif.NewListener(fd)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return &filteredChild{cmd: cmd, stdin: stdinW, out: out, l: l, parent: os.Getpid()}
}

func (c *filteredChild) go_(t *testing.T) {
	_, err := c.stdin.WriteString("go\n")
	require.NoError(t, err)
}

func (c *filteredChild) result(t *testing.T) string {
	require.True(t, c.out.Scan(), "child ended early")
	return strings.TrimPrefix(c.out.Text(), "result ")
}

// TestListenerAnswers: the test answers a real child's notifications with a
// return value, an errno and CONTINUE; the child observes each.
func TestListenerAnswers(t *testing.T) {
	c := startChild(t, 3)
	require.NoError(t, c.l.SetSyncWakeUp())
	getppid, _ := syscalls.Number("getppid")
	c.go_(t)

	answers := []notif.Resp{
		{Val: 777},
		{Error: -int32(unix.EPERM)},
		{Flags: notif.RespFlagContinue},
	}
	want := []string{"777 ", "-1 EPERM", strconv.Itoa(c.parent) + " "}
	for i, a := range answers {
		var n notif.Notif
		require.NoError(t, c.l.Recv(&n))
		require.Equal(t, int32(getppid), n.Data.Nr)
		require.Equal(t, syscalls.Native().AuditArch(), n.Data.Arch)
		require.Equal(t, uint64(getppidMarker), n.Data.Args[0])
		require.Equal(t, uint32(c.cmd.Process.Pid), n.Pid)
		require.NoError(t, c.l.IDValid(n.ID))
		a.ID = n.ID
		require.NoError(t, c.l.Send(&a))
		require.Equal(t, want[i], c.result(t), "answer %d", i)
	}
	require.NoError(t, c.cmd.Wait())
	var n notif.Notif
	require.ErrorIs(t, c.l.Recv(&n), notif.ErrTargetsExited)
}

// TestListenerChildKilled: the child is killed while its notification is
// pending; Send and IDValid fail with ENOENT and nothing hangs.
func TestListenerChildKilled(t *testing.T) {
	c := startChild(t, 1)
	c.go_(t)
	var n notif.Notif
	require.NoError(t, c.l.Recv(&n))
	require.NoError(t, c.cmd.Process.Kill())
	_ = c.cmd.Wait()

	err := c.l.IDValid(n.ID)
	require.ErrorIs(t, err, notif.ErrNotificationGone)
	require.ErrorIs(t, err, unix.ENOENT)
	err = c.l.Send(&notif.Resp{ID: n.ID, Val: 1})
	require.ErrorIs(t, err, notif.ErrNotificationGone)
	require.ErrorIs(t, err, unix.ENOENT)
	require.ErrorIs(t, c.l.Recv(&n), notif.ErrTargetsExited)
}

// TestListenerShutdownWakesRecv: with the default poll() wait, Shutdown
// wakes a Recv blocked on a live, idle child; Send keeps working until
// Close.
func TestListenerShutdownWakesRecv(t *testing.T) {
	c := startChild(t, 1)
	done := make(chan error, 1)
	go func() {
		var n notif.Notif
		done <- c.l.Recv(&n)
	}()
	time.Sleep(20 * time.Millisecond)
	c.l.Shutdown()
	select {
	case err := <-done:
		require.ErrorIs(t, err, notif.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not wake Recv")
	}
	require.NoError(t, c.l.Close())
	require.NoError(t, c.l.Close(), "closing twice")
	// The child's trapped call now fails instead of hanging.
	c.go_(t)
	require.Equal(t, "-1 ENOSYS", c.result(t))
}

// TestListenerTargetsExited: TargetsExited is false while the child lives,
// true once it has exited, and false after Close.
func TestListenerTargetsExited(t *testing.T) {
	c := startChild(t, 0)
	require.False(t, c.l.TargetsExited(), "child alive")
	c.go_(t)
	require.NoError(t, c.cmd.Wait())
	require.True(t, c.l.TargetsExited(), "child exited")
	require.NoError(t, c.l.Close())
	require.False(t, c.l.TargetsExited(), "after Close")
}

// TestListenerSyncWakeUpByDefault: NewListener asks for the synchronous
// wake-up where the kernel has it, unless told NoSyncWakeUp.
func TestListenerSyncWakeUpByDefault(t *testing.T) {
	if err := notif.HaveSyncWakeUp.Check(); err != nil {
		t.Skip(err)
	}
	c := startChild(t, 0)
	require.True(t, c.l.SyncWakeUpEnabled(), "default")

	dup, err := unix.FcntlInt(uintptr(c.l.FD()), unix.F_DUPFD_CLOEXEC, 0)
	require.NoError(t, err)
	l, err := notif.NewListener(dup, notif.NoSyncWakeUp())
	require.NoError(t, err)
	defer l.Close()
	require.False(t, l.SyncWakeUpEnabled(), "NoSyncWakeUp")
}
