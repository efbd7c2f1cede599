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

// countingListener accepts and counts connections on 127.0.0.1.
func countingListener(t *testing.T) (port int, accepted *atomic.Int64) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, accepted
}

func runNetpeer(t *testing.T, pol *netpolicy.Policy, args ...string) string {
	cmd := sandbox.Command(buildProgram(t, "netpeer"), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	for _, name := range pol.Syscalls(nil) {
		require.NoError(t, cmd.Handle(name, pol))
	}
	require.NoError(t, cmd.Run(), out.String())
	return out.String()
}

// TestNetPolicyConnect: an allowed destination connects (done on the
// process's own socket by the supervisor), another is refused, and the
// denied server never sees a connection.
func TestNetPolicyConnect(t *testing.T) {
	okPort, okCount := countingListener(t)
	badPort, badCount := countingListener(t)
	pol, err := netpolicy.New(netpolicy.Rules{Connect: []string{"127.0.0.1:" + strconv.Itoa(okPort)}})
	require.NoError(t, err)
	out := runNetpeer(t, pol, "connect", strconv.Itoa(okPort), strconv.Itoa(badPort))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, out)
	require.Equal(t, "connect port="+strconv.Itoa(okPort)+" ok", lines[0])
	require.Equal(t, "connect port="+strconv.Itoa(badPort)+" errno=ECONNREFUSED", lines[1])
	require.Eventually(t, func() bool { return okCount.Load() == 1 }, runTimeout, time.Millisecond)
	require.Zero(t, badCount.Load())
}

// TestNetPolicyBind: bind is allowed by port only.
func TestNetPolicyBind(t *testing.T) {
	free := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	okPort, badPort := free(), free()
	pol, err := netpolicy.New(netpolicy.Rules{Bind: []string{strconv.Itoa(okPort)}})
	require.NoError(t, err)
	out := runNetpeer(t, pol, "bind", strconv.Itoa(okPort), strconv.Itoa(badPort))
	require.Contains(t, out, "bind port="+strconv.Itoa(okPort)+" ok")
	require.Contains(t, out, "bind port="+strconv.Itoa(badPort)+" errno=EACCES")
}

// TestNetPolicyRace: a thread flipping the port of the sockaddr between an
// allowed and a denied server never gets a connection to the denied one.
func TestNetPolicyRace(t *testing.T) {
	okPort, okCount := countingListener(t)
	badPort, badCount := countingListener(t)
	pol, err := netpolicy.New(netpolicy.Rules{Connect: []string{"127.0.0.1:" + strconv.Itoa(okPort)}})
	require.NoError(t, err)
	out := runNetpeer(t, pol, "race", strconv.Itoa(okPort), strconv.Itoa(badPort), "5000")
	t.Log(strings.TrimSpace(out))
	require.Zero(t, badCount.Load(), "the denied server was reached")
	require.Positive(t, okCount.Load())
}
