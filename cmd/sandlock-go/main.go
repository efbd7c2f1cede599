// Command sandlock-go runs a program under seccomp user-notification
// supervision, with Landlock rules and a kernel-side deny list.
//
//	sandlock-go run [flags] [--] PROGRAM [ARGS...]
//	sandlock-go check
//	sandlock-go syscalls [--arch ARCH]
//
// See docs/cli.md, or sandlock-go --help.
package main

import (
	"os"

	"github.com/sandlock-go/sandlock-go/sandbox"
)

func main() {
	// First: in the sandbox's re-executed helper, Init never returns.
	sandbox.Init()
	os.Exit(cli(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
