package tests

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCLINetExecPolicies: the network and exec flags of `sandlock-go run`
// hold against the attackers: a UDP datagram and a TCP Fast Open
// connection to a destination --allow-connect does not name, an AF_UNSPEC
// bind of a port --allow-bind does not name, and a script whose #!
// interpreter --allow-exec does not name.
func TestCLINetExecPolicies(t *testing.T) {
	bin := buildCLI(t)
	attack := buildProgram(t, "netattack")

	t.Run("Connect", func(t *testing.T) {
		t.Parallel()
		udpOK, okCount := udpCounter(t)
		udpBad, badCount := udpCounter(t)
		tcpBad, tcpBadCount := countingListener(t)
		allow := []string{"run", "--allow-connect", "127.0.0.1:" + strconv.Itoa(udpOK), "--"}
		for _, mode := range []string{"sendto", "sendmsg", "sendmmsg"} {
			r := runCLI(t, bin, append(allow, attack, mode, strconv.Itoa(udpOK), strconv.Itoa(udpBad))...)
			r.requireStatus(t, 0)
			require.Contains(t, r.stdout, netLine(mode, udpOK, "ok"))
			require.Contains(t, r.stdout, netLine(mode, udpBad, "errno=ECONNREFUSED"))
		}
		r := runCLI(t, bin, append(allow, attack, "fastopen", strconv.Itoa(tcpBad))...)
		r.requireStatus(t, 0)
		require.Contains(t, r.stdout, netLine("fastopen", tcpBad, "errno=ECONNREFUSED"))
		require.Eventually(t, func() bool { return okCount.Load() >= 4 }, runTimeout, time.Millisecond)
		time.Sleep(50 * time.Millisecond)
		require.Zero(t, badCount.Load())
		require.Zero(t, tcpBadCount.Load())
	})

	t.Run("Bind", func(t *testing.T) {
		t.Parallel()
		ok, bad := freePort(t), freePort(t)
		r := runCLI(t, bin, "run", "--allow-bind", strconv.Itoa(ok), "--", attack, "unspec-bind", strconv.Itoa(bad))
		r.requireStatus(t, 0)
		require.Contains(t, r.stdout, netLine("unspec-bind", bad, "errno=EACCES"))
		require.NotContains(t, r.stdout, "listening")
	})

	t.Run("Exec", func(t *testing.T) {
		t.Parallel()
		execattack := buildProgram(t, "execattack")
		dir := t.TempDir()
		r := runCLI(t, bin, "run", "--allow-exec", dir, "--allow-exec", "/usr/bin/printf", "--",
			execattack, "shebang", dir, "/usr/bin/echo")
		r.requireStatus(t, 0)
		require.Equal(t, "exec errno=EACCES\n", r.stdout, r.stderr)

		dir = t.TempDir()
		r = runCLI(t, bin, "run", "--allow-exec", dir, "--allow-exec", "/usr/bin/printf", "--",
			execattack, "shebang", dir, "/usr/bin/printf")
		r.requireStatus(t, 0)
		require.Contains(t, r.stdout, "HACKED", "an allowed interpreter runs: %s", r.stderr)
	})
}
