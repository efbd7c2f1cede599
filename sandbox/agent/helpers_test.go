package agent_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/sandbox/agent"
	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Environment of the re-executed test binary.
const (
	childEnv   = "AGENT_TEST_CHILD"  // "hold" or "runtime"
	sockEnv    = "AGENT_TEST_SOCKET" // runtime: the agent's socket
	idEnv      = "AGENT_TEST_ID"     // runtime: the container id
	callsEnv   = "AGENT_TEST_CALLS"  // runtime: getppid calls to make
	metaEnv    = "AGENT_TEST_META"   // runtime: listenerMetadata
	stepEnv    = "AGENT_TEST_STEP"   // runtime: wait for a line on stdin before each call
	getppidArg = 0x5eed              // only getppid(getppidArg) is trapped
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "hold":
		holdChild()
	case "runtime":
		runtimeChild()
	default:
		os.Exit(m.Run())
	}
}

// installFilter installs, on the calling locked thread, a filter that
// notifies getppid(getppidArg), and returns the listener.
func installFilter() int {
	runtime.LockOSThread()
	arch := syscalls.Native()
	nr, err := arch.Number("getppid")
	if err != nil {
		fmt.Println("FAIL", err)
		os.Exit(1)
	}
	prog, err := (&seccomp.Filter{Arch: arch, Rules: []seccomp.Rule{{
		Syscall: nr, Action: seccomp.Notify, Conds: []seccomp.Cond{seccomp.ArgEq(0, getppidArg)},
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
	return fd
}

// holdChild installs the filter, prints the listener's number and waits
// for stdin to close.
func holdChild() {
	fd := installFilter()
	fmt.Println("listener", fd)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	os.Exit(0)
}

// runtimeChild plays runc: it installs the filter, sends the state and the
// listener to the agent's socket, closes its copy, then makes the calls
// and prints each result.
func runtimeChild() {
	fd := installFilter()
	msg, _ := json.Marshal(agent.State{
		OCIVersion: "1.0.2", FDs: []string{agent.SeccompFdName}, Pid: os.Getpid(),
		Metadata: os.Getenv(metaEnv),
		State:    agent.ContainerState{OCIVersion: "1.0.2", ID: os.Getenv(idEnv), Status: "creating", Bundle: "/nonexistent"},
	})
	if err := send(os.Getenv(sockEnv), msg, fd); err != nil {
		fmt.Println("FAIL", err)
		os.Exit(1)
	}
	unix.Close(fd)
	calls, _ := strconv.Atoi(os.Getenv(callsEnv))
	in := bufio.NewReader(os.Stdin)
	for range calls {
		if os.Getenv(stepEnv) != "" {
			if _, err := in.ReadString('\n'); err != nil {
				os.Exit(0)
			}
		}
		r, _, errno := unix.RawSyscall(unix.SYS_GETPPID, getppidArg, 0, 0)
		fmt.Println("result", int64(r), unix.ErrnoName(errno))
	}
	os.Exit(0)
}

// send connects to path and sends msg with fds, as a runtime does.
func send(path string, msg []byte, fds ...int) error {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return err
	}
	defer c.Close()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err = c.WriteMsgUnix(msg, oob, nil)
	return err
}

// realListener returns a seccomp listener fd owned by the test: a copy of
// a child's, taken with pidfd_getfd. The child lives until the test ends.
func realListener(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=hold")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
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
	return fd
}

// container is a runtimeChild.
type container struct {
	cmd   *exec.Cmd
	out   *bufio.Scanner
	stdin io.WriteCloser // stepped containers only
}

func startContainer(t *testing.T, sock, id, meta string, calls int) *container {
	t.Helper()
	return startContainerEnv(t, sock, id, meta, calls)
}

// startSteppedContainer starts a container that makes each call when
// step is called.
func startSteppedContainer(t *testing.T, sock, id string, calls int) *container {
	t.Helper()
	return startContainerEnv(t, sock, id, "", calls, stepEnv+"=1")
}

func (c *container) step(t *testing.T) {
	t.Helper()
	_, err := io.WriteString(c.stdin, "go\n")
	require.NoError(t, err)
}

func startContainerEnv(t *testing.T, sock, id, meta string, calls int, env ...string) *container {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=runtime", sockEnv+"="+sock, idEnv+"="+id,
		metaEnv+"="+meta, callsEnv+"="+strconv.Itoa(calls))
	cmd.Env = append(cmd.Env, env...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return &container{cmd: cmd, out: bufio.NewScanner(stdout), stdin: stdin}
}

// result returns the next call's "VALUE ERRNO", waiting at most 10s.
func (c *container) result(t *testing.T) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		if c.out.Scan() {
			got <- strings.TrimPrefix(c.out.Text(), "result ")
		} else {
			got <- "EOF"
		}
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no result from the container in 10s")
		return ""
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

// eventually waits up to 5s for cond.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("after 5s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fmtLine(f string, args ...any) string { return fmt.Sprintf(f, args...) }
