package seccomp

import (
	"fmt"
	"math"
	"slices"

	"golang.org/x/net/bpf"
)

// This file holds a small label-based assembler for classic BPF.
//
// elastic/go-seccomp-bpf's Program assembler was the first candidate, but it
// cannot emit the instructions this package needs (loads of nr and arch, the
// ALU and of ArgMaskedEq, unconditional jumps) and its long-jump fix-up
// inserts instructions without re-resolving jumps it already resolved. So
// the code is generated here with symbolic labels and assembled by
// golang.org/x/net/bpf.
//
// Only forward jumps exist. A conditional jump reaches at most 255
// instructions. A jump to a return can land on any return of the same
// value, so returns are shared: code jumps to retLabel(v), which resolve
// binds to the nearest "ret v" ahead, inserting one right after the jump
// when none is in reach. A jump to other code further than 255 goes through
// a trampoline, an unconditional jump (32-bit offset) inserted right after
// it, which costs one more instruction at run time.

// label names a position in the program. Labels are defined exactly once.
type label int

type itemKind uint8

const (
	itemInsn  itemKind = iota + 1 // a non-jump instruction
	itemJump                      // a conditional jump to two labels
	itemLabel                     // a label definition (no instruction)
)

type item struct {
	kind   itemKind
	insn   bpf.Instruction // itemInsn
	cond   bpf.JumpTest    // itemJump
	val    uint32          // itemJump
	jt, jf label           // itemJump
	lbl    label           // itemLabel
}

type assembler struct {
	items     []item
	labels    int
	rets      map[label]uint32 // labels made by retLabel, never marked
	retLabels map[uint32]label // the inverse
}

// retLabel returns a label that stands for any "ret v" instruction.
func (a *assembler) retLabel(v uint32) label {
	if l, ok := a.retLabels[v]; ok {
		return l
	}
	if a.rets == nil {
		a.rets, a.retLabels = make(map[label]uint32), make(map[uint32]label)
	}
	l := a.newLabel()
	a.rets[l], a.retLabels[v] = v, l
	return l
}

func (a *assembler) newLabel() label {
	a.labels++
	return label(a.labels)
}

// mark defines l at the current position.
func (a *assembler) mark(l label) {
	a.items = append(a.items, item{kind: itemLabel, lbl: l})
}

func (a *assembler) insn(i bpf.Instruction) {
	a.items = append(a.items, item{kind: itemInsn, insn: i})
}

func (a *assembler) ret(v uint32) { a.insn(bpf.RetConstant{Val: v}) }

// load emits A = 32-bit word at offset off of seccomp_data.
func (a *assembler) load(off uint32) { a.insn(bpf.LoadAbsolute{Off: off, Size: 4}) }

// jump emits "if A cond val goto t else goto f".
func (a *assembler) jump(cond bpf.JumpTest, val uint32, t, f label) {
	a.items = append(a.items, item{kind: itemJump, cond: cond, val: val, jt: t, jf: f})
}

// jumpTo emits "if A cond val goto t", falling through otherwise.
func (a *assembler) jumpTo(cond bpf.JumpTest, val uint32, t label) {
	next := a.newLabel()
	a.jump(cond, val, t, next)
	a.mark(next)
}

// resolve computes every jump offset and returns the program as x/net/bpf
// instructions. It walks the items from the end: there, how many
// instructions follow an instruction is already final, since inserting a
// trampoline after a jump moves only what comes before it.
func (a *assembler) resolve() ([]bpf.Instruction, error) {
	r := resolver{
		asm:     a,
		labelAt: make(map[label]int),
		labelIn: make(map[label]bpf.Instruction),
		retAt:   make(map[uint32]int),
		jaAt:    make(map[label]int),
	}
	for i := len(a.items) - 1; i >= 0; i-- {
		if err := r.item(a.items[i]); err != nil {
			return nil, err
		}
	}
	slices.Reverse(r.out)
	return r.out, nil
}

