package syscalls

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// X32SyscallBit is __X32_SYSCALL_BIT: x32 programs run on the x86_64 audit
// arch with this bit set in the syscall number. The x86_64 table has no x32
// numbers, so Name reports them as unknown; a filter should deny them.
const X32SyscallBit = 0x40000000

// Syscall is one entry of a table: a lowercase kernel name and its number.
type Syscall struct {
	Name   string
	Number int
}

// table is the generated data of one Arch (see the zsysnum_*_table.go files).
type table struct {
	byNumber []Syscall // canonical names, sorted by number
	byName   []Syscall // canonical names and aliases, sorted by name
}

// Arch is one syscall ABI. The values are the package-level pointers X86_64,
// AArch64 and RISCV64; compare them with ==. A nil *Arch is valid and knows
// no syscalls.
type Arch struct {
	name   string
	goarch string
	audit  uint32
	table  *table
}

// The supported architectures.
var (
	// X86_64 is the 64-bit x86 ABI (GOARCH amd64), without x32.
	X86_64 = &Arch{name: "x86_64", goarch: "amd64", audit: unix.AUDIT_ARCH_X86_64, table: &x86_64Table}
	// AArch64 is the 64-bit Arm ABI (GOARCH arm64), which uses the generic
	// syscall table: it has no open, fork, stat, ... (see ErrNotOnArch).
	AArch64 = &Arch{name: "aarch64", goarch: "arm64", audit: unix.AUDIT_ARCH_AARCH64, table: &aarch64Table}
	// RISCV64 is the 64-bit RISC-V ABI (GOARCH riscv64), generic table too.
	RISCV64 = &Arch{name: "riscv64", goarch: "riscv64", audit: unix.AUDIT_ARCH_RISCV64, table: &riscv64Table}
)

var arches = []*Arch{X86_64, AArch64, RISCV64}

// String returns the kernel name of the architecture: "x86_64", "aarch64" or
// "riscv64"; "unknown" for a nil *Arch.
func (a *Arch) String() string {
	if a == nil {
		return "unknown"
	}
	return a.name
}

// GOARCH returns the Go name of the architecture: "amd64", "arm64" or
// "riscv64"; "" for a nil *Arch.
func (a *Arch) GOARCH() string {
	if a == nil {
		return ""
	}
	return a.goarch
}

// AuditArch returns the AUDIT_ARCH_* value the kernel puts in
// seccomp_data.arch for this ABI; 0 for a nil *Arch.
func (a *Arch) AuditArch() uint32 {
	if a == nil {
		return 0
	}
	return a.audit
}

// Number returns the number of the syscall called name (a lowercase kernel
// name such as "openat" or "newfstatat"; a few aliases such as "fstatat" are
// accepted too).
//
// An unknown name gives an *UnknownSyscallError that matches
// ErrUnknownSyscall, and also ErrNotOnArch when another architecture has the
// syscall.
func (a *Arch) Number(name string) (int, error) {
	if a == nil {
		return -1, fmt.Errorf("syscall %q: %w", name, ErrUnknownArch)
	}
	if nr, ok := a.lookup(name); ok {
		return nr, nil
	}
	return -1, newUnknownSyscallError(a, name)
}

func (a *Arch) lookup(name string) (int, bool) {
	t := a.table.byName
	i, ok := slices.BinarySearchFunc(t, name, func(s Syscall, name string) int {
		return strings.Compare(s.Name, name)
	})
	if !ok {
		return -1, false
	}
	return t[i].Number, true
}

// Name returns the canonical name of syscall number nr, and false when the
// architecture has no such syscall. The name never is an alias.
func (a *Arch) Name(nr int) (string, bool) {
	if a == nil {
		return "", false
	}
	t := a.table.byNumber
	i, ok := slices.BinarySearchFunc(t, nr, func(s Syscall, nr int) int {
		return s.Number - nr
	})
	if !ok {
		return "", false
	}
	return t[i].Name, true
}

// Syscalls returns a copy of the table, sorted by number, without aliases.
func (a *Arch) Syscalls() []Syscall {
	if a == nil {
		return nil
	}
	return slices.Clone(a.table.byNumber)
}

// MaxNumber returns the highest syscall number in the table; -1 for a nil
// *Arch.
func (a *Arch) MaxNumber() int {
	if a == nil {
		return -1
	}
	return a.table.byNumber[len(a.table.byNumber)-1].Number
}

var native = func() *Arch {
	for _, a := range arches {
		if a.goarch == runtime.GOARCH {
			return a
		}
	}
	return nil
}()

// Native returns the architecture this program runs on, from runtime.GOARCH:
// X86_64 on amd64, AArch64 on arm64, RISCV64 on riscv64. It returns nil on
// any other GOARCH; the methods of a nil *Arch know no syscalls.
func Native() *Arch { return native }

// Arches returns every supported architecture, in a new slice.
func Arches() []*Arch { return slices.Clone(arches) }

// ArchByName returns the architecture called name, by its kernel name
// ("x86_64", "aarch64", "riscv64") or its GOARCH ("amd64", "arm64"). Any
// other name gives an error that wraps ErrUnknownArch.
func ArchByName(name string) (*Arch, error) {
	for _, a := range arches {
		if name == a.name || name == a.goarch {
			return a, nil
		}
	}
	return nil, fmt.Errorf("%w %q (want x86_64, aarch64 or riscv64)", ErrUnknownArch, name)
}

// ArchByAudit returns the architecture whose AUDIT_ARCH_* value is audit, as
// found in seccomp_data.arch.
func ArchByAudit(audit uint32) (*Arch, bool) {
	for _, a := range arches {
		if a.audit == audit {
			return a, true
		}
	}
	return nil, false
}

// Number returns Native().Number(name).
func Number(name string) (int, error) { return Native().Number(name) }

// Name returns the native name of syscall number nr, or "syscall_<nr>" when
// there is none. It is meant for logs and messages; use Arch.Name to tell
// unknown numbers apart.
func Name(nr int) string {
	if name, ok := Native().Name(nr); ok {
		return name
	}
	return "syscall_" + strconv.Itoa(nr)
}
