package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Program is a compiled seccomp filter: classic BPF instructions over
// struct seccomp_data, ready for Install.
type Program []unix.SockFilter

// ErrInvalidProgram is returned by Validate, UnmarshalProgram, Evaluate
// and Install for a program the kernel would reject.
var ErrInvalidProgram = errors.New("seccomp: invalid program")

const insnSize = 8 // sizeof(struct sock_filter)

// Marshal encodes p as 8 bytes per instruction (code u16, jt u8, jf u8,
// k u32, little-endian), for example to hand a compiled filter to a
// re-executed helper process. UnmarshalProgram decodes it.
func (p Program) Marshal() []byte {
	b := make([]byte, 0, len(p)*insnSize)
	for _, in := range p {
		b = binary.LittleEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.LittleEndian.AppendUint32(b, in.K)
	}
	return b
}

// UnmarshalProgram decodes the output of Program.Marshal and checks the
// program as the kernel would (see Program.Validate).
func UnmarshalProgram(b []byte) (Program, error) {
	if len(b)%insnSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a multiple of %d", ErrInvalidProgram, len(b), insnSize)
	}
	p := make(Program, len(b)/insnSize)
	for i := range p {
		w := b[i*insnSize:]
		p[i] = unix.SockFilter{
			Code: binary.LittleEndian.Uint16(w),
			Jt:   w[2],
			Jf:   w[3],
			K:    binary.LittleEndian.Uint32(w[4:]),
		}
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Data is struct seccomp_data, what a seccomp filter sees of a syscall.
// In memory it is 64 bytes, little-endian on the supported architectures:
// nr at offset 0, arch at 4, instruction_pointer at 8, args[i] at 16+8*i
// (low word first).
type Data struct {
	Nr                 int32
	Arch               uint32
	InstructionPointer uint64
	Args               [6]uint64
}

// dataSize is sizeof(struct seccomp_data).
const dataSize = 64

// word returns the 32-bit word of d at byte offset off (4-aligned, < 64).
func (d *Data) word(off uint32) uint32 {
	var v uint64
	switch {
	case off == offNr:
		return uint32(d.Nr)
	case off == offArch:
		return d.Arch
	case off < offArgs:
		v = d.InstructionPointer
	default:
		v = d.Args[(off-offArgs)/8]
	}
	if off%8 != 0 {
		return uint32(v >> 32)
	}
	return uint32(v)
}

// Classic BPF opcode fields.
const (
	bpfClass = 0x07
	bpfLD    = 0x00
	bpfLDX   = 0x01
	bpfST    = 0x02
	bpfSTX   = 0x03
	bpfALU   = 0x04
	bpfJMP   = 0x05
	bpfRET   = 0x06
	bpfMISC  = 0x07

	bpfW   = 0x00
	bpfIMM = 0x00
	bpfABS = 0x20
	bpfMEM = 0x60
	bpfLEN = 0x80

	bpfK = 0x00
	bpfX = 0x08
	bpfA = 0x10

	bpfADD = 0x00
	bpfSUB = 0x10
	bpfMUL = 0x20
	bpfDIV = 0x30
	bpfOR  = 0x40
	bpfAND = 0x50
	bpfLSH = 0x60
	bpfRSH = 0x70
	bpfNEG = 0x80
	bpfXOR = 0xa0

	bpfJA   = 0x00
	bpfJEQ  = 0x10
	bpfJGT  = 0x20
	bpfJGE  = 0x30
	bpfJSET = 0x40

	bpfTAX = 0x00
	bpfTXA = 0x80

	bpfMemWords = 16
)

// Validate checks p the way the kernel does before it accepts a seccomp
// filter: 1..4096 instructions, only the opcodes seccomp allows, 32-bit
// loads at aligned offsets inside seccomp_data, no division by a constant
// zero, jumps inside the program, and a return as the last instruction.
func (p Program) Validate() error {
	if len(p) == 0 || len(p) > MaxInstructions {
		return fmt.Errorf("%w: %d instructions, want 1..%d", ErrInvalidProgram, len(p), MaxInstructions)
	}
	for pc, in := range p {
		bad := func(why string) error {
			return fmt.Errorf("%w: instruction %d (%#04x): %s", ErrInvalidProgram, pc, in.Code, why)
		}
		switch in.Code {
		case bpfLD | bpfW | bpfABS:
			if in.K >= dataSize || in.K%4 != 0 {
				return bad(fmt.Sprintf("load at offset %d outside seccomp_data or unaligned", in.K))
			}
		case bpfLD | bpfW | bpfLEN, bpfLDX | bpfW | bpfLEN,
			bpfLD | bpfIMM, bpfLDX | bpfIMM,
			bpfMISC | bpfTAX, bpfMISC | bpfTXA,
			bpfRET | bpfK, bpfRET | bpfA,
			bpfALU | bpfNEG:
		case bpfLD | bpfMEM, bpfLDX | bpfMEM, bpfST, bpfSTX:
			if in.K >= bpfMemWords {
				return bad("scratch memory index out of range")
			}
		case bpfALU | bpfDIV | bpfK:
			if in.K == 0 {
				return bad("division by zero")
			}
		case bpfALU | bpfADD | bpfK, bpfALU | bpfADD | bpfX,
			bpfALU | bpfSUB | bpfK, bpfALU | bpfSUB | bpfX,
			bpfALU | bpfMUL | bpfK, bpfALU | bpfMUL | bpfX,
			bpfALU | bpfDIV | bpfX,
			bpfALU | bpfAND | bpfK, bpfALU | bpfAND | bpfX,
			bpfALU | bpfOR | bpfK, bpfALU | bpfOR | bpfX,
			bpfALU | bpfXOR | bpfK, bpfALU | bpfXOR | bpfX,
			bpfALU | bpfLSH | bpfK, bpfALU | bpfLSH | bpfX,
			bpfALU | bpfRSH | bpfK, bpfALU | bpfRSH | bpfX:
		case bpfJMP | bpfJA:
			if uint64(in.K) >= uint64(len(p)-pc-1) {
				return bad("jump out of the program")
			}
		case bpfJMP | bpfJEQ | bpfK, bpfJMP | bpfJEQ | bpfX,
			bpfJMP | bpfJGT | bpfK, bpfJMP | bpfJGT | bpfX,
			bpfJMP | bpfJGE | bpfK, bpfJMP | bpfJGE | bpfX,
			bpfJMP | bpfJSET | bpfK, bpfJMP | bpfJSET | bpfX:
			if pc+1+int(max(in.Jt, in.Jf)) >= len(p) {
				return bad("jump out of the program")
			}
		default:
			return bad("opcode not allowed in seccomp filters")
		}
	}
	if last := p[len(p)-1].Code; last != bpfRET|bpfK && last != bpfRET|bpfA {
		return fmt.Errorf("%w: last instruction is not a return", ErrInvalidProgram)
	}
	return nil
}

// Evaluate runs p on d in a seccomp BPF interpreter written in Go, as the
// kernel would, and returns the SECCOMP_RET_* value. It fails only for an
// invalid program.
func (p Program) Evaluate(d Data) (uint32, error) {
	ret, _, err := p.EvaluateSteps(d)
	return ret, err
}

// EvaluateSteps is Evaluate that also reports how many instructions were
// executed: the cost of the filter for that syscall.
func (p Program) EvaluateSteps(d Data) (ret uint32, steps int, err error) {
	if err := p.Validate(); err != nil {
		return 0, 0, err
	}
	var a, x uint32
	var mem [bpfMemWords]uint32
	for pc := 0; pc < len(p); pc++ {
		in := p[pc]
		steps++
		switch in.Code & bpfClass {
		case bpfRET:
			if in.Code == bpfRET|bpfA {
				return a, steps, nil
			}
			return in.K, steps, nil
		case bpfLD:
			switch in.Code {
			case bpfLD | bpfW | bpfABS:
				a = d.word(in.K)
			case bpfLD | bpfW | bpfLEN:
				a = dataSize
			case bpfLD | bpfIMM:
				a = in.K
			case bpfLD | bpfMEM:
				a = mem[in.K]
			}
		case bpfLDX:
			switch in.Code {
			case bpfLDX | bpfW | bpfLEN:
				x = dataSize
			case bpfLDX | bpfIMM:
				x = in.K
			case bpfLDX | bpfMEM:
				x = mem[in.K]
			}
		case bpfST:
			mem[in.K] = a
		case bpfSTX:
			mem[in.K] = x
		case bpfMISC:
			if in.Code == bpfMISC|bpfTAX {
				x = a
			} else {
				a = x
			}
		case bpfALU:
			op := in.Code &^ bpfX &^ bpfClass
			v := in.K
			if in.Code&bpfX != 0 {
				v = x
			}
			switch op {
			case bpfADD:
				a += v
			case bpfSUB:
				a -= v
			case bpfMUL:
				a *= v
			case bpfDIV:
				if v == 0 {
					return 0, steps, nil // the kernel's classic BPF returns 0
				}
				a /= v
			case bpfAND:
				a &= v
			case bpfOR:
				a |= v
			case bpfXOR:
				a ^= v
			case bpfLSH:
				if v >= 32 {
					a = 0
				} else {
					a <<= v
				}
			case bpfRSH:
				if v >= 32 {
					a = 0
				} else {
					a >>= v
				}
			case bpfNEG:
				a = -a
			}
		case bpfJMP:
			if in.Code == bpfJMP|bpfJA {
				pc += int(in.K)
				continue
			}
			v := in.K
			if in.Code&bpfX != 0 {
				v = x
			}
			var taken bool
			switch in.Code &^ bpfX &^ bpfClass {
			case bpfJEQ:
				taken = a == v
			case bpfJGT:
				taken = a > v
			case bpfJGE:
				taken = a >= v
			case bpfJSET:
				taken = a&v != 0
			}
			if taken {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		}
	}
	return 0, steps, fmt.Errorf("%w: ran off the end", ErrInvalidProgram) // unreachable after Validate
}

// Disassemble returns p as text, one instruction a line with its index;
// jumps show their absolute targets, loads the seccomp_data field, returns
// the action. Meant for test failure messages.
func (p Program) Disassemble() string {
	var b strings.Builder
	for pc, in := range p {
		fmt.Fprintf(&b, "%4d: ", pc)
		raw := bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
		switch {
		case in.Code == bpfJMP|bpfJA:
			fmt.Fprintf(&b, "ja %d", pc+1+int(in.K))
		case in.Code&bpfClass == bpfJMP:
			name := map[uint16]string{bpfJEQ: "jeq", bpfJGT: "jgt", bpfJGE: "jge", bpfJSET: "jset"}[in.Code&^bpfX&^bpfClass]
			operand := fmt.Sprintf("#%#x", in.K)
			if in.Code&bpfX != 0 {
				operand = "x"
			}
			fmt.Fprintf(&b, "%s %s, %d, %d", name, operand, pc+1+int(in.Jt), pc+1+int(in.Jf))
		case in.Code == bpfLD|bpfW|bpfABS:
			fmt.Fprintf(&b, "ld [%d] ; %s", in.K, fieldName(in.K))
		case in.Code == bpfRET|bpfK:
			if act, ok := ActionFromRet(in.K); ok {
				fmt.Fprintf(&b, "ret #%#x ; %v", in.K, act)
			} else {
				fmt.Fprintf(&b, "ret #%#x", in.K)
			}
		default:
			if s, ok := raw.Disassemble().(fmt.Stringer); ok {
				b.WriteString(s.String())
			} else {
				fmt.Fprintf(&b, "%#v", raw)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// fieldName names the seccomp_data word at offset off.
func fieldName(off uint32) string {
	switch {
	case off == offNr:
		return "nr"
	case off == offArch:
		return "arch"
	case off == 8:
		return "ip.lo"
	case off == 12:
		return "ip.hi"
	case off < dataSize:
		half := "lo"
		if off%8 != 0 {
			half = "hi"
		}
		return fmt.Sprintf("arg%d.%s", (off-offArgs)/8, half)
	}
	return "?"
}
