package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

const syscallsUsage = `Usage: sandlock-go syscalls [--arch ARCH] [--isolation]

Print the syscall table of ARCH, one "name number" per line, by number.

Flags:
  --isolation
        Print instead the names the kernel-side isolation rules deny on this
        machine, one per line: what run --allow-syscall accepts.
        e.g. sandlock-go syscalls --isolation
  --arch ARCH
        x86_64, aarch64 or riscv64 (or the GOARCH names amd64, arm64);
        default: this machine's.
        e.g. sandlock-go syscalls --arch aarch64
`

func syscallsMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("syscalls", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	archName := fs.String("arch", "", "architecture")
	isolation := fs.Bool("isolation", false, "print the isolation rules' syscalls")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, syscallsUsage)
			return 0
		}
		return fail(stderr, usagef("syscalls: %v (see sandlock-go syscalls --help)", err))
	}
	if fs.NArg() > 0 {
		return fail(stderr, usagef("syscalls: unexpected argument %q", fs.Arg(0)))
	}
	arch := syscalls.Native()
	if *archName != "" {
		var err error
		if arch, err = syscalls.ArchByName(*archName); err != nil {
			return fail(stderr, usagef("syscalls --arch %s: %v", *archName, err))
		}
	}
	w := bufio.NewWriter(stdout)
	if *isolation {
		for _, name := range sandbox.IsolationSyscalls() {
			fmt.Fprintln(w, name)
		}
		if err := w.Flush(); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	for _, s := range arch.Syscalls() {
		fmt.Fprintf(w, "%s %d\n", s.Name, s.Number)
	}
	if err := w.Flush(); err != nil {
		return fail(stderr, err)
	}
	return 0
}
