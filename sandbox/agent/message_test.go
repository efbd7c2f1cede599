package agent_test

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/sandbox/agent"
)

const goodState = `{"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":4242,` +
	`"metadata":"profile=web","state":{"ociVersion":"1.0.2-dev","id":"c1","status":"creating","bundle":"/b"}}`

// exchange sends parts (each with its descriptors) from a fake runtime over
// a socketpair, closes the runtime's end, and returns what ReadMessage
// read on the other.
func exchange(t *testing.T, parts []string, fds [][]int) (agent.State, int, error) {
	t.Helper()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	f := os.NewFile(uintptr(sp[0]), "agent end")
	c, err := net.FileConn(f)
	f.Close()
	require.NoError(t, err)
	defer c.Close()
	for i, p := range parts {
		var oob []byte
		if i < len(fds) && len(fds[i]) > 0 {
			oob = unix.UnixRights(fds[i]...)
		}
		require.NoError(t, unix.Sendmsg(sp[1], []byte(p), oob, nil, 0))
	}
	unix.Close(sp[1])
	uc := c.(*net.UnixConn)
	require.NoError(t, uc.SetReadDeadline(time.Now().Add(2*time.Second)))
	return agent.ReadMessage(uc)
}

func pipeFD(t *testing.T) int {
	t.Helper()
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
	unix.Close(p[1])
	t.Cleanup(func() { unix.Close(p[0]) })
	return p[0]
}

// TestReadMessage: a fake runtime sends good and bad messages; each bad one
// is rejected with its error class and no descriptor is left open.
func TestReadMessage(t *testing.T) {
	lfd := realListener(t)
	defer unix.Close(lfd)
	pfd := pipeFD(t)

	cases := []struct {
		name  string
		parts []string
		fds   [][]int
		err   error
		id    string // container id known in the error
	}{
		{name: "good", parts: []string{goodState}, fds: [][]int{{lfd}}},
		{name: "good in pieces", parts: []string{goodState[:20], goodState[20:70], goodState[70:]}, fds: [][]int{{lfd}}},
		{name: "two fds named", parts: []string{`{"ociVersion":"1.1.0","fds":["other","seccompFd"],"pid":7,"state":{"id":"c2"}}`}, fds: [][]int{{pfd, lfd}}},
		{name: "malformed JSON", parts: []string{`{"ociVersion":"1.0.2",`, `]`}, fds: [][]int{{lfd}}, err: agent.ErrMalformed},
		{name: "not an object", parts: []string{`[1,2,3]`}, fds: [][]int{{lfd}}, err: agent.ErrMalformed},
		{name: "no fd", parts: []string{goodState}, err: agent.ErrBadFDs, id: "c1"},
		{name: "more fds than named", parts: []string{goodState}, fds: [][]int{{lfd, pfd}}, err: agent.ErrBadFDs, id: "c1"},
		{name: "fd in a second message", parts: []string{goodState[:10], goodState[10:]}, fds: [][]int{{lfd}, {pfd}}, err: agent.ErrBadFDs, id: "c1"},
		{name: "no seccompFd name", parts: []string{`{"ociVersion":"1.0.2","fds":["x"],"pid":7,"state":{"id":"c3"}}`}, fds: [][]int{{lfd}}, err: agent.ErrBadFDs, id: "c3"},
		{name: "seccompFd twice", parts: []string{`{"ociVersion":"1.0.2","fds":["seccompFd","seccompFd"],"pid":7,"state":{"id":"c3"}}`}, fds: [][]int{{lfd, lfd}}, err: agent.ErrBadFDs, id: "c3"},
		{name: "not a listener", parts: []string{goodState}, fds: [][]int{{pfd}}, err: agent.ErrNotListener, id: "c1"},
		{name: "unknown version", parts: []string{`{"ociVersion":"2.0.0","fds":["seccompFd"],"pid":7,"state":{"id":"c4"}}`}, fds: [][]int{{lfd}}, err: agent.ErrUnknownVersion, id: "c4"},
		{name: "no version", parts: []string{`{"fds":["seccompFd"],"pid":7,"state":{"id":"c4"}}`}, fds: [][]int{{lfd}}, err: agent.ErrUnknownVersion},
		{name: "no pid", parts: []string{`{"ociVersion":"1.0.2","fds":["seccompFd"],"state":{"id":"c5"}}`}, fds: [][]int{{lfd}}, err: agent.ErrInvalidState, id: "c5"},
		{name: "no id", parts: []string{`{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":7,"state":{}}`}, fds: [][]int{{lfd}}, err: agent.ErrInvalidState},
		{name: "id with control characters", parts: []string{`{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":7,"state":{"id":"a\nb"}}`}, fds: [][]int{{lfd}}, err: agent.ErrInvalidState},
		{name: "early disconnect", parts: []string{goodState[:40]}, fds: [][]int{{lfd}}, err: agent.ErrMalformed},
		{name: "empty connection", err: agent.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := openFDs(t)
			st, fd, err := exchange(t, tc.parts, tc.fds)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.Equal(t, -1, fd)
				if tc.id != "" {
					require.Contains(t, err.Error(), tc.id, "the log names the container")
				}
				require.Equal(t, before, openFDs(t), "descriptors leaked")
				return
			}
			require.NoError(t, err)
			require.NoError(t, agent.CheckListener(fd))
			require.Equal(t, before+1, openFDs(t), "only the listener is kept")
			require.NoError(t, unix.Close(fd))
			require.NotEmpty(t, st.State.ID)
		})
	}
}

// TestReadMessageTimeout: a runtime that connects and says nothing is cut
// off at the deadline.
func TestReadMessageTimeout(t *testing.T) {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(sp[1])
	f := os.NewFile(uintptr(sp[0]), "agent end")
	c, err := net.FileConn(f)
	f.Close()
	require.NoError(t, err)
	defer c.Close()
	uc := c.(*net.UnixConn)
	require.NoError(t, uc.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	_, _, err = agent.ReadMessage(uc)
	require.ErrorIs(t, err, agent.ErrMalformed)
	require.Contains(t, err.Error(), "timeout")
}

// TestReadMessageTooManyFDs: more descriptors than the control buffer
// holds give MSG_CTRUNC; the ones that arrived are closed.
func TestReadMessageTooManyFDs(t *testing.T) {
	pfd := pipeFD(t)
	many := make([]int, 40)
	for i := range many {
		many[i] = pfd
	}
	before := openFDs(t)
	_, _, err := exchange(t, []string{goodState}, [][]int{many})
	require.ErrorIs(t, err, agent.ErrBadFDs)
	require.Equal(t, before, openFDs(t), "descriptors leaked")
}

func TestMetadataValue(t *testing.T) {
	st := agent.State{Metadata: "profile=web, team=a;x"}
	v, ok := st.MetadataValue("profile")
	require.True(t, ok)
	require.Equal(t, "web", v)
	v, ok = st.MetadataValue("team")
	require.True(t, ok)
	require.Equal(t, "a", v)
	_, ok = st.MetadataValue("x")
	require.False(t, ok)
	_, ok = agent.State{}.MetadataValue("profile")
	require.False(t, ok)
}

func TestCheckListener(t *testing.T) {
	require.ErrorIs(t, agent.CheckListener(pipeFD(t)), agent.ErrNotListener)
	require.ErrorIs(t, agent.CheckListener(-1), agent.ErrNotListener)
	fd := realListener(t)
	defer unix.Close(fd)
	require.NoError(t, agent.CheckListener(fd))
}
