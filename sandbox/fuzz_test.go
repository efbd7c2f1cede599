package sandbox

import (
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/sandlock-go/sandlock-go/seccomp"
)

// FuzzParseIdentity parses --identity: no panic; an accepted spelling is
// the String of the identity it names (one spelling each); anything else
// is an error of one line that names it.
func FuzzParseIdentity(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseIdentity(s)
		if err != nil {
			if msg := err.Error(); strings.ContainsFunc(msg, unicode.IsControl) || !strings.Contains(msg, "identity") {
				t.Fatalf("ParseIdentity(%q) error %q: want one line naming the identity", s, msg)
			}
			return
		}
		if id.String() != s {
			t.Fatalf("ParseIdentity(%q) = %v, spelled %q", s, id, id.String())
		}
	})
}

// FuzzParseCapability parses --cap-add (and Policy.CapAdd): no panic; an
// accepted name is one of the kernel's, spelled in ASCII as CAP_X, X or x
// in any case, and every spelling gives the same number; anything else is
// ErrUnknownCapability in one line.
func FuzzParseCapability(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseCapability(s)
		if err != nil {
			if !errors.Is(err, ErrUnknownCapability) || strings.ContainsFunc(err.Error(), unicode.IsControl) {
				t.Fatalf("ParseCapability(%q) error %q: want one line matching ErrUnknownCapability", s, err)
			}
			return
		}
		key := strings.ToLower(s)
		for _, r := range s {
			if r > unicode.MaxASCII {
				t.Fatalf("ParseCapability(%q) = %d: accepted a name that is not ASCII", s, n)
			}
		}
		key = strings.TrimPrefix(key, "cap_")
		if want, ok := capabilityNames[key]; !ok || want != n {
			t.Fatalf("ParseCapability(%q) = %d: not a kernel capability name", s, n)
		}
		for _, spelling := range []string{"CAP_" + strings.ToUpper(key), strings.ToUpper(key), key} {
			if m, err := ParseCapability(spelling); err != nil || m != n {
				t.Fatalf("ParseCapability(%q) = %d, but %q gives %d, %v", s, n, spelling, m, err)
			}
		}
	})
}

// FuzzSeccompPolicy reads a --seccomp-policy file as Start will use it:
// ParseSeccompPolicy, then CheckSeccomp (the policy with the sandbox's
// ENOSYS group in front, compiled, execve checked). No panic; a bad file
// is an error of one line matching seccomp.ErrStaticPolicy; a policy that
// parses either compiles or is refused with ErrStaticPolicy,
// ErrProgramTooLong or ErrSeccompDeniesExec, and SeccompDenies answers
// for any syscall.
func FuzzSeccompPolicy(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, probe string) {
		if len(data) > 1<<16 {
			return
		}
		sp, err := ParseSeccompPolicy(data)
		if err != nil {
			if !errors.Is(err, seccomp.ErrStaticPolicy) || strings.ContainsFunc(err.Error(), unicode.IsControl) {
				t.Fatalf("ParseSeccompPolicy error %q: want one line matching ErrStaticPolicy", err)
			}
			return
		}
		p := &Policy{Seccomp: sp}
		if err := p.CheckSeccomp(); err != nil && !errors.Is(err, seccomp.ErrStaticPolicy) &&
			!errors.Is(err, seccomp.ErrProgramTooLong) && !errors.Is(err, ErrSeccompDeniesExec) {
			t.Fatalf("CheckSeccomp: %v", err)
		}
		if action, always := p.SeccompDenies(probe); always && action == "" {
			t.Fatalf("SeccompDenies(%q) denies with no action", probe)
		}
	})
}
