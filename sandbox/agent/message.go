package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
)

// SeccompFdName is the name of the seccomp listener in State.FDs, as the
// runtime spec defines it.
const SeccompFdName = "seccompFd"

// State is the container process state a runtime sends with the seccomp
// listener fd (runtime spec 1.0.2+, "containerProcessState").
type State struct {
	// OCIVersion is the runtime spec version of the message.
	OCIVersion string `json:"ociVersion"`
	// FDs names the descriptors passed in SCM_RIGHTS, in order.
	FDs []string `json:"fds"`
	// Pid is the host pid of the container process.
	Pid int `json:"pid"`
	// Metadata is the seccomp profile's listenerMetadata, opaque to the
	// runtime; see MetadataValue.
	Metadata string `json:"metadata,omitempty"`
	// State is the container's state.
	State ContainerState `json:"state"`

	// root is the container's root while the agent serves it (Root).
	root *pathpolicy.Root
}

// Root returns the container's root directory, for path policies
// (pathpolicy.OpenPolicy.WithRoot): /proc/PID/root of the container's
// first process, opened once when the agent starts serving it, and open
// for as long as it does (the Selector may keep it in the handlers it
// returns). Nil when the root could not be opened (logged), and in a
// State that is not being served.
func (s State) Root() *pathpolicy.Root { return s.root }

// ContainerState is the runtime spec's state of a container.
type ContainerState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid,omitempty"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// MetadataValue returns the value of key in the listenerMetadata, read as
// KEY=VALUE pairs separated by spaces, commas or semicolons:
// "profile=web" gives ("web", true) for "profile".
func (s State) MetadataValue(key string) (string, bool) {
	for _, f := range strings.FieldsFunc(s.Metadata, func(r rune) bool {
		return r == ' ' || r == ',' || r == ';' || r == '\t' || r == '\n'
	}) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// String names the container for logs: "container ID (pid N)".
func (s State) String() string {
	id := s.State.ID
	switch {
	case id == "":
		id = "?"
	case strings.ContainsFunc(id, unicode.IsControl):
		id = strconv.Quote(id) // not validated yet: a log line is one line
	}
	return fmt.Sprintf("container %s (pid %d)", id, s.Pid)
}

// Errors of a runtime's message. Each is wrapped with details in a
// *MessageError.
var (
	// ErrMalformed: the message is not the JSON state object, or is too
	// large, or ended early.
	ErrMalformed = errors.New("malformed container state")
	// ErrUnknownVersion: the message's ociVersion is not a 1.x version.
	ErrUnknownVersion = errors.New("unknown runtime spec version")
	// ErrBadFDs: no descriptor, several seccomp descriptors, a count that
	// does not match "fds", or truncated control data (MSG_CTRUNC).
	ErrBadFDs = errors.New("bad descriptors")
	// ErrNotListener: the seccompFd is not a seccomp listener.
	ErrNotListener = errors.New("not a seccomp listener")
	// ErrInvalidState: a required field (pid, state.id) is missing or
	// out of range.
	ErrInvalidState = errors.New("invalid container state")
)

// MessageError is a rejected runtime message. State holds what could be
// parsed (the container id, when known, for the log).
type MessageError struct {
	State State
	Err   error
}

func (e *MessageError) Error() string {
	if e.State.State.ID != "" || e.State.Pid != 0 {
		return fmt.Sprintf("%s: %v", e.State, e.Err)
	}
	return e.Err.Error()
}

func (e *MessageError) Unwrap() error { return e.Err }

// Limits of one message.
const (
	maxMessage = 1 << 20 // bytes of JSON
	maxFDs     = 16      // descriptors per message
)

// ReadMessage reads one runtime message from conn: the JSON state, read
// until it is a whole JSON value or the peer closes, and the descriptors
// of its SCM_RIGHTS control messages. It honors conn's deadline. On error
// it closes every descriptor received; on success the caller owns the
// returned listener fd and ReadMessage has closed the others.
func ReadMessage(conn *net.UnixConn) (State, int, error) {
	data, fds, err := readRaw(conn)
	if err != nil {
		return State{}, -1, err
	}
	return parseOwned(data, fds)
}

// parseOwned is ParseMessage that closes the descriptors it does not
// return.
func parseOwned(data []byte, fds []int) (State, int, error) {
	fd, st, err := ParseMessage(data, fds)
	for _, other := range fds {
		if err != nil || other != fd {
			_ = unix.Close(other)
		}
	}
	if err != nil {
		return st, -1, err
	}
	return st, fd, nil
}

// readRaw reads one JSON value and the descriptors that come with it,
// until the value is whole or the peer closes. On error it closes the
// descriptors.
func readRaw(conn *net.UnixConn) ([]byte, []int, error) {
	var (
		data []byte
		fds  []int
	)
	closeAll := func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*maxFDs))
	for {
		n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
		n, oobn = max(n, 0), max(oobn, 0)
		got, perr := parseRights(oob[:oobn])
		fds = append(fds, got...)
		data = append(data, buf[:n]...)
		if perr != nil {
			closeAll()
			return nil, nil, &MessageError{Err: fmt.Errorf("%w: control message: %v", ErrBadFDs, perr)}
		}
		if flags&unix.MSG_CTRUNC != 0 {
			closeAll()
			return nil, nil, &MessageError{Err: fmt.Errorf("%w: control data truncated (more than %d descriptors?)", ErrBadFDs, maxFDs)}
		}
		if len(data) > maxMessage {
			closeAll()
			return nil, nil, &MessageError{Err: fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxMessage)}
		}
		if len(data) > 0 && json.Valid(data) {
			return data, fds, nil
		}
		if err != nil || n == 0 {
			closeAll()
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) || isEOF(err) {
				return nil, nil, &MessageError{Err: fmt.Errorf("%w: peer sent %d bytes and %s", ErrMalformed, len(data), endReason(err))}
			}
			return nil, nil, &MessageError{Err: fmt.Errorf("read container state: %w", err)}
		}
	}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF)
}

