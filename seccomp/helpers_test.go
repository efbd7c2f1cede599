package seccomp_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// auditI386 is AUDIT_ARCH_I386: what an int 0x80 syscall reports on x86_64.
const auditI386 = 0x40000003

var allArches = []*syscalls.Arch{syscalls.X86_64, syscalls.AArch64, syscalls.RISCV64}

func mustCompile(t testing.TB, f *seccomp.Filter) seccomp.Program {
	t.Helper()
	p, err := f.Compile()
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func describe(f *seccomp.Filter) string {
	var b strings.Builder
	arch := f.Arch
	if arch == nil {
		arch = syscalls.Native()
	}
	fmt.Fprintf(&b, "arch %v, default %v, %d rules:\n", arch, f.Default, len(f.Rules))
	for i, r := range f.Rules {
		if i == 40 {
			fmt.Fprintf(&b, "  ...\n")
			break
		}
		fmt.Fprintf(&b, "  %d: %v\n", i, r)
	}
	return b.String()
}

// check evaluates p on every input and compares with the reference model,
// and, as a second opinion on the interpreter, with the x/net/bpf VM.
func check(t testing.TB, f *seccomp.Filter, p seccomp.Program, inputs []seccomp.Data) {
	t.Helper()
	vm := xnetVM(t, p)
	for _, d := range inputs {
		want := f.Decide(d)
		got, err := p.Evaluate(d)
		if err != nil {
			t.Fatalf("Evaluate(%+v): %v\n%s", d, err, p.Disassemble())
		}
		if got != want.Ret() {
			gotAct, _ := seccomp.ActionFromRet(got)
			t.Fatalf("input %+v: program returns %#x (%v), model says %v\n%s\nprogram:\n%s",
				d, got, gotAct, want, describe(f), p.Disassemble())
		}
		if vmGot := runXnetVM(t, vm, d); vmGot != got {
			t.Fatalf("input %+v: x/net/bpf VM returns %#x, Evaluate %#x\n%s", d, vmGot, got, p.Disassemble())
		}
	}
}

// xnetVM loads p into the x/net/bpf VM.
func xnetVM(t testing.TB, p seccomp.Program) *bpf.VM {
	t.Helper()
	raw := make([]bpf.RawInstruction, len(p))
	for i, in := range p {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	insns, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("x/net/bpf cannot disassemble the program")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("bpf.NewVM: %v", err)
	}
	return vm
}

// runXnetVM runs d through the x/net/bpf VM. That VM loads words in network
// byte order, so every 32-bit word of seccomp_data is stored big-endian.
func runXnetVM(t testing.TB, vm *bpf.VM, d seccomp.Data) uint32 {
	t.Helper()
	words := []uint32{uint32(d.Nr), d.Arch, uint32(d.InstructionPointer), uint32(d.InstructionPointer >> 32)}
	for _, a := range d.Args {
		words = append(words, uint32(a), uint32(a>>32))
	}
	var pkt []byte
	for _, w := range words {
		pkt = binary.BigEndian.AppendUint32(pkt, w)
	}
	r, err := vm.Run(pkt)
	if err != nil {
		t.Fatalf("x/net/bpf VM: %v", err)
	}
	return uint32(r)
}

// interesting are argument values at the 32-bit word edges.
var interesting = []uint64{
	0, 1, 2, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
	1 << 32, 1<<32 + 1, 1<<32 - 1, 2 << 32, 0xffffffff00000000, 0xffffffff00000001,
	1 << 63, 1<<63 - 1, ^uint64(0), ^uint64(0) - 1, 0x0000000100000005, 0x0000000200000003,
}

// around returns values next to v and to its words.
func around(v uint64) []uint64 {
	return []uint64{
		v, v - 1, v + 1, v ^ 1<<32, v + 1<<32, v - 1<<32,
		v & 0xffffffff, v &^ 0xffffffff, v | 0xffffffff, v ^ 0xffffffff,
		uint64(uint32(v)+1) | v&^0xffffffff, uint64(uint32(v)-1) | v&^0xffffffff,
		(v>>32+1)<<32 | v&0xffffffff, (v>>32-1)<<32 | v&0xffffffff,
	}
}

// inputs returns seccomp_data values that exercise f: every syscall number
// with rules and its neighbours, foreign arch and x32 numbers, and argument
// values at and around every condition's constants.
func inputs(f *seccomp.Filter, r *rand.Rand) []seccomp.Data {
	arch := f.Arch
	if arch == nil {
		arch = syscalls.Native()
	}
	nrs := []int32{0, 1, int32(arch.MaxNumber()), int32(arch.MaxNumber()) + 1, -1, 0x7fffffff,
		syscalls.X32SyscallBit, syscalls.X32SyscallBit - 1, syscalls.X32SyscallBit + 1}
	argVals := make([][]uint64, 6)
	for _, rule := range f.Rules {
		nr := int32(rule.Syscall)
		nrs = append(nrs, nr, nr-1, nr+1, nr|syscalls.X32SyscallBit)
	}
	for i := range argVals {
		argVals[i] = append(argVals[i], interesting...)
	}
	for _, rule := range f.Rules {
		for _, c := range rule.Conds {
			i, v, m := condParts(c)
			if i < 0 || i >= 6 {
				continue
			}
			argVals[i] = append(argVals[i], around(v)...)
			argVals[i] = append(argVals[i], v|^m, v&m, (v|^m)&^1)
		}
	}
	for i := range argVals {
		slices.Sort(argVals[i])
		argVals[i] = slices.Compact(argVals[i])
	}
	slices.Sort(nrs)
	nrs = slices.Compact(nrs)

	var out []seccomp.Data
	for _, nr := range nrs {
		for _, a := range []uint32{arch.AuditArch(), auditI386, otherAudit(arch)} {
			out = append(out, seccomp.Data{Nr: nr, Arch: a})
		}
		// One argument at a time, the others zero.
		for i, vals := range argVals {
			for _, v := range vals {
				d := seccomp.Data{Nr: nr, Arch: arch.AuditArch()}
				d.Args[i] = v
				out = append(out, d)
			}
		}
		// Random combinations, so that rules with several conditions match.
		for range 64 {
			d := seccomp.Data{Nr: nr, Arch: arch.AuditArch(), InstructionPointer: r.Uint64()}
			for i, vals := range argVals {
				d.Args[i] = vals[r.IntN(len(vals))]
			}
			out = append(out, d)
		}
	}
	return out
}

func otherAudit(arch *syscalls.Arch) uint32 {
	if arch == syscalls.X86_64 {
		return syscalls.AArch64.AuditArch()
	}
	return syscalls.X86_64.AuditArch()
}

// condParts extracts argument index, value and mask of a Cond through its
// String form, to stay in the external test package.
func condParts(c seccomp.Cond) (arg int, val, mask uint64) {
	s := c.String()
	mask = ^uint64(0)
	if _, err := fmt.Sscanf(s, "arg%d & %v == %v", &arg, &mask, &val); err == nil {
		return arg, val, mask
	}
	var op string
	mask = ^uint64(0)
	if _, err := fmt.Sscanf(s, "arg%d %s %v", &arg, &op, &val); err == nil {
		return arg, val, mask
	}
	return -1, 0, 0
}
