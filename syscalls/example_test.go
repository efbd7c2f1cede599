package syscalls_test

import (
	"errors"
	"fmt"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

func ExampleArch_Number() {
	nr, err := syscalls.AArch64.Number("openat")
	fmt.Println(nr, err)

	_, err = syscalls.AArch64.Number("open")
	fmt.Println(err)
	fmt.Println(errors.Is(err, syscalls.ErrNotOnArch), errors.Is(err, syscalls.ErrUnknownSyscall))

	_, err = syscalls.X86_64.Number("opnat")
	fmt.Println(err)
	// Output:
	// 56 <nil>
	// syscall "open" does not exist on aarch64 (use openat)
	// true true
	// unknown syscall "opnat" on x86_64
}

func ExampleArch_Name() {
	name, ok := syscalls.X86_64.Name(257)
	fmt.Println(name, ok)

	a, _ := syscalls.ArchByName("arm64")
	name, ok = a.Name(79)
	fmt.Println(a, name, ok)
	// Output:
	// openat true
	// aarch64 newfstatat true
}
