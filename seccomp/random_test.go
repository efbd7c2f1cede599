package seccomp_test

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// byteSource hands out bytes, then zeros once they run out.
type byteSource struct{ b []byte }

func (s *byteSource) next() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *byteSource) u16() int { return int(s.next())<<8 | int(s.next()) }

func (s *byteSource) u64() uint64 {
	var b [8]byte
	for i := range b {
		b[i] = s.next()
	}
	return binary.LittleEndian.Uint64(b[:])
}

// value picks an interesting value or, now and then, eight raw bytes.
func (s *byteSource) value() uint64 {
	v := s.next()
	if v&0x80 != 0 {
		return s.u64()
	}
	return interesting[int(v)%len(interesting)]
}

func (s *byteSource) action() seccomp.Action {
	b := s.next()
	switch b % 8 {
	case 0:
		return seccomp.Allow
	case 1:
		return seccomp.Notify
	case 2:
		return seccomp.KillProcess
	case 3:
		return seccomp.KillThread
	case 4:
		return seccomp.Log
	case 5:
		return seccomp.Trap
	case 6:
		return seccomp.Errno(unix.EPERM)
	default:
		return seccomp.Errno(unix.Errno(b >> 3))
	}
}

// filterFromBytes decodes a filter: arch, default, a pool of 8 syscall
// numbers most rules draw from (so that syscalls get several rules), then
// up to maxRules rules with up to 3 conditions each. It produces invalid
// rules too, rarely: a syscall number past the table, argument index 6,
// an errno above 4095.
func filterFromBytes(b []byte, maxRules int) *seccomp.Filter {
	s := &byteSource{b: b}
	arch := allArches[int(s.next())%len(allArches)]
	f := &seccomp.Filter{Arch: arch, Default: s.action()}
	var pool [8]int
	for i := range pool {
		pool[i] = s.u16() % (arch.MaxNumber() + 1)
	}
	n := int(s.next()) % (maxRules + 1)
	for range n {
		r := seccomp.Rule{}
		switch sel := s.next(); {
		case sel == 0xff:
			r.Syscall = arch.MaxNumber() + 1
		case sel%4 != 0:
			r.Syscall = pool[int(sel>>2)%len(pool)]
		default:
			r.Syscall = s.u16() % (arch.MaxNumber() + 1)
		}
		r.Action = s.action()
		if s.next() == 0xff {
			r.Action = seccomp.Errno(4096)
		}
		for range int(s.next()) % 4 {
			op := s.next()
			arg := int(op>>3) % 6
			if op >= 0xfc {
				arg = 6
			}
			var c seccomp.Cond
			switch op % 7 {
			case 0:
				c = seccomp.ArgEq(arg, s.value())
			case 1:
				c = seccomp.ArgNe(arg, s.value())
			case 2:
				c = seccomp.ArgLt(arg, s.value())
			case 3:
				c = seccomp.ArgLe(arg, s.value())
			case 4:
				c = seccomp.ArgGt(arg, s.value())
			case 5:
				c = seccomp.ArgGe(arg, s.value())
			default:
				mask := s.value()
				v := s.value()
				if op&0x40 != 0 {
					v &= mask // mostly satisfiable
				}
				c = seccomp.ArgMaskedEq(arg, mask, v)
			}
			r.Conds = append(r.Conds, c)
		}
		f.Rules = append(f.Rules, r)
	}
	return f
}

// conflicts reports, by the definition of ErrConflictingRules, whether a
// rule can never match because an earlier one on the same syscall with a
// subset of its conditions has another action.
func conflicts(f *seccomp.Filter) bool {
	for j, b := range f.Rules {
		for _, a := range f.Rules[:j] {
			if a.Syscall == b.Syscall && a.Action != b.Action && condSubset(a.Conds, b.Conds) {
				return true
			}
		}
	}
	return false
}

func condSubset(a, b []seccomp.Cond) bool {
	for _, c := range a {
		if !slices.Contains(b, c) {
			return false
		}
	}
	return true
}

// invalid reports whether f has a rule Compile must reject as invalid.
func invalid(f *seccomp.Filter) bool {
	for _, r := range f.Rules {
		if r.Syscall < 0 || r.Syscall > f.Arch.MaxNumber() || r.Action == seccomp.Errno(4096) {
			return true
		}
		for _, c := range r.Conds {
			if arg, _, _ := condParts(c); arg < 0 || arg > 5 {
				return true
			}
		}
	}
	return false
}

