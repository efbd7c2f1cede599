package seccomp

import (
	"errors"
	"fmt"
	"slices"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// MaxInstructions is the longest program the kernel accepts (BPF_MAXINSNS).
const MaxInstructions = 4096

// Errors returned by Filter.Compile, wrapped with the details. Match them
// with errors.Is.
var (
	// ErrUnknownArch: Filter.Arch is nil and the running GOARCH has no
	// syscall table.
	ErrUnknownArch = errors.New("seccomp: unknown architecture")
	// ErrInvalidRule: a syscall number out of range, an argument index
	// outside 0..5, a zero Cond, or an errno above 4095.
	ErrInvalidRule = errors.New("seccomp: invalid rule")
	// ErrConflictingRules: a rule can never match because an earlier rule
	// on the same syscall, with a subset of its conditions, matches first,
	// and the two have different actions. (With the same action the later
	// rule is redundant and dropped.)
	ErrConflictingRules = errors.New("seccomp: conflicting rules")
	// ErrProgramTooLong: the compiled program has more than MaxInstructions
	// instructions; the message gives its length.
	ErrProgramTooLong = errors.New("seccomp: program too long")
)

// x32Action is returned on x86_64 for a syscall number with
// syscalls.X32SyscallBit set: ENOSYS, what a kernel built without x32
// support answers, so the x32 ABI cannot bypass the rules and programs see
// the usual behavior.
var x32Action = Errno(unix.ENOSYS)

// foreignArchAction is returned for a syscall made through another ABI than
// the filter's (i386 int 0x80 on x86_64, arm32 compat on aarch64): its
// numbers mean other syscalls, so it cannot be judged and is fatal.
var foreignArchAction = KillProcess

// Offsets in struct seccomp_data. The three supported architectures are
// little-endian: the low word of an argument comes first.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// Rule is one rule of a Filter: when the syscall is Syscall and every
// condition in Conds holds, the filter returns Action.
type Rule struct {
	// Syscall is the syscall number on the Filter's Arch, 0..MaxNumber.
	Syscall int
	// Action is what the filter returns when the rule matches.
	Action Action
	// Conds must all hold for the rule to match; empty means always.
	Conds []Cond
}

// String returns the rule as "nr 39 if arg0 == 0x1 && ...: notify".
func (r Rule) String() string {
	return r.format(nil)
}

func (r Rule) format(arch *syscalls.Arch) string {
	s := fmt.Sprintf("nr %d", r.Syscall)
	if arch != nil {
		if name, ok := arch.Name(r.Syscall); ok {
			s = name
		}
	}
	for i, c := range r.Conds {
		if i == 0 {
			s += " if "
		} else {
			s += " && "
		}
		s += c.String()
	}
	return s + ": " + r.Action.String()
}

// RuleByName returns a Rule for the syscall called name on arch (nil means
// syscalls.Native()). The error wraps syscalls.ErrUnknownSyscall when arch
// has no such syscall. The rule's number is only valid in a Filter for the
// same arch.
func RuleByName(arch *syscalls.Arch, name string, action Action, conds ...Cond) (Rule, error) {
	if arch == nil {
		arch = syscalls.Native()
		if arch == nil {
			return Rule{}, ErrUnknownArch
		}
	}
	nr, err := arch.Number(name)
	if err != nil {
		return Rule{}, fmt.Errorf("seccomp: rule for %q: %w", name, err)
	}
	return Rule{Syscall: nr, Action: action, Conds: conds}, nil
}

// Filter is a seccomp policy: an ordered list of rules and the action for
// every syscall no rule matches.
//
// The rules of one syscall are tried in order; the first one whose
// conditions all hold decides. The order of rules on different syscalls
// does not matter.
type Filter struct {
	// Arch is the ABI the rules are written for; nil means
	// syscalls.Native(). A syscall from another ABI kills the process.
	Arch *syscalls.Arch
	// Default applies when no rule matches; the zero value is Allow.
	Default Action
	// Rules are the rules; see Rule.
	Rules []Rule
}

func (f *Filter) arch() *syscalls.Arch {
	if f.Arch != nil {
		return f.Arch
	}
	return syscalls.Native()
}

// Decide is the reference model of the filter: it returns the Action the
// compiled program returns for d, computed directly from the rules. It is
// meaningful only for a filter that compiles (with conflicting rules it
// picks the first matching one).
func (f *Filter) Decide(d Data) Action {
	arch := f.arch()
	if arch == nil || d.Arch != arch.AuditArch() {
		return foreignArchAction
	}
	nr := uint32(d.Nr)
	if arch == syscalls.X86_64 && nr >= syscalls.X32SyscallBit {
		return x32Action
	}
	for _, r := range f.Rules {
		if uint64(r.Syscall) != uint64(nr) {
			continue
		}
		if matchAll(r.Conds, &d.Args) {
			return r.Action
		}
	}
	return f.Default
}

func matchAll(conds []Cond, args *[maxArgs]uint64) bool {
	for _, c := range conds {
		if !c.match(args) {
			return false
		}
	}
	return true
}

// outcome is what the program does for one syscall number: the rules to
// try in order, then final. With no rules, final alone.
type outcome struct {
	rules []Rule // each with at least one condition, none of them trivial
	final Action
}

// interval is a range of syscall numbers, from start to the next
// interval's start, that share one outcome.
type interval struct {
	start uint32
	out   outcome
}

// Compile checks the filter and compiles it to a seccomp BPF program.
//
// The program first checks seccomp_data.arch (a foreign ABI kills the
// process) and, on x86_64, rejects x32 numbers with ENOSYS; then a binary
// search over the syscall numbers that have rules, so the cost of a syscall
// grows with the logarithm of the number of rules, not linearly; then, for a
// syscall with conditional rules, its conditions in rule order.
func (f *Filter) Compile() (Program, error) {
	arch := f.arch()
	if arch == nil {
		return nil, ErrUnknownArch
	}
	if err := f.Default.valid(); err != nil {
		return nil, fmt.Errorf("%w: default action: %v", ErrInvalidRule, err)
	}
	bySyscall := make(map[int][]int) // rule indexes per syscall, in order
	for i, r := range f.Rules {
		if r.Syscall < 0 || r.Syscall > arch.MaxNumber() {
			return nil, fmt.Errorf("%w: rule %d (%s): syscall number %d out of range 0..%d on %v",
				ErrInvalidRule, i, r.format(arch), r.Syscall, arch.MaxNumber(), arch)
		}
		if err := r.Action.valid(); err != nil {
			return nil, fmt.Errorf("%w: rule %d (%s): %v", ErrInvalidRule, i, r.format(arch), err)
		}
		for _, c := range r.Conds {
			if err := c.valid(); err != nil {
				return nil, fmt.Errorf("%w: rule %d (%s): %v", ErrInvalidRule, i, r.format(arch), err)
			}
		}
		bySyscall[r.Syscall] = append(bySyscall[r.Syscall], i)
	}

	nrs := make([]int, 0, len(bySyscall))
	outcomes := make(map[int]outcome, len(bySyscall))
	for nr, idx := range bySyscall {
		out, err := f.outcome(arch, idx)
		if err != nil {
			return nil, err
		}
		nrs = append(nrs, nr)
		outcomes[nr] = out
	}
	slices.Sort(nrs)

	// Cut the 32-bit number space into intervals; merge neighbours that
	// return the same constant.
	var ivs []interval
	add := func(start uint32, out outcome) {
		if n := len(ivs); n > 0 && ivs[n-1].start == start {
			ivs = ivs[:n-1] // empty: replaced
		}
		if n := len(ivs); n > 0 && len(out.rules) == 0 && len(ivs[n-1].out.rules) == 0 &&
			ivs[n-1].out.final == out.final {
			return
		}
		ivs = append(ivs, interval{start: start, out: out})
	}
	add(0, outcome{final: f.Default})
	for _, nr := range nrs {
		add(uint32(nr), outcomes[nr])
		add(uint32(nr)+1, outcome{final: f.Default})
	}
	if arch == syscalls.X86_64 {
		add(syscalls.X32SyscallBit, outcome{final: x32Action})
	}

	var a assembler
	ok := a.newLabel()
	a.load(offArch)
	a.jump(bpf.JumpEqual, arch.AuditArch(), ok, a.retLabel(foreignArchAction.Ret()))
	a.mark(ok)
	a.load(offNr)
	a.search(ivs, slacks(arch, ivs))

	insns, err := a.resolve()
	if err != nil {
		return nil, err
	}
	if len(insns) > MaxInstructions {
		return nil, fmt.Errorf("%w: %d instructions, the kernel accepts at most %d",
			ErrProgramTooLong, len(insns), MaxInstructions)
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("seccomp: bug: assemble: %w", err)
	}
	prog := make(Program, len(raw))
	for i, r := range raw {
		prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return prog, nil
}

// outcome checks the rules of one syscall (indexes into f.Rules, in order)
// for conflicts and reduces them to what the program must test.
func (f *Filter) outcome(arch *syscalls.Arch, idx []int) (outcome, error) {
	for j, rj := range idx {
		for _, ri := range idx[:j] {
			a, b := f.Rules[ri], f.Rules[rj]
			if a.Action != b.Action && subset(a.Conds, b.Conds) {
				return outcome{}, fmt.Errorf("%w: rule %d (%s) never matches: rule %d (%s) comes first and matches whenever it does",
					ErrConflictingRules, rj, b.format(arch), ri, a.format(arch))
			}
		}
	}

	out := outcome{final: f.Default}
rules:
	for _, i := range idx {
		r := f.Rules[i]
		var conds []Cond
		for _, c := range r.Conds {
			if c.never() {
				continue rules
			}
			if !c.always() {
				conds = append(conds, c)
			}
		}
		if len(conds) == 0 {
			out.final = r.Action // later rules are unreachable
			break
		}
		out.rules = append(out.rules, Rule{Syscall: r.Syscall, Action: r.Action, Conds: conds})
	}
	// A last rule with the final action changes nothing.
	for n := len(out.rules); n > 0 && out.rules[n-1].Action == out.final; n-- {
		out.rules = out.rules[:n-1]
	}
	return out, nil
}

// subset reports whether every condition of a is also in b.
func subset(a, b []Cond) bool {
	for _, c := range a {
		if !slices.Contains(b, c) {
			return false
		}
	}
	return true
}

// outcome emits the code for one syscall number: each rule's conditions in
// order, then the final action.
func (a *assembler) outcome(out outcome) {
	for _, r := range out.rules {
		fail := a.newLabel()
		for _, c := range r.Conds {
			a.cond(c, fail)
		}
		a.ret(r.Action.Ret())
		a.mark(fail)
	}
	a.ret(out.final.Ret())
}

// cond emits a test of c that jumps to fail when c does not hold and falls
// through when it does. A 64-bit argument is compared as two 32-bit words:
// the high words decide unless they are equal.
func (a *assembler) cond(c Cond, fail label) {
	const max32 = ^uint32(0)
	hiOff := offArgs + 8*uint32(c.arg) + 4
	loOff := offArgs + 8*uint32(c.arg)
	vh, vl := uint32(c.val>>32), uint32(c.val)
	pass := a.newLabel()
	switch c.op {
	case opEq:
		a.load(hiOff)
		a.jumpTo(bpf.JumpNotEqual, vh, fail)
		a.load(loOff)
		a.jumpTo(bpf.JumpNotEqual, vl, fail)
	case opNe:
		a.load(hiOff)
		a.jumpTo(bpf.JumpNotEqual, vh, pass)
		a.load(loOff)
		a.jumpTo(bpf.JumpEqual, vl, fail)
	case opGt, opGe:
		// hi > vh: pass; hi < vh: fail; else compare the low words.
		a.load(hiOff)
		if vh != max32 {
			a.jumpTo(bpf.JumpGreaterThan, vh, pass)
		}
		if vh != 0 {
			a.jumpTo(bpf.JumpNotEqual, vh, fail)
		}
		switch {
		case c.op == opGt:
			a.load(loOff)
			a.jumpTo(bpf.JumpLessOrEqual, vl, fail)
		case vl != 0:
			a.load(loOff)
			a.jumpTo(bpf.JumpLessThan, vl, fail)
		}
	case opLt, opLe:
		// hi < vh: pass; hi > vh: fail; else compare the low words.
		a.load(hiOff)
		if vh != 0 {
			a.jumpTo(bpf.JumpLessThan, vh, pass)
		}
		if vh != max32 {
			a.jumpTo(bpf.JumpNotEqual, vh, fail)
		}
		switch {
		case c.op == opLt:
			a.load(loOff)
			a.jumpTo(bpf.JumpGreaterOrEqual, vl, fail)
		case vl != max32:
			a.load(loOff)
			a.jumpTo(bpf.JumpGreaterThan, vl, fail)
		}
	case opMaskedEq:
		mh, ml := uint32(c.mask>>32), uint32(c.mask)
		for _, w := range []struct{ off, m, v uint32 }{{hiOff, mh, vh}, {loOff, ml, vl}} {
			if w.m == 0 {
				continue // v has no bits outside the mask: 0 == 0
			}
			a.load(w.off)
			if w.m != max32 {
				a.insn(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: w.m})
			}
			a.jumpTo(bpf.JumpNotEqual, w.v, fail)
		}
	}
	a.mark(pass)
}
