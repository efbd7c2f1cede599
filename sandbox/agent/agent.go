package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/notif"
)

// Selector picks the handlers of one container from its state. It may
// return a nil *handler.Options for the defaults. An error rejects the
// container: its listener is closed, so its trapped calls fail with
// ENOSYS. Selector is called from several goroutines at once.
type Selector func(State) (*handler.Table, *handler.Options, error)

// Options tune an Agent. A nil *Options means the defaults.
type Options struct {
	// Logf receives one line per event: a container served, ended or
	// rejected, a bad message. Default: discarded.
	Logf func(format string, args ...any)
	// ReadTimeout bounds how long a runtime may take to send its
	// message. Default 5s.
	ReadTimeout time.Duration
	// OnServe, when set, is called before a container is served, and
	// OnDone after its Serve returned with Serve's error.
	OnServe func(State)
	OnDone  func(State, error)
}

func (o *Options) logf(format string, args ...any) {
	if o != nil && o.Logf != nil {
		o.Logf(format, args...)
	}
}

func (o *Options) readTimeout() time.Duration {
	if o == nil || o.ReadTimeout <= 0 {
		return 5 * time.Second
	}
	return o.ReadTimeout
}

// ErrClosed is returned by Serve after Close or Shutdown.
var ErrClosed = errors.New("agent closed")

// Agent serves the seccomp listeners that container runtimes send to a
// unix socket. Its zero value is not usable; call New.
type Agent struct {
	sel  Selector
	opts *Options

	ctx    context.Context // cancelled by Shutdown: every Serve stops
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners map[*net.UnixListener]struct{}
	conns     map[*net.UnixConn]struct{}
	served    map[*served]struct{}
	closed    bool
	wg        sync.WaitGroup // connection and container goroutines

	// pending counts the connections accepted whose container is not
	// registered in served yet; a handover waits for them.
	pending sync.WaitGroup
	// ho is the handover under way or done; nil when none, or after one
	// failed (the agent can serve again).
	ho *handover
	// closedBy is the handover that closed each listener, for its Serve.
	closedBy map[*net.UnixListener]*handover
}

// handover is one handover to a new agent.
type handover struct {
	done chan struct{} // closed when it ended
	err  error         // its failure, set before done is closed
}

// served is one container being served.
type served struct {
	state  State
	l      *notif.Listener
	cancel context.CancelFunc // stops its Serve (handover)
	done   chan struct{}      // closed when its Serve has returned
	// handedOver is set, under Agent.mu, when a handover takes it.
	handedOver bool
}

// New returns an Agent that serves each container with the handlers sel
// picks.
func New(sel Selector, opts *Options) *Agent {
	ctx, cancel := context.WithCancel(context.Background())
	return &Agent{
		sel:       sel,
		opts:      opts,
		ctx:       ctx,
		cancel:    cancel,
		listeners: make(map[*net.UnixListener]struct{}),
		conns:     make(map[*net.UnixConn]struct{}),
		served:    make(map[*served]struct{}),
		closedBy:  make(map[*net.UnixListener]*handover),
	}
}

// Listen creates the unix socket at path, mode 0600 (the runtime runs as
// root; put the socket in a directory only root can write, as the mode is
// set just after the socket is bound), replacing a stale socket file left
// by an agent that died. It refuses to replace anything that is not a
// socket, or a socket an agent listens on (use TakeOver).
func Listen(path string) (*net.UnixListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("listen %s: exists and is not a socket", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("listen %s: an agent is already listening", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("listen %s: remove stale socket: %w", path, err)
		}
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	l.SetUnlinkOnClose(true)
	return l, nil
}

// Serve accepts runtimes' connections on l until Close or Shutdown, and
// serves each container on goroutines of its own; it returns ErrClosed
// then, ErrHandedOver once a new agent has taken everything over
// (TakeOver), or the accept or handover error. It closes l when it
// returns (the socket file is removed, but not after a handover). A bad
// message or a container's death is logged and never stops Serve.
func (a *Agent) Serve(l *net.UnixListener) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		l.Close()
		return ErrClosed
	}
	a.listeners[l] = struct{}{}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.listeners, l)
		delete(a.closedBy, l)
		a.mu.Unlock()
		l.Close()
	}()
	for {
		conn, err := l.AcceptUnix()
		if err != nil {
			if err := a.stopped(l); err != nil {
				return err
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("agent: accept: %w", err)
			}
			// EMFILE and the like: wait and go on rather than spin.
			a.opts.logf("agent: accept: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if !a.track(conn) {
			conn.Close()
			return a.stopped(l)
		}
		go a.handleConn(conn)
	}
}

// stopped returns why Serve of l must return: ErrClosed, ErrHandedOver
// (once the handover is over), the handover's failure; nil to go on.
func (a *Agent) stopped(l *net.UnixListener) error {
	a.mu.Lock()
	closed, ho := a.closed, a.ho
	if by := a.closedBy[l]; by != nil {
		ho = by
		delete(a.closedBy, l)
	}
	a.mu.Unlock()
	if ho != nil {
		<-ho.done
		if ho.err != nil {
			return fmt.Errorf("agent: %w: %v", ErrHandoverFailed, ho.err)
		}
		return ErrHandedOver
	}
	if closed {
		return ErrClosed
	}
	return nil
}

