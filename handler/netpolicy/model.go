package netpolicy

import (
	"slices"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
	"github.com/sandlock-go/sandlock-go/syscalls/args"
)

// The syscalls the Policy guards come from the syscall-argument model
// (syscalls/args): every syscall that passes the kernel an address to
// reach or bind (Layout.SendsAddress), plus socket (the protocol decides
// which calls reach an endpoint) and setsockopt (source routes).

// guardExtra are the syscalls the Policy decides on registers alone.
var guardExtra = []string{"socket", "setsockopt"}

// ConnectSyscalls returns the syscalls to register the Policy on to
// restrict connections: those of arch (nil: native) that pass the kernel
// an address to reach (connect, sendto, sendmsg, sendmmsg), socket and
// setsockopt.
func ConnectSyscalls(arch *syscalls.Arch) []string {
	return guarded(arch, func(name string) bool { return name != "bind" }, guardExtra...)
}

// BindSyscalls returns the syscalls to register the Policy on to restrict
// binds: bind and socket, those of them arch (nil: native) has.
func BindSyscalls(arch *syscalls.Arch) []string {
	return guarded(arch, func(name string) bool { return name == "bind" }, "socket")
}

// guarded returns the names of arch's address-passing syscalls that keep
// accepts, then the extra names arch has.
func guarded(arch *syscalls.Arch, keep func(string) bool, extra ...string) []string {
	if arch == nil {
		arch = syscalls.Native()
	}
	var out []string
	for _, n := range args.Names(arch) {
		if l, ok := args.Of(arch, n); ok && l.SendsAddress() && keep(n) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) })
	for _, n := range extra {
		if _, err := arch.Number(n); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// order is the order names are listed in (the model's is alphabetical);
// names it lacks come first.
var order = []string{"connect", "bind", "sendto", "sendmsg", "sendmmsg"}

// layout returns the argument layout of c's syscall.
func layout(c *handler.Ctx) (args.Layout, bool) {
	return args.Of(c.Arch(), c.SyscallName())
}

// argOf returns the raw argument of kind k of c's syscall, 0 when it has
// none.
func argOf(c *handler.Ctx, l args.Layout, k args.Kind) uint64 {
	i := l.Index(k)
	if i < 0 {
		return 0
	}
	return c.Arg(i)
}
