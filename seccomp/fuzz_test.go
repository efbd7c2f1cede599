package seccomp_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// FuzzUnmarshalProgram decodes bytes handed to a re-executed helper (a
// file or pipe another process could have written): no panic; bad input
// fails with ErrInvalidProgram and no program; an accepted program
// marshals back to the same bytes, and runs in the interpreter without an
// error in at most one step per instruction (no loops: bounded work).
func FuzzUnmarshalProgram(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, nr int32, arch uint32, a0, a1, a2, a3, a4, a5 uint64) {
		p, err := seccomp.UnmarshalProgram(b)
		if err != nil {
			if p != nil {
				t.Fatalf("UnmarshalProgram failed with %v but returned %d instructions", err, len(p))
			}
			if !errors.Is(err, seccomp.ErrInvalidProgram) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("UnmarshalProgram error %q: want one line matching ErrInvalidProgram", err)
			}
			return
		}
		if len(p) == 0 || len(p) > seccomp.MaxInstructions {
			t.Fatalf("accepted a program of %d instructions", len(p))
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatalf("Marshal of the decoded program differs from the input")
		}
		d := seccomp.Data{Nr: nr, Arch: arch, InstructionPointer: a5 ^ a0, Args: [6]uint64{a0, a1, a2, a3, a4, a5}}
		_, steps, err := p.EvaluateSteps(d)
		if err != nil {
			t.Fatalf("EvaluateSteps of a valid program: %v", err)
		}
		if steps < 1 || steps > len(p) {
			t.Fatalf("%d steps for %d instructions", steps, len(p))
		}
		_ = p.Disassemble()
	})
}

// FuzzParseStaticPolicy reads a --seccomp-policy file (go-seccomp-bpf YAML
// or JSON, user-written): no panic; bad input fails with one line that
// matches ErrStaticPolicy; a policy parsed is compiled (or refused with
// ErrStaticPolicy, or ErrProgramTooLong past 4096 instructions), and the
// program decides every probed call as the policy says (StaticDecide):
// the same policy back from the BPF.
func FuzzParseStaticPolicy(f *testing.F) {
	arch := syscalls.Native()
	f.Fuzz(func(t *testing.T, src []byte, pick uint8, nr uint16, a0, a1, a2, a3, a4, a5 uint64) {
		if len(src) > 1<<16 {
			return // policies are small; the decoder's cost is linear
		}
		p, err := seccomp.ParseStaticPolicy(src, arch)
		if err != nil {
			if p != nil {
				t.Fatalf("ParseStaticPolicy failed with %v but returned a policy", err)
			}
			if !errors.Is(err, seccomp.ErrStaticPolicy) || err.Error() == "" || strings.ContainsFunc(err.Error(), unicode.IsControl) {
				t.Fatalf("ParseStaticPolicy error %q: want one line without control characters, matching ErrStaticPolicy", err)
			}
			return
		}
		prog, err := seccomp.CompileStatic(p, arch)
		if err != nil {
			if !errors.Is(err, seccomp.ErrStaticPolicy) && !errors.Is(err, seccomp.ErrProgramTooLong) {
				t.Fatalf("CompileStatic of a parsed policy: %v (not ErrStaticPolicy or ErrProgramTooLong)", err)
			}
			return
		}
		if len(prog) > seccomp.MaxInstructions {
			t.Fatalf("CompileStatic returned %d instructions", len(prog))
		}
		// Probe a syscall the policy names (pick), then nr as it is.
		var names []string
		for _, g := range p.Syscalls {
			names = append(names, g.Names...)
			for _, nc := range g.NamesWithCondtions {
				names = append(names, nc.Name)
			}
		}
		probe := []int32{int32(nr)}
		if len(names) > 0 {
			if n, err := arch.Number(names[int(pick)%len(names)]); err == nil {
				probe = append(probe, int32(n))
			}
		}
		for _, x := range probe {
			d := seccomp.Data{Nr: x, Arch: arch.AuditArch(), Args: [6]uint64{a0, a1, a2, a3, a4, a5}}
			got, err := prog.Evaluate(d)
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if want := seccomp.StaticDecide(p, arch, d); got != want {
				t.Fatalf("nr %d args %#x: program returns %#x, policy says %#x\n%s", x, d.Args, got, want, prog.Disassemble())
			}
		}
	})
}
