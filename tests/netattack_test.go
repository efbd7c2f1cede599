package tests

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler/netpolicy"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// udpCounter receives datagrams on 127.0.0.1 and counts those of
// tests/victims/netattack.
func udpCounter(t *testing.T) (port int, received *atomic.Int64) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	received = new(atomic.Int64)
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if bytes.Equal(buf[:n], []byte("NETATTACK")) {
				received.Add(1)
			}
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).Port, received
}

// runNetattack runs tests/victims/netattack under pol (every syscall of
// pol.Syscalls) and p, and returns its output.
func runNetattack(t *testing.T, pol *netpolicy.Policy, p sandbox.Policy, args ...string) string {
	t.Helper()
	cmd := sandbox.Command(buildProgram(t, "netattack"), args...)
	cmd.Policy = p
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if pol != nil {
		for _, name := range pol.Syscalls(nil) {
			require.NoError(t, cmd.Handle(name, pol))
		}
	}
	require.NoError(t, cmd.Run(), out.String())
	return out.String()
}

func netLine(mode string, port int, result string) string {
	return mode + " port=" + strconv.Itoa(port) + " " + result
}

// TestNetPolicyAttacks: every way of reaching an endpoint that a connect
// policy does not name, and of binding a port that a bind policy does not
// name, is refused, and the denied peer never sees a packet; the allowed
// peer is reached by the same calls (performed on the process's socket by
// the supervisor).
func TestNetPolicyAttacks(t *testing.T) {
	tcpOK, tcpOKCount := countingListener(t)
	tcpBad, tcpBadCount := countingListener(t)
	udpOK, udpOKCount := udpCounter(t)
	udpBad, udpBadCount := udpCounter(t)
	pol, err := netpolicy.New(netpolicy.Rules{
		Connect: []string{"127.0.0.1:" + strconv.Itoa(tcpOK), "127.0.0.1:" + strconv.Itoa(udpOK)},
		Bind:    []string{strconv.Itoa(freePort(t))},
	})
	require.NoError(t, err)

	t.Run("FastOpen", func(t *testing.T) {
		out := runNetattack(t, pol, sandbox.Policy{}, "fastopen", strconv.Itoa(tcpOK), strconv.Itoa(tcpBad))
		require.Contains(t, out, netLine("fastopen", tcpOK, "ok"), out)
		require.Contains(t, out, netLine("fastopen", tcpBad, "errno=ECONNREFUSED"), out)
		require.Eventually(t, func() bool { return tcpOKCount.Load() >= 1 }, runTimeout, time.Millisecond)
		require.Zero(t, tcpBadCount.Load(), "the denied server was reached by sendto(MSG_FASTOPEN)")
	})
	for _, mode := range []string{"sendto", "sendmsg", "sendmmsg", "sendto-unspec"} {
		t.Run(mode, func(t *testing.T) {
			before := udpOKCount.Load()
			out := runNetattack(t, pol, sandbox.Policy{}, mode, strconv.Itoa(udpOK), strconv.Itoa(udpBad))
			require.NotContains(t, out, netLine(mode, udpBad, "ok"), out)
			if mode != "sendto-unspec" {
				require.Contains(t, out, netLine(mode, udpOK, "ok"), out)
				require.NotContains(t, out, "msg_len", out)
				require.Eventually(t, func() bool { return udpOKCount.Load() > before }, runTimeout, time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			require.Zero(t, udpBadCount.Load(), "the denied peer received a datagram: %s", out)
		})
	}
	t.Run("UnspecBind", func(t *testing.T) {
		port := freePort(t)
		out := runNetattack(t, pol, sandbox.Policy{}, "unspec-bind", strconv.Itoa(port))
		require.Contains(t, out, netLine("unspec-bind", port, "errno=EACCES"), out)
		require.NotContains(t, out, "listening")
	})
	t.Run("UnspecConnect", func(t *testing.T) {
		// connect(AF_UNSPEC) dissociates a UDP socket: it reaches no
		// endpoint and keeps working.
		out := runNetattack(t, pol, sandbox.Policy{}, "unspec-connect", strconv.Itoa(udpOK))
		require.Contains(t, out, netLine("unspec-connect", udpOK, "errno=EDESTADDRREQ"), out)
	})
	t.Run("SCTP", func(t *testing.T) {
		// SCTP reaches endpoints through setsockopt (sctp_connectx),
		// which no trap on connect sees: the socket is refused.
		out := runNetattack(t, pol, sandbox.Policy{}, "sctp")
		require.Contains(t, out, "sctp errno=EACCES", out)
	})
}

// TestNetPolicySendRace: a thread flipping msg_name between the allowed
// peer, the denied one and NULL while another sends never gets a datagram
// to the denied peer: the supervisor sends its own copy of the message.
func TestNetPolicySendRace(t *testing.T) {
	udpOK, okCount := udpCounter(t)
	udpBad, badCount := udpCounter(t)
	pol, err := netpolicy.New(netpolicy.Rules{Connect: []string{"127.0.0.1:" + strconv.Itoa(udpOK)}})
	require.NoError(t, err)
	out := runNetattack(t, pol, sandbox.Policy{}, "race", strconv.Itoa(udpOK), strconv.Itoa(udpBad), "20000")
	t.Log(strings.TrimSpace(out))
	time.Sleep(100 * time.Millisecond)
	require.Zero(t, badCount.Load(), "the denied peer was reached")
	require.Positive(t, okCount.Load())
}
