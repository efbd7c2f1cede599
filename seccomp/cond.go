package seccomp

import "fmt"

// maxArgs is the number of syscall arguments in seccomp_data.
const maxArgs = 6

// condOp is the comparison of a Cond.
type condOp uint8

const (
	opEq condOp = iota + 1
	opNe
	opLt
	opLe
	opGt
	opGe
	opMaskedEq
)

// Cond is one condition on a syscall argument, compared as an unsigned
// 64-bit integer. All conditions of a Rule must hold for it to match.
// Build a Cond with ArgEq, ArgNe, ArgLt, ArgLe, ArgGt, ArgGe or ArgMaskedEq.
//
// A 32-bit argument (an int or a flags word) arrives in seccomp_data as the
// register value: the upper half is whatever the caller left there, usually
// zero, but sign-extended for a negative int on some ABIs. Compare such an
// argument with ArgMaskedEq(i, 0xffffffff, uint64(uint32(v))) when the upper
// half must not matter.
type Cond struct {
	arg  int
	op   condOp
	mask uint64
	val  uint64
}

// ArgEq matches when argument i (0..5) equals v.
func ArgEq(i int, v uint64) Cond { return Cond{arg: i, op: opEq, val: v} }

// ArgNe matches when argument i (0..5) differs from v.
func ArgNe(i int, v uint64) Cond { return Cond{arg: i, op: opNe, val: v} }

// ArgLt matches when argument i (0..5) is below v (unsigned).
func ArgLt(i int, v uint64) Cond { return Cond{arg: i, op: opLt, val: v} }

// ArgLe matches when argument i (0..5) is at most v (unsigned).
func ArgLe(i int, v uint64) Cond { return Cond{arg: i, op: opLe, val: v} }

// ArgGt matches when argument i (0..5) is above v (unsigned).
func ArgGt(i int, v uint64) Cond { return Cond{arg: i, op: opGt, val: v} }

// ArgGe matches when argument i (0..5) is at least v (unsigned).
func ArgGe(i int, v uint64) Cond { return Cond{arg: i, op: opGe, val: v} }

// ArgMaskedEq matches when argument i (0..5), and-ed with mask, equals v.
// A v with bits outside mask never matches.
func ArgMaskedEq(i int, mask, v uint64) Cond {
	return Cond{arg: i, op: opMaskedEq, mask: mask, val: v}
}

// String returns the condition as an expression, e.g. "arg1 >= 0x10" or
// "arg2 & 0x3 == 0x1".
func (c Cond) String() string {
	var op string
	switch c.op {
	case opEq:
		op = "=="
	case opNe:
		op = "!="
	case opLt:
		op = "<"
	case opLe:
		op = "<="
	case opGt:
		op = ">"
	case opGe:
		op = ">="
	case opMaskedEq:
		return fmt.Sprintf("arg%d & %#x == %#x", c.arg, c.mask, c.val)
	default:
		return fmt.Sprintf("arg%d <invalid condition>", c.arg)
	}
	return fmt.Sprintf("arg%d %s %#x", c.arg, op, c.val)
}

// valid reports why c cannot be compiled, if it cannot.
func (c Cond) valid() error {
	if c.arg < 0 || c.arg >= maxArgs {
		return fmt.Errorf("condition %v: argument index %d out of range 0..%d", c, c.arg, maxArgs-1)
	}
	if c.op < opEq || c.op > opMaskedEq {
		return fmt.Errorf("condition on arg%d: zero or invalid Cond (use ArgEq and friends)", c.arg)
	}
	return nil
}

// match is the reference semantics of c on the arguments of a syscall.
func (c Cond) match(args *[maxArgs]uint64) bool {
	x := args[c.arg]
	switch c.op {
	case opEq:
		return x == c.val
	case opNe:
		return x != c.val
	case opLt:
		return x < c.val
	case opLe:
		return x <= c.val
	case opGt:
		return x > c.val
	case opGe:
		return x >= c.val
	case opMaskedEq:
		return x&c.mask == c.val
	}
	return false
}

// always reports whether c holds for every argument value.
func (c Cond) always() bool {
	switch c.op {
	case opGe:
		return c.val == 0
	case opLe:
		return c.val == ^uint64(0)
	case opMaskedEq:
		return c.mask == 0 && c.val == 0
	}
	return false
}

// never reports whether c holds for no argument value.
func (c Cond) never() bool {
	switch c.op {
	case opLt:
		return c.val == 0
	case opGt:
		return c.val == ^uint64(0)
	case opMaskedEq:
		return c.val&^c.mask != 0
	}
	return false
}
