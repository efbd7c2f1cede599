package args_test

import (
	"fmt"
	"strings"

	"github.com/sandlock-go/sandlock-go/syscalls"
	"github.com/sandlock-go/sandlock-go/syscalls/args"
)

func ExampleOf() {
	l, _ := args.Of(syscalls.AArch64, "linkat")
	for _, p := range l.Paths() {
		fmt.Printf("%s: path %d, dirfd %d, flags %d (%s), %s, follow %v\n",
			l.Args[p.Index].Name, p.Index, p.Dirfd, p.Flags, p.FlagsKind, p.Access, p.Follow)
	}
	l, _ = args.Of(syscalls.X86_64, "sendto")
	fmt.Println(l.Sockaddr())
	_, ok := args.Of(syscalls.AArch64, "open")
	fmt.Println(ok)
	// Output:
	// oldpath: path 1, dirfd 0, flags 4 (at_flags), link, follow false
	// newpath: path 3, dirfd 2, flags -1 (hex), create, follow false
	// 4 5 true
	// false
}

// Example_clone shows an arch difference: clone's tls and child_tid.
func Example_clone() {
	for _, arch := range []*syscalls.Arch{syscalls.X86_64, syscalls.AArch64} {
		l, _ := args.Of(arch, "clone")
		var names []string
		for _, a := range l.Args {
			names = append(names, a.Name)
		}
		fmt.Println(strings.Join(names, " "))
	}
	// Output:
	// flags stack parent_tid child_tid tls
	// flags stack parent_tid tls child_tid
}