// resolver holds the state of resolve. Positions are counted from the end:
// "after" is the number of instructions that follow an instruction.
type resolver struct {
	asm     *assembler
	out     []bpf.Instruction         // the program, reversed
	labelAt map[label]int             // label -> after of its instruction
	labelIn map[label]bpf.Instruction // label -> its instruction
	retAt   map[uint32]int            // ret value -> after of the nearest one
	jaAt    map[label]int             // label -> after of the nearest trampoline to it
}

func (r *resolver) emit(in bpf.Instruction) {
	if ret, ok := in.(bpf.RetConstant); ok {
		r.retAt[ret.Val] = len(r.out)
	}
	r.out = append(r.out, in)
}

func (r *resolver) item(it item) error {
	switch it.kind {
	case itemLabel:
		if len(r.out) == 0 {
			return fmt.Errorf("seccomp: bug: label %d at the end of the program", it.lbl)
		}
		r.labelAt[it.lbl] = len(r.out) - 1
		r.labelIn[it.lbl] = r.out[len(r.out)-1]
	case itemInsn:
		r.emit(it.insn)
	case itemJump:
		return r.jump(it)
	}
	return nil
}

// branch is one target of a jump.
type branch struct {
	l      label
	isRet  bool   // any return of value ret will do
	ret    uint32 // if isRet
	found  bool   // a target exists ahead (always, unless isRet)
	after  int    // the target's position, if found
	via    int    // a trampoline to l ahead, or -1
	use    int    // the position the jump goes to
	insert bool   // needs a new trampoline right after the jump
}

func (r *resolver) branch(l label) (branch, error) {
	b := branch{l: l, via: -1}
	if v, ok := r.asm.rets[l]; ok {
		b.isRet, b.ret = true, v
	} else {
		at, ok := r.labelAt[l]
		if !ok {
			return b, fmt.Errorf("seccomp: bug: jump to undefined or earlier label %d", l)
		}
		if ret, ok := r.labelIn[l].(bpf.RetConstant); ok {
			b.isRet, b.ret = true, ret.Val
		} else {
			b.found, b.after = true, at
			if via, ok := r.jaAt[l]; ok {
				b.via = via
			}
		}
	}
	if b.isRet {
		b.after, b.found = r.retAt[b.ret] // the nearest equal return
	}
	return b, nil
}

func (r *resolver) jump(it item) error {
	var bs [2]branch
	for j, l := range []label{it.jt, it.jf} {
		var err error
		if bs[j], err = r.branch(l); err != nil {
			return err
		}
	}
	// With m trampolines inserted after it, the jump has len(r.out)+m
	// instructions after it; a target is in reach at most 255 ahead.
	reach := func(m, after int) bool { return len(r.out)+m-after-1 <= math.MaxUint8 }
	for m := 0; ; m++ {
		need := 0
		for j := range bs {
			b := &bs[j]
			b.insert = false
			switch {
			case b.found && reach(m, b.after):
				b.use = b.after
			case !b.isRet && b.via >= 0 && reach(m, b.via):
				b.use = b.via // share a trampoline already there
			default:
				b.insert = true
				need++
			}
		}
		if need <= m {
			break
		}
	}
	// Trampolines go right after the jump, the true branch's first; in the
	// reversed output the false branch's comes first.
	for j := 1; j >= 0; j-- {
		b := &bs[j]
		if !b.insert {
			continue
		}
		switch {
		case b.isRet && j == 0 && bs[1].insert && bs[1].isRet && bs[1].ret == b.ret:
			// The false branch's return just inserted will do.
		case b.isRet:
			r.emit(bpf.RetConstant{Val: b.ret})
		default:
			r.jaAt[b.l] = len(r.out)
			r.emit(bpf.Jump{Skip: uint32(len(r.out) - b.after - 1)})
		}
		b.use = len(r.out) - 1
	}
	var skip [2]uint8
	for j := range bs {
		d := len(r.out) - bs[j].use - 1
		if d < 0 || d > math.MaxUint8 {
			return fmt.Errorf("seccomp: bug: jump offset %d", d)
		}
		skip[j] = uint8(d)
	}
	r.out = append(r.out, bpf.JumpIf{Cond: it.cond, Val: it.val, SkipTrue: skip[0], SkipFalse: skip[1]})
	return nil
}