func endReason(err error) string {
	switch {
	case err == nil || isEOF(err):
		return "closed the connection"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "stopped sending (timeout)"
	default:
		return err.Error()
	}
}

// parseRights returns the descriptors of the SCM_RIGHTS messages in oob.
// Descriptors are returned even with an error, so the caller can close them.
func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	var firstErr error
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			continue
		}
		if len(msgs[i].Data)%4 != 0 {
			// unix.ParseUnixRights panics on it; the kernel never sends it.
			if firstErr == nil {
				firstErr = fmt.Errorf("SCM_RIGHTS of %d bytes", len(msgs[i].Data))
			}
			continue
		}
		got, err := unix.ParseUnixRights(&msgs[i])
		fds = append(fds, got...)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return fds, firstErr
}

// ParseMessage validates a runtime message: data is its JSON, fds the
// descriptors that came with it, in order. It returns the seccomp
// listener among fds (checked to be one) and the state. It closes nothing.
func ParseMessage(data []byte, fds []int) (int, State, error) {
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return -1, State{}, &MessageError{Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	if err := validate(&st, len(fds)); err != nil {
		return -1, st, &MessageError{State: st, Err: err}
	}
	idx := -1
	for i, name := range st.FDs {
		if name == SeccompFdName {
			idx = i
		}
	}
	fd := fds[idx]
	if err := CheckListener(fd); err != nil {
		return -1, st, &MessageError{State: st, Err: err}
	}
	return fd, st, nil
}

// validate checks the fields of st; nfds is the number of descriptors
// received.
func validate(st *State, nfds int) error {
	if !knownVersion(st.OCIVersion) {
		return fmt.Errorf("%w %q (want 1.x)", ErrUnknownVersion, st.OCIVersion)
	}
	seccompFds := 0
	for _, name := range st.FDs {
		if name == SeccompFdName {
			seccompFds++
		}
	}
	switch {
	case nfds == 0:
		return fmt.Errorf("%w: no descriptor received", ErrBadFDs)
	case seccompFds != 1:
		return fmt.Errorf("%w: fds %q names %q %d times, want once", ErrBadFDs, st.FDs, SeccompFdName, seccompFds)
	case nfds != len(st.FDs):
		return fmt.Errorf("%w: %d descriptors received, fds names %d", ErrBadFDs, nfds, len(st.FDs))
	}
	if st.Pid <= 0 || st.Pid > 1<<22 {
		return fmt.Errorf("%w: pid %d", ErrInvalidState, st.Pid)
	}
	if st.State.ID == "" {
		return fmt.Errorf("%w: empty state.id", ErrInvalidState)
	}
	if len(st.State.ID) > 1024 || strings.ContainsFunc(st.State.ID, unicode.IsControl) {
		return fmt.Errorf("%w: state.id %q", ErrInvalidState, st.State.ID)
	}
	if strings.ContainsFunc(st.Metadata, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' }) {
		return fmt.Errorf("%w: metadata %q has control characters", ErrInvalidState, st.Metadata)
	}
	return nil
}

// knownVersion reports whether v is a runtime spec 1.x version
// ("1.0.2", "1.1.0", "1.0.2-dev").
func knownVersion(v string) bool {
	major, rest, ok := strings.Cut(v, ".")
	if !ok || major != "1" {
		return false
	}
	minor, _, _ := strings.Cut(rest, ".")
	_, err := strconv.ParseUint(minor, 10, 16)
	return err == nil
}

// listenerLink is what /proc/self/fd/N links to for a seccomp listener.
const listenerLink = "anon_inode:seccomp notify"

// CheckListener returns nil when fd is a seccomp user-notification
// listener, and an error matching ErrNotListener otherwise.
func CheckListener(fd int) error {
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return fmt.Errorf("%w: fd %d: %v", ErrNotListener, fd, err)
	}
	if target != listenerLink {
		return fmt.Errorf("%w: fd %d is %q", ErrNotListener, fd, target)
	}
	return nil
}