// track registers conn and counts its goroutine; false after Close.
func (a *Agent) track(conn *net.UnixConn) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.ho != nil {
		return false
	}
	a.conns[conn] = struct{}{}
	a.wg.Add(1)
	a.pending.Add(1)
	return true
}

// handleConn reads one runtime message, then serves its container until
// its tasks exit or the agent shuts down. A handover request from a new
// agent is answered instead (handover.go).
func (a *Agent) handleConn(conn *net.UnixConn) {
	defer a.wg.Done()
	var once sync.Once
	registered := func() { once.Do(a.pending.Done) }
	defer registered()
	_ = conn.SetReadDeadline(time.Now().Add(a.opts.readTimeout()))
	data, fds, err := readRaw(conn)
	if err == nil && isHandoverRequest(data) {
		for _, fd := range fds {
			_ = closeFD(fd)
		}
		a.mu.Lock()
		delete(a.conns, conn)
		a.mu.Unlock()
		registered()
		a.handOver(conn)
		return
	}
	a.mu.Lock()
	delete(a.conns, conn)
	a.mu.Unlock()
	conn.Close()
	var st State
	fd := -1
	if err == nil {
		st, fd, err = parseOwned(data, fds)
	}
	if err != nil {
		a.opts.logf("agent: rejected message: %v", err)
		return
	}
	a.serveContainer(st, fd, registered)
}

// serveContainer serves the listener fd of the container st until its
// tasks exit, the agent shuts down or hands it over; it owns fd. It calls
// registered once the container is in served, or given up.
func (a *Agent) serveContainer(st State, fd int, registered func()) {
	defer registered()
	l, err := notif.NewListener(fd)
	if err != nil {
		_ = closeFD(fd)
		a.opts.logf("agent: %s: %v", st, err)
		return
	}
	defer l.Close()
	if root, err := pathpolicy.OpenRoot(st.Pid); err != nil {
		a.opts.logf("agent: %s: no root for path policies: %v", st, err)
	} else {
		defer root.Close()
		st.root = root
	}
	t, hopts, err := a.selectHandlers(st)
	if err != nil {
		a.opts.logf("agent: %s: rejected: %v", st, err)
		return
	}
	if hopts == nil || hopts.AsTask == nil && hopts.AsProcess == nil {
		// What handlers do on a task's behalf, they do with its
		// credentials, not the agent's.
		id, err := newIdentity()
		if err != nil {
			a.opts.logf("agent: %s: rejected: %v", st, err)
			return
		}
		defer id.close()
		o := handler.Options{}
		if hopts != nil {
			o = *hopts
		}
		o.AsTask = id.do
		hopts = &o
	}
	ctx, cancel := context.WithCancel(a.ctx)
	defer cancel()
	s := &served{state: st, l: l, cancel: cancel, done: make(chan struct{})}
	defer close(s.done)
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.served[s] = struct{}{}
	a.mu.Unlock()
	registered()
	defer func() {
		a.mu.Lock()
		delete(a.served, s)
		a.mu.Unlock()
	}()

	a.opts.logf("agent: %s: serving (status %s, metadata %q)", st, st.State.Status, st.Metadata)
	if a.opts != nil && a.opts.OnServe != nil {
		a.opts.OnServe(st)
	}
	err = handler.Serve(ctx, l, t, hopts)
	if a.opts != nil && a.opts.OnDone != nil {
		a.opts.OnDone(st, err)
	}
	switch {
	case err == nil:
		a.opts.logf("agent: %s: tasks exited", st)
	case errors.Is(err, context.Canceled) && a.ctx.Err() == nil:
		a.opts.logf("agent: %s: stopped for the handover", st)
	case errors.Is(err, context.Canceled):
		a.opts.logf("agent: %s: agent shutting down", st)
	default:
		a.opts.logf("agent: %s: serve: %v", st, err)
	}
}

// selectHandlers calls the Selector, turning a panic into an error.
func (a *Agent) selectHandlers(st State) (t *handler.Table, o *handler.Options, err error) {
	defer func() {
		if p := recover(); p != nil {
			t, o, err = nil, nil, fmt.Errorf("selector panicked: %v", p)
		}
	}()
	t, o, err = a.sel(st)
	if err == nil && t == nil {
		err = errors.New("selector returned no handler table")
	}
	return t, o, err
}

// Containers returns the states of the containers being served.
func (a *Agent) Containers() []State {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]State, 0, len(a.served))
	for s := range a.served {
		out = append(out, s.state)
	}
	return out
}

// Shutdown stops accepting, closes connections whose message has not come
// yet, and stops serving every container: the notifications being handled
// get each handler's result within its ShutdownGrace, or its exception
// policy, and the listeners are closed (later trapped calls of the
// containers fail with ENOSYS). It waits for every goroutine of the Agent
// until ctx is done, then returns ctx.Err(). Shutdown is safe to call
// twice and concurrently with Close.
func (a *Agent) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	for l := range a.listeners {
		l.Close()
	}
	for c := range a.conns {
		c.Close()
	}
	a.mu.Unlock()
	a.cancel()
	done := make(chan struct{})
	go func() {
		a.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close is Shutdown without a deadline: it returns when every container's
// Serve has returned (within its handlers' ShutdownGrace).
func (a *Agent) Close() error {
	return a.Shutdown(context.Background())
}
