package handler

import (
	"fmt"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Policy is a handler that guards a resource and names what it needs to do
// so: the syscalls it must see (each that reaches the resource, on arch;
// names arch lacks are left out) and, through KernelDenier, the syscalls
// that would bypass it and must be denied in the kernel filter while it is
// active. A policy that lists a syscall here is registered on it; RegisterPolicy
// does that for a Table.
type Policy interface {
	Handler
	// Syscalls returns the names the policy must be registered on, for
	// arch (nil means the native one).
	Syscalls(arch *syscalls.Arch) []string
}

// KernelDenier is implemented by policies that some syscalls would bypass
// (io_uring, open_by_handle_at for a files policy): while the policy is
// active, the names it returns for arch must be denied in the kernel
// filter, whatever else asks to allow them.
type KernelDenier interface {
	KernelDenies(arch *syscalls.Arch) []string
}

// KernelDenies returns the syscalls p requires denied in the kernel on
// arch: nil when p is not a KernelDenier.
func KernelDenies(p Policy, arch *syscalls.Arch) []string {
	if d, ok := p.(KernelDenier); ok {
		return d.KernelDenies(arch)
	}
	return nil
}

// RegisterPolicy registers p on every syscall it names for the table's
// architecture. The kernel denies are the caller's to apply (the table
// only routes notifications).
func RegisterPolicy(t *Table, p Policy) error {
	for _, name := range p.Syscalls(t.arch) {
		if err := t.RegisterName(name, p); err != nil {
			return fmt.Errorf("register policy: %w", err)
		}
	}
	return nil
}
