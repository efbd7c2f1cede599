package agent

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The handover protocol, on the agent's own socket (mode 0600: root
// only). The new agent connects and sends handoverRequest. The old agent
// stops accepting and answers with frames, each one sendmsg of a 4-byte
// big-endian length and a JSON handoverFrame, with at most one
// descriptor; the new agent acknowledges each frame with one byte before
// the next is sent, so frames never share a read. First the listening
// socket ("socket"), then each container's state and seccomp listener
// ("container"), sent once the old agent's Serve of it has returned (the
// notifications it was handling answered; those not received yet wait in
// the kernel), then "end".

// handoverRequest is what a new agent sends; no runtime sends this key.
const handoverKey = "sandlockHandover"

var handoverRequest = []byte(`{"` + handoverKey + `":1}`)

type handoverFrame struct {
	Kind  string `json:"kind"` // "socket", "container", "end"
	State *State `json:"state,omitempty"`
}

// ErrHandedOver is returned by Serve once the agent has handed its socket
// and containers over to a new agent (TakeOver).
var ErrHandedOver = errors.New("agent handed over to a new agent")

// ErrHandoverFailed is returned (wrapped) by Serve when a new agent asked
// for a handover that failed: the containers not handed over are still
// served; the listening socket is closed, and Listen and Serve may be
// called again.
var ErrHandoverFailed = errors.New("handover failed")

// ErrNoAgent is returned by TakeOver when no agent listens on the socket.
var ErrNoAgent = errors.New("no agent to take over from")

// handoverTimeout bounds each step of a handover.
const handoverTimeout = 10 * time.Second

func isHandoverRequest(data []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return false
	}
	_, ok := m[handoverKey]
	return ok
}

// handOver gives this agent's listening sockets and containers to the new
// agent on conn, then makes Serve return ErrHandedOver.
func (a *Agent) handOver(conn *net.UnixConn) {
	defer conn.Close()
	a.mu.Lock()
	if a.closed || a.ho != nil {
		a.mu.Unlock()
		a.opts.logf("agent: handover refused: already shutting down or handing over")
		return
	}
	ho := &handover{done: make(chan struct{})}
	a.ho = ho
	// Stop accepting without closing the sockets: the copies go to the
	// new agent, and the socket file stays.
	var socks []*os.File
	var err error
	for l := range a.listeners {
		l.SetUnlinkOnClose(false)
		f, ferr := l.File()
		if ferr != nil && err == nil {
			err = fmt.Errorf("handover: listening socket: %w", ferr)
		}
		if f != nil {
			socks = append(socks, f)
		}
		a.closedBy[l] = ho
		l.Close()
	}
	a.mu.Unlock()
	defer func() {
		for _, f := range socks {
			f.Close()
		}
	}()
	a.opts.logf("agent: handing over to a new agent")

	if err == nil {
		for _, f := range socks {
			if err = sendFrame(conn, handoverFrame{Kind: "socket"}, int(f.Fd())); err != nil {
				break
			}
		}
	}
	// Containers whose message was being read register first.
	if err == nil {
		pendingDone := make(chan struct{})
		go func() { a.pending.Wait(); close(pendingDone) }()
		select {
		case <-pendingDone:
		case <-time.After(a.opts.readTimeout() + time.Second):
			err = errors.New("handover: connections still pending")
		}
	}
	for err == nil {
		s, fd := a.nextToHand()
		if s == nil {
			break
		}
		s.cancel()
		<-s.done
		err = sendFrame(conn, handoverFrame{Kind: "container", State: &s.state}, fd)
		_ = closeFD(fd)
		if err == nil {
			a.opts.logf("agent: %s: handed over", s.state)
		}
	}
	if err == nil {
		err = sendFrame(conn, handoverFrame{Kind: "end"}, -1)
	}
	if err != nil {
		// The containers not handed over are still served here; the
		// caller may Listen and Serve again.
		a.opts.logf("agent: handover failed: %v", err)
		ho.err = err
		a.mu.Lock()
		a.ho = nil
		a.mu.Unlock()
	}
	close(ho.done)
}

// nextToHand returns a served container not handed over yet, with a copy
// of its listener taken while it cannot be closed; nil when none is left.
func (a *Agent) nextToHand() (*served, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for s := range a.served {
		if s.handedOver {
			continue
		}
		s.handedOver = true
		fd, err := unix.FcntlInt(uintptr(s.l.FD()), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			a.opts.logf("agent: %s: handover: dup: %v", s.state, err)
			continue
		}
		return s, fd
	}
	return nil, -1
}

// sendFrame sends one frame with fd (none when negative) and waits for the
// acknowledgement.
func sendFrame(conn *net.UnixConn, f handoverFrame, fd int) error {
	body, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("handover: %w", err)
	}
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	msg = append(msg, body...)
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	_ = conn.SetDeadline(time.Now().Add(handoverTimeout))
	if _, _, err := conn.WriteMsgUnix(msg, oob, nil); err != nil {
		return fmt.Errorf("handover: send %s: %w", f.Kind, err)
	}
	var ack [1]byte
	if _, err := conn.Read(ack[:]); err != nil {
		return fmt.Errorf("handover: %s not acknowledged: %w", f.Kind, err)
	}
	return nil
}

