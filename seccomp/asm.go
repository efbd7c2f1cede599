package seccomp

import (
	"fmt"
	"math"

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
// instructions; when a target is further, resolve inserts a trampoline right
// after the jump: a copy of the target if it is a return (no extra step at
// run time), else an unconditional jump (32-bit offset) to it.

// label names a position in the program. Labels are defined exactly once.
type label int

type itemKind uint8

const (
	itemInsn  itemKind = iota + 1 // a non-jump instruction
	itemJump                      // a conditional jump to two labels
	itemJa                        // an unconditional jump to a label
	itemLabel                     // a label definition (no instruction)
)

type item struct {
	kind   itemKind
	insn   bpf.Instruction // itemInsn
	cond   bpf.JumpTest    // itemJump
	val    uint32          // itemJump
	jt, jf label           // itemJump; jt is also the target of itemJa
	lbl    label           // itemLabel
}

type assembler struct {
	items  []item
	labels int
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

// ja emits an unconditional jump to t.
func (a *assembler) ja(t label) {
	a.items = append(a.items, item{kind: itemJa, jt: t})
}

// layout returns the instruction index of every item and of every label.
func (a *assembler) layout() (pos []int, at []int, n int) {
	pos = make([]int, len(a.items))
	at = make([]int, a.labels+1)
	for i := range at {
		at[i] = -1
	}
	for i, it := range a.items {
		pos[i] = n
		if it.kind == itemLabel {
			at[it.lbl] = n
			continue
		}
		n++
	}
	return pos, at, n
}

// trampoline returns the instruction to place near a jump whose target t is
// out of reach: a copy of t's instruction if that is a return, else a jump.
func (a *assembler) trampoline(t label) item {
	for i, it := range a.items {
		if it.kind != itemLabel || it.lbl != t {
			continue
		}
		for _, next := range a.items[i+1:] {
			if next.kind == itemLabel {
				continue
			}
			if r, ok := next.insn.(bpf.RetConstant); ok && next.kind == itemInsn {
				return item{kind: itemInsn, insn: r}
			}
			break
		}
		break
	}
	return item{kind: itemJa, jt: t}
}

// resolve inserts trampolines until every conditional jump is short and
// returns the program as x/net/bpf instructions.
func (a *assembler) resolve() ([]bpf.Instruction, error) {
	// Every pass gives each out-of-reach branch its own trampoline, at
	// distance 0 or 1, which then never needs another: it terminates.
	for {
		pos, at, _ := a.layout()
		var out []item
		changed := false
		for i, it := range a.items {
			if it.kind != itemJump {
				out = append(out, it)
				continue
			}
			dt, df := at[it.jt]-pos[i]-1, at[it.jf]-pos[i]-1
			if at[it.jt] < 0 || at[it.jf] < 0 || dt < 0 || df < 0 {
				return nil, fmt.Errorf("seccomp: bug: jump %d to undefined or earlier label", pos[i])
			}
			var tramps []item
			if dt > math.MaxUint8 {
				l := a.newLabel()
				tramps = append(tramps, item{kind: itemLabel, lbl: l}, a.trampoline(it.jt))
				it.jt = l
			}
			if df > math.MaxUint8 {
				l := a.newLabel()
				tramps = append(tramps, item{kind: itemLabel, lbl: l}, a.trampoline(it.jf))
				it.jf = l
			}
			out = append(out, it)
			out = append(out, tramps...)
			changed = changed || len(tramps) > 0
		}
		a.items = out
		if !changed {
			break
		}
	}

	pos, at, n := a.layout()
	insns := make([]bpf.Instruction, 0, n)
	for i, it := range a.items {
		switch it.kind {
		case itemInsn:
			insns = append(insns, it.insn)
		case itemJump:
			insns = append(insns, bpf.JumpIf{
				Cond:      it.cond,
				Val:       it.val,
				SkipTrue:  uint8(at[it.jt] - pos[i] - 1),
				SkipFalse: uint8(at[it.jf] - pos[i] - 1),
			})
		case itemJa:
			d := at[it.jt] - pos[i] - 1
			if at[it.jt] < 0 || d < 0 {
				return nil, fmt.Errorf("seccomp: bug: jump %d to undefined or earlier label", pos[i])
			}
			insns = append(insns, bpf.Jump{Skip: uint32(d)})
		}
	}
	return insns, nil
}