// removeConflicts gives every shadowed rule the action of the rule that
// shadows it, which leaves the filter's meaning unchanged.
func removeConflicts(f *seccomp.Filter) {
	for j := range f.Rules {
		for i := range j {
			a, b := f.Rules[i], f.Rules[j]
			if a.Syscall == b.Syscall && condSubset(a.Conds, b.Conds) {
				f.Rules[j].Action = a.Action
			}
		}
	}
}

// compileChecked compiles f and checks that it fails exactly when it
// should. It returns nil when f is rightly rejected.
func compileChecked(t *testing.T, f *seccomp.Filter) seccomp.Program {
	t.Helper()
	p, err := f.Compile()
	switch {
	case invalid(f):
		if !errors.Is(err, seccomp.ErrInvalidRule) {
			t.Fatalf("invalid filter: Compile returned %v, want ErrInvalidRule\n%s", err, describe(f))
		}
		return nil
	case conflicts(f):
		if !errors.Is(err, seccomp.ErrConflictingRules) {
			t.Fatalf("conflicting rules: Compile returned %v, want ErrConflictingRules\n%s", err, describe(f))
		}
		return nil
	case errors.Is(err, seccomp.ErrProgramTooLong):
		return nil
	case err != nil:
		t.Fatalf("Compile: %v\n%s", err, describe(f))
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("compiled program does not validate: %v\n%s", err, p.Disassemble())
	}
	if q, err := seccomp.UnmarshalProgram(p.Marshal()); err != nil || !slices.Equal(p, q) {
		t.Fatalf("Marshal round trip: %v", err)
	}
	return p
}

// everyNumber returns inputs for every syscall number of f's arch and some
// beyond, with x32 and foreign-arch variants; syscalls with rules get
// arguments drawn from values around their conditions' constants.
func everyNumber(f *seccomp.Filter, r *rand.Rand) []seccomp.Data {
	arch := f.Arch
	withRules := map[int32]bool{}
	for _, rule := range f.Rules {
		withRules[int32(rule.Syscall)] = true
	}
	var args []uint64
	for _, d := range inputs(f, r) {
		args = append(args, d.Args[:]...)
	}
	slices.Sort(args)
	args = slices.Compact(args)
	var out []seccomp.Data
	for nr := int32(-1); nr <= int32(arch.MaxNumber())+8; nr++ {
		out = append(out,
			seccomp.Data{Nr: nr, Arch: arch.AuditArch()},
			seccomp.Data{Nr: nr | syscalls.X32SyscallBit, Arch: arch.AuditArch()},
			seccomp.Data{Nr: nr, Arch: otherAudit(arch)})
		if withRules[nr] {
			for range 200 {
				d := seccomp.Data{Nr: nr, Arch: arch.AuditArch()}
				for i := range d.Args {
					d.Args[i] = args[r.IntN(len(args))]
				}
				out = append(out, d)
			}
		}
	}
	return out
}

// TestRandomFilters compiles random filters and checks every syscall
// number against the reference model.
func TestRandomFilters(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0x5ecc0))
	n := 150
	if testing.Short() {
		n = 30
	}
	var compiled, rejected, rules, conds, inputsChecked int
	for i := range n {
		b := make([]byte, 64+r.IntN(1024))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		maxRules := 40
		if i%10 == 0 {
			maxRules = 255
		}
		f := filterFromBytes(b, maxRules)
		if i%2 == 0 {
			// Mostly valid filters: drop the rare invalid parts.
			f.Rules = slices.DeleteFunc(f.Rules, func(rule seccomp.Rule) bool {
				return invalid(&seccomp.Filter{Arch: f.Arch, Rules: []seccomp.Rule{rule}})
			})
			removeConflicts(f)
		}
		p := compileChecked(t, f)
		if p == nil {
			rejected++
			continue
		}
		compiled++
		rules += len(f.Rules)
		for _, rule := range f.Rules {
			conds += len(rule.Conds)
		}
		ds := everyNumber(f, r)
		inputsChecked += len(ds)
		check(t, f, p, ds)
	}
	t.Logf("%d filters compiled (%d rules, %d conditions), %d rightly rejected, %d inputs checked",
		compiled, rules, conds, rejected, inputsChecked)
}

// FuzzCompile builds a filter from the fuzz input, checks that Compile
// fails exactly for invalid or conflicting rules, and that otherwise the
// program agrees with the reference model.
func FuzzCompile(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x00\x00\x27\x00\x01\x00\x02\x00\x03\x00\x04\x00\x05\x00\x06\x00\x07\x04\x01\x06\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		filter := filterFromBytes(b, 64)
		p := compileChecked(t, filter)
		if p == nil {
			return
		}
		r := rand.New(rand.NewPCG(uint64(len(b)), 1))
		check(t, filter, p, inputs(filter, r))
	})
}
