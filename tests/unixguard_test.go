package tests

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler/runset"
	"github.com/sandlock-go/sandlock-go/handler/unixguard"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// unixServer serves a stream unix socket at addr (a path, or "@name") in
// the test process, outside any run: it greets each connection with
// "hello" and counts them.
func unixServer(t *testing.T, addr string) *atomic.Int64 {
	l, err := net.Listen("unix", addr)
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	accepted := new(atomic.Int64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_, _ = c.Write([]byte("hello\n"))
			c.Close()
		}
	}()
	return accepted
}

// unixDgramServer binds a datagram unix socket at addr outside any run and
// counts what it receives.
func unixDgramServer(t *testing.T, addr string) *atomic.Int64 {
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	received := new(atomic.Int64)
	go func() {
		buf := make([]byte, 64)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	return received
}

// runUnixpeer runs unixpeer in dir under g (nil: only the sandbox's own
// guard) with Policy.AllowUnix allow, and returns its lines.
func runUnixpeer(t *testing.T, g *unixguard.Guard, allow []string, dir string, args ...string) []string {
	cmd := sandbox.Command(buildProgram(t, "unixpeer"), args...)
	cmd.Dir = dir
	cmd.Policy.AllowUnix = allow
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if g != nil {
		for _, name := range g.Syscalls(nil) {
			require.NoError(t, cmd.Handle(name, g))
		}
	}
	require.NoError(t, cmd.Run(), out.String())
	t.Log(strings.TrimSpace(out.String()))
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

// TestUnixGuardOutside: a path socket and an abstract socket served
// outside the run are refused (and see no connection), an allowed path is
// reached; outside the sandbox the same program reaches both, and the
// guard's decisions show that the refusals are its own. Abstract sockets outside the run are also refused by the
// sandbox's Landlock scope (ABI 6+), so the guard's own refusal shows in
// its decisions (seccomp traps before Landlock sees the connect); that
// scope also refuses an allowed abstract name, which only the unit tests
// can show reached.
func TestUnixGuardOutside(t *testing.T) {
	dir := t.TempDir()
	tag := strconv.Itoa(os.Getpid())
	outPath := filepath.Join(dir, "daemon.sock")
	okPath := filepath.Join(dir, "allowed", "ok.sock")
	require.NoError(t, os.Mkdir(filepath.Dir(okPath), 0o755))
	outAbs := "@daemon-" + tag
	outCount, okCount, outAbsCount := unixServer(t, outPath), unixServer(t, okPath), unixServer(t, outAbs)

	var mu sync.Mutex
	var decisions []unixguard.Decision
	g, err := unixguard.New(unixguard.Options{
		Allow: []string{filepath.Dir(okPath)},
		OnDecision: func(d unixguard.Decision) {
			mu.Lock()
			decisions = append(decisions, d)
			mu.Unlock()
		},
	})
	require.NoError(t, err)
	// The sandbox's own guard must allow what the test's allows.
	lines := runUnixpeer(t, g, []string{filepath.Dir(okPath)}, dir, "connect", outPath, "daemon.sock", outAbs, okPath)
	require.Equal(t, []string{
		"connect addr=" + outPath + " errno=EACCES",
		"connect addr=daemon.sock errno=EACCES",
		"connect addr=" + outAbs + " errno=EPERM",
		"connect addr=" + okPath + " ok read=hello",
	}, lines)
	require.Eventually(t, func() bool { return okCount.Load() == 1 }, runTimeout, time.Millisecond)
	require.Zero(t, outCount.Load(), "the path socket outside the run was reached")
	require.Zero(t, outAbsCount.Load(), "the abstract socket outside the run was reached")
	mu.Lock()
	var got []string
	for _, d := range decisions {
		got = append(got, d.Address+" "+d.Reason+" "+d.Path)
	}
	mu.Unlock()
	require.Equal(t, []string{
		outPath + " outside " + outPath,
		"daemon.sock outside " + outPath,
		outAbs + " outside ",
		okPath + " allowed " + okPath,
	}, got)

	// The control: outside the sandbox, the same program reaches both
	// (the sockets are world-connectable: file modes do not refuse).
	plain := exec.Command(buildProgram(t, "unixpeer"), "connect", outPath, outAbs)
	out, err := plain.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, "connect addr="+outPath+" ok read=hello\nconnect addr="+outAbs+" ok read=hello\n", string(out))
}

// TestUnixGuardDatagrams: sendto, sendmsg and sendmmsg with a destination
// outside the run are refused and deliver nothing (the abstract ones by the
// Landlock scope too).
func TestUnixGuardDatagrams(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log.sock")
	abs := "@log-" + strconv.Itoa(os.Getpid())
	got, gotAbs := unixDgramServer(t, path), unixDgramServer(t, abs)
	g, err := unixguard.New(unixguard.Options{})
	require.NoError(t, err)
	lines := runUnixpeer(t, g, nil, dir, "dgram", path, abs)
	require.Equal(t, []string{
		"sendto addr=" + path + " errno=EACCES",
		"sendmsg addr=" + path + " errno=EACCES",
		"sendmmsg addr=" + path + " errno=EACCES",
		"sendto addr=" + abs + " errno=EPERM",
		"sendmsg addr=" + abs + " errno=EPERM",
		"sendmmsg addr=" + abs + " errno=EPERM",
	}, lines)
	time.Sleep(50 * time.Millisecond)
	require.Zero(t, got.Load())
	require.Zero(t, gotAbs.Load())
}

// TestUnixGuardOwnSockets: sockets the run binds itself are reached, by
// the process that bound them (a relative path, an abstract name, a
// datagram socket) and by another process of the run; here with the
// membership sandbox should pass (the command's process group).
func TestUnixGuardOwnSockets(t *testing.T) {
	dir := t.TempDir()
	var cmdPid atomic.Int64
	g, err := unixguard.New(unixguard.Options{
		// The command may connect before Start returns and the pid is
		// stored: the membership waits for it (Start does not wait on
		// these handlers).
		InRun: runset.ProcessGroupOf(func() int {
			for cmdPid.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			return int(cmdPid.Load())
		}),
	})
	require.NoError(t, err)
	cmd := sandbox.Command(buildProgram(t, "unixpeer"), "self")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	for _, name := range g.Syscalls(nil) {
		require.NoError(t, cmd.Handle(name, g))
	}
	require.NoError(t, cmd.Start())
	cmdPid.Store(int64(cmd.Process.Pid))
	require.NoError(t, cmd.Wait(), out.String())
	t.Log(out.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 5, out.String())
	require.Equal(t, "connect addr=./self.sock ok", lines[0])
	require.Regexp(t, `^connect addr=@self-\d+ ok$`, lines[1])
	require.Equal(t, []string{"sendto addr=selfd.sock ok", "sendmsg addr=selfd.sock ok", "sendmmsg addr=selfd.sock ok"}, lines[2:])

	// Another process of the run holds the socket (default membership),
	// and the sandbox's own guard alone.
	lines = runUnixpeer(t, nil, nil, dir, "pair")
	require.Len(t, lines, 2)
	require.Regexp(t, `^connect addr=pair-\d+\.sock ok$`, lines[0])
	require.Regexp(t, `^connect addr=@pair-\d+ ok$`, lines[1])
	g, err = unixguard.New(unixguard.Options{})
	require.NoError(t, err)
	lines = runUnixpeer(t, g, nil, dir, "pair")
	require.Len(t, lines, 2)
	require.Regexp(t, `^connect addr=pair-\d+\.sock ok$`, lines[0])
	require.Regexp(t, `^connect addr=@pair-\d+ ok$`, lines[1])
}

// TestUnixGuardFailsClosed: a membership that holds for nobody makes the
// run's own sockets strangers: the guard never lets a socket through on a
// guess.
func TestUnixGuardFailsClosed(t *testing.T) {
	g, err := unixguard.New(unixguard.Options{InRun: func(int) bool { return false }})
	require.NoError(t, err)
	lines := runUnixpeer(t, g, nil, t.TempDir(), "self")
	require.Len(t, lines, 5)
	require.Equal(t, "connect addr=./self.sock errno=EACCES", lines[0])
	require.Regexp(t, `^connect addr=@self-\d+ errno=EPERM$`, lines[1])
	require.Equal(t, "sendto addr=selfd.sock errno=EACCES", lines[2])
}
