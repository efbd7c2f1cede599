package agent_test

import (
	"context"
	"net"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox/agent"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// testAgent is an agent listening on a socket in a temp dir, serving
// getppid with h, with its events recorded.
type testAgent struct {
	*agent.Agent
	sock     string
	served   chan agent.State
	done     chan agent.State
	logs     chan string
	serveErr chan error
}

func startAgent(t *testing.T, h func(agent.State) handler.Handler) *testAgent {
	t.Helper()
	ta := &testAgent{
		sock:     filepath.Join(t.TempDir(), "agent.sock"),
		served:   make(chan agent.State, 16),
		done:     make(chan agent.State, 16),
		logs:     make(chan string, 64),
		serveErr: make(chan error, 1),
	}
	ta.Agent = agent.New(func(st agent.State) (*handler.Table, *handler.Options, error) {
		tab := handler.NewTable(syscalls.Native())
		if err := tab.RegisterName("getppid", h(st)); err != nil {
			return nil, nil, err
		}
		return tab, &handler.Options{Workers: 2, ShutdownGrace: 200 * time.Millisecond}, nil
	}, &agent.Options{
		Logf: func(f string, args ...any) {
			select {
			case ta.logs <- fmtLine(f, args...):
			default:
			}
			t.Logf(f, args...)
		},
		OnServe:     func(st agent.State) { ta.served <- st },
		OnDone:      func(st agent.State, _ error) { ta.done <- st },
		ReadTimeout: 500 * time.Millisecond,
	})
	l, err := agent.Listen(ta.sock)
	require.NoError(t, err)
	go func() { ta.serveErr <- ta.Serve(l) }()
	t.Cleanup(func() { ta.Close() })
	return ta
}

// TestAgentServesContainers: two "containers" (children that play runc)
// are served at once, each by the handlers picked from its own state, and
// each is forgotten when it exits; garbage from a client in between
// changes nothing; nothing leaks.
func TestAgentServesContainers(t *testing.T) {
	fdsBefore := openFDs(t)
	goroutines := runtime.NumGoroutine()
	ta := startAgent(t, func(st agent.State) handler.Handler {
		v := int64(100)
		if p, _ := st.MetadataValue("profile"); p == "b" {
			v = 200
		}
		return handler.Func(func(*handler.Ctx) handler.Action { return handler.ReturnValue(v) })
	})

	a := startContainer(t, ta.sock, "ctr-a", "profile=a", 3)
	b := startContainer(t, ta.sock, "ctr-b", "profile=b", 3)
	require.Equal(t, "100 ", a.result(t))
	require.Equal(t, "200 ", b.result(t))

	// Garbage: not JSON, JSON without fd, a connection closed at once.
	c, err := net.Dial("unix", ta.sock)
	require.NoError(t, err)
	_, _ = c.Write([]byte("\x00\xffGET / HTTP/1.1\r\n\r\n}}}"))
	c.Close()
	require.NoError(t, send(ta.sock, []byte(goodState)))
	c, err = net.Dial("unix", ta.sock)
	require.NoError(t, err)
	c.Close()

	require.Equal(t, "100 ", a.result(t))
	require.Equal(t, "200 ", b.result(t))
	require.Equal(t, "100 ", a.result(t))
	require.Equal(t, "200 ", b.result(t))
	require.NoError(t, a.cmd.Wait())
	require.NoError(t, b.cmd.Wait())

	ids := map[string]bool{}
	for range 2 {
		select {
		case st := <-ta.done:
			ids[st.State.ID] = true
		case <-time.After(5 * time.Second):
			t.Fatal("a container's end was not seen")
		}
	}
	require.Equal(t, map[string]bool{"ctr-a": true, "ctr-b": true}, ids)
	require.Empty(t, ta.Containers())
	eventually(t, func() bool { return openFDs(t) <= fdsBefore+2 }, "descriptors released")          // the socket and its epoll
	eventually(t, func() bool { return runtime.NumGoroutine() <= goroutines+2 }, "goroutines ended") // Serve's accept loop

	// Still accepting after all that.
	d := startContainer(t, ta.sock, "ctr-d", "", 1)
	require.Equal(t, "100 ", d.result(t))
}

// TestAgentContainerKilled: a container killed while a handler holds its
// call does not disturb the agent or another container.
func TestAgentContainerKilled(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ta := startAgent(t, func(st agent.State) handler.Handler {
		return handler.Func(func(*handler.Ctx) handler.Action {
			if st.State.ID == "victim" {
				<-release
			}
			return handler.ReturnValue(5)
		})
	})
	v := startContainer(t, ta.sock, "victim", "", 1)
	select {
	case <-ta.served:
	case <-time.After(5 * time.Second):
		t.Fatal("victim not served")
	}
	time.Sleep(100 * time.Millisecond) // let its call reach the handler
	require.NoError(t, v.cmd.Process.Kill())
	_ = v.cmd.Wait()

	o := startContainer(t, ta.sock, "other", "", 2)
	require.Equal(t, "5 ", o.result(t))
	require.Equal(t, "5 ", o.result(t))
}

// TestAgentShutdown: Shutdown answers a call held by a handler with the
// handler's exception policy, stops accepting and returns promptly.
func TestAgentShutdown(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	block := make(chan struct{})
	defer close(block)
	ta := startAgent(t, func(agent.State) handler.Handler {
		return handler.WithExceptionPolicy(handler.Func(func(*handler.Ctx) handler.Action {
			<-block
			return handler.ReturnValue(1)
		}), handler.ExceptionDenyEPERM)
	})
	c := startContainer(t, ta.sock, "held", "", 1)
	select {
	case <-ta.served:
	case <-time.After(5 * time.Second):
		t.Fatal("not served")
	}
	time.Sleep(100 * time.Millisecond)

	// The handler holds its call until the test ends: a Shutdown that
	// waited for it would end with the context's error.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	require.NoError(t, ta.Shutdown(ctx))
	t.Logf("Shutdown took %s", time.Since(start))
	require.Equal(t, "-1 EPERM", c.result(t))
	require.ErrorIs(t, <-ta.serveErr, agent.ErrClosed)
	_, err := net.Dial("unix", ta.sock)
	require.Error(t, err, "still accepting after Shutdown")
	require.NoError(t, ta.Shutdown(ctx), "Shutdown twice")
	// The held handler's goroutine lives until it returns; the rest end.
	eventually(t, func() bool { return runtime.NumGoroutine() <= goroutines+3 }, "goroutines ended")
}
