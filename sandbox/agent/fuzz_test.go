package agent

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

// FuzzParseMessage validates the container state a runtime sends on the
// agent's socket (JSON, with n descriptors; none is a listener here, so
// no message is accepted): no panic; every message is refused with a
// *MessageError matching one of the documented sentinels, whose text is
// one line without control characters (it goes to the log) and names the
// container only as validated.
func FuzzParseMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, nfds uint8) {
		if len(data) > maxMessage {
			return
		}
		fds := make([]int, int(nfds)%(maxFDs+1))
		for i := range fds {
			fds[i] = -1 - i // not descriptors: CheckListener refuses them
		}
		fd, st, err := ParseMessage(data, fds)
		if err == nil {
			t.Fatalf("ParseMessage accepted %q with fds %v: fd %d, %+v", data, fds, fd, st)
		}
		var me *MessageError
		if fd != -1 || !errors.As(err, &me) {
			t.Fatalf("ParseMessage(%q) = %d, %v: want -1 and a *MessageError", data, fd, err)
		}
		known := false
		for _, s := range []error{ErrMalformed, ErrUnknownVersion, ErrBadFDs, ErrNotListener, ErrInvalidState} {
			known = known || errors.Is(err, s)
		}
		if !known {
			t.Fatalf("ParseMessage(%q): %v matches no sentinel", data, err)
		}
		if msg := err.Error(); strings.ContainsFunc(msg, unicode.IsControl) {
			t.Fatalf("ParseMessage(%q) error %q: want one line without control characters", data, msg)
		}
		if errors.Is(err, ErrNotListener) {
			// Everything else was valid: the state is what the log shows.
			if st.Pid <= 0 || st.State.ID == "" || strings.ContainsFunc(st.State.ID, unicode.IsControl) {
				t.Fatalf("ParseMessage(%q) validated %+v", data, st)
			}
		}
		_, _ = st.MetadataValue("profile")
	})
}

// FuzzParseRights reads the control data of the runtime's message: no
// panic; the descriptors are returned even with an error (to be closed).
func FuzzParseRights(f *testing.F) {
	f.Fuzz(func(t *testing.T, oob []byte) {
		fds, err := parseRights(oob)
		if len(fds) > len(oob)/4 {
			t.Fatalf("parseRights(%x) = %d descriptors from %d bytes, %v", oob, len(fds), len(oob), err)
		}
	})
}
