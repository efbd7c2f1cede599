package tests

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/netpolicy"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// requireLandlockNet skips below Landlock ABI 4 (TCP rules, Linux 6.7).
func requireLandlockNet(t *testing.T) {
	t.Helper()
	abi, err := notif.LandlockABI()
	if err != nil || abi < 4 {
		t.Skipf("Landlock ABI %d: TCP rules need ABI 4 (Linux 6.7)", abi)
	}
}

// TestLandlockTCPPorts: Policy.TCPConnectPorts and TCPBindPorts alone,
// without any handler, hold in the kernel for connect and bind (also with
// AF_UNSPEC) to ports outside the lists, and the denied server never sees
// a connection; TCP Fast Open gets through Landlock and is stopped by the
// network policy above it.
func TestLandlockTCPPorts(t *testing.T) {
	requireLandlockNet(t)
	okPort, okCount := countingListener(t)
	badPort, badCount := countingListener(t)
	bindOK, bindBad := freePort(t), freePort(t)
	p := sandbox.Policy{TCPConnectPorts: []uint16{uint16(okPort)}, TCPBindPorts: []uint16{uint16(bindOK)}}

	// TCP Fast Open connects without the connect hook Landlock relies on
	// (landlock-lsm/linux#41): only the supervisor stops it.
	out := runNetattack(t, nil, p, "fastopen", strconv.Itoa(badPort))
	t.Logf("Landlock alone, sendto(MSG_FASTOPEN) to a port outside the list: %s", strings.TrimSpace(out))
	require.Eventually(t, func() bool { return badCount.Load() == 1 }, runTimeout, time.Millisecond,
		"Landlock stopped TCP Fast Open: update docs/security.md")
	badCount.Store(0)
	pol, err := netpolicy.New(netpolicy.Rules{Connect: []string{"127.0.0.1:" + strconv.Itoa(okPort)}})
	require.NoError(t, err)
	out = runNetattack(t, pol, p, "fastopen", strconv.Itoa(okPort), strconv.Itoa(badPort))
	require.Contains(t, out, netLine("fastopen", okPort, "ok"), out)
	require.Contains(t, out, netLine("fastopen", badPort, "errno=ECONNREFUSED"), out)

	b := runPolicyOnly(t, "netpeer", p, "connect", strconv.Itoa(okPort), strconv.Itoa(badPort))
	require.Contains(t, b, "connect port="+strconv.Itoa(okPort)+" ok")
	require.Contains(t, b, "connect port="+strconv.Itoa(badPort)+" errno=EACCES")

	b = runPolicyOnly(t, "netpeer", p, "bind", strconv.Itoa(bindOK), strconv.Itoa(bindBad))
	require.Contains(t, b, "bind port="+strconv.Itoa(bindOK)+" ok")
	require.Contains(t, b, "bind port="+strconv.Itoa(bindBad)+" errno=EACCES")

	out = runNetattack(t, nil, p, "unspec-bind", strconv.Itoa(bindBad))
	require.NotContains(t, out, "listening", out)

	require.Eventually(t, func() bool { return okCount.Load() >= 2 }, runTimeout, time.Millisecond)
	require.Zero(t, badCount.Load(), "the kernel let a connection to a port outside the list through")
}

// TestLandlockTCPPortsUnderBrokenSupervisor: a supervisor whose connect
// handler lets everything through (a bug) still cannot get the command a
// TCP connection to a port no rule names: the kernel layer refuses it, and
// the confined threads that act on the command's behalf carry the same
// layer.
func TestLandlockTCPPortsUnderBrokenSupervisor(t *testing.T) {
	requireLandlockNet(t)
	okPort, _ := countingListener(t)
	badPort, badCount := countingListener(t)
	cmd := sandbox.Command(buildProgram(t, "netpeer"), "connect", strconv.Itoa(badPort))
	cmd.Policy = sandbox.Policy{TCPConnectPorts: []uint16{uint16(okPort)}}
	onBehalf := make(chan error, 1)
	require.NoError(t, cmd.Handle("connect", handler.Func(func(c *handler.Ctx) handler.Action {
		err := c.AsProcess(func() {
			conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(badPort), time.Second)
			if err == nil {
				conn.Close()
			}
			onBehalf <- err
		})
		if err != nil {
			onBehalf <- err
		}
		return handler.Continue()
	})))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), out.String())
	require.Contains(t, out.String(), "connect port="+strconv.Itoa(badPort)+" errno=EACCES")
	require.ErrorIs(t, <-onBehalf, unix.EACCES, "a confined thread connected to a port outside the list")
	time.Sleep(50 * time.Millisecond)
	require.Zero(t, badCount.Load())
}

// runPolicyOnly runs victims/NAME under p, without handlers, and returns
// its output.
func runPolicyOnly(t *testing.T, name string, p sandbox.Policy, args ...string) string {
	t.Helper()
	cmd := sandbox.Command(buildProgram(t, name), args...)
	cmd.Policy = p
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), out.String())
	return out.String()
}