// readFrame reads one frame and its descriptors.
func readFrame(conn *net.UnixConn) (handoverFrame, []int, error) {
	var (
		f    handoverFrame
		data []byte
		fds  []int
	)
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*maxFDs))
	closeAll := func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}
	for len(data) < 4 || len(data) < 4+int(binary.BigEndian.Uint32(data)) {
		if len(data) >= 4 && binary.BigEndian.Uint32(data) > maxMessage {
			closeAll()
			return f, nil, fmt.Errorf("handover: frame of %d bytes", binary.BigEndian.Uint32(data))
		}
		n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
		n, oobn = max(n, 0), max(oobn, 0)
		got, perr := parseRights(oob[:oobn])
		fds = append(fds, got...)
		data = append(data, buf[:n]...)
		switch {
		case perr != nil:
			err = perr
		case flags&unix.MSG_CTRUNC != 0:
			err = errors.New("control data truncated")
		case err == nil && n == 0:
			err = errors.New("old agent closed the connection")
		}
		if err != nil {
			closeAll()
			return f, nil, fmt.Errorf("handover: read frame: %w", err)
		}
	}
	if err := json.Unmarshal(data[4:], &f); err != nil {
		closeAll()
		return f, nil, fmt.Errorf("handover: frame: %w", err)
	}
	return f, fds, nil
}

// TakeOver connects to the agent listening at path and takes its
// listening socket and its containers: each container is served from now
// on by this agent, with the handlers its Selector picks, and the old
// agent's Serve returns ErrHandedOver. The returned listener is the same
// socket (runtimes connecting meanwhile wait in its backlog): pass it to
// Serve. With no agent at path, TakeOver returns an error matching
// ErrNoAgent.
func (a *Agent) TakeOver(path string) (*net.UnixListener, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			return nil, fmt.Errorf("take over %s: %w: %v", path, ErrNoAgent, err)
		}
		return nil, fmt.Errorf("take over %s: %w", path, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(handoverTimeout))
	if _, err := conn.Write(handoverRequest); err != nil {
		return nil, fmt.Errorf("take over %s: %w", path, err)
	}
	var ls *net.UnixListener
	fail := func(err error) (*net.UnixListener, error) {
		if ls != nil {
			ls.Close()
		}
		return nil, fmt.Errorf("take over %s: %w", path, err)
	}
	for n := 0; ; n++ {
		// The old agent waits for each container's handlers: allow
		// for its grace on every frame.
		_ = conn.SetDeadline(time.Now().Add(handoverTimeout))
		f, fds, err := readFrame(conn)
		if err != nil {
			return fail(err)
		}
		if f.Kind == "end" || len(fds) != 1 {
			for _, fd := range fds {
				_ = closeFD(fd)
			}
			if f.Kind != "end" {
				return fail(fmt.Errorf("frame %q with %d descriptors", f.Kind, len(fds)))
			}
		}
		switch f.Kind {
		case "end":
			if _, err := conn.Write([]byte{1}); err != nil {
				return fail(err)
			}
			if ls == nil {
				return fail(errors.New("the old agent sent no listening socket"))
			}
			return ls, nil
		case "socket":
			file := os.NewFile(uintptr(fds[0]), path)
			l, err := net.FileListener(file)
			file.Close()
			if err != nil {
				return fail(fmt.Errorf("listening socket: %w", err))
			}
			ul, ok := l.(*net.UnixListener)
			if !ok || ls != nil {
				l.Close()
				return fail(errors.New("listening socket: not one unix socket"))
			}
			ul.SetUnlinkOnClose(true)
			ls = ul
		case "container":
			if f.State == nil {
				_ = closeFD(fds[0])
				return fail(errors.New("container frame without state"))
			}
			st := *f.State
			if err := CheckListener(fds[0]); err != nil {
				_ = closeFD(fds[0])
				a.opts.logf("agent: %s: not taken over: %v", st, err)
				break
			}
			a.mu.Lock()
			if a.closed {
				a.mu.Unlock()
				_ = closeFD(fds[0])
				return fail(ErrClosed)
			}
			a.wg.Add(1)
			a.mu.Unlock()
			a.opts.logf("agent: %s: taken over", st)
			go func(fd int) {
				defer a.wg.Done()
				a.serveContainer(st, fd, func() {})
			}(fds[0])
		default:
			for _, fd := range fds {
				_ = closeFD(fd)
			}
			return fail(fmt.Errorf("unknown frame %q", f.Kind))
		}
		if _, err := conn.Write([]byte{1}); err != nil {
			return fail(err)
		}
	}
}
