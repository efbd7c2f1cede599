// Command launcher is a minimal program using the sandbox, for the start-up
// figure of go run ./bench. The sandbox re-executes the program that uses
// it as its helper, so the start-up of that program (its size, its package
// initializers) is part of every Cmd.Start; the bench binary carries a
// plotting library, this one only the sandbox.
//
// It reads lines from standard input: for each line, it runs the program
// given as argument once with sandbox.Command(...).Run() and prints the
// wall time in nanoseconds.
package main

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"github.com/sandlock-go/sandlock-go/sandbox"
)

func main() {
	sandbox.Init()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: launcher PROGRAM [ARGS...] (one run per line of input)")
		os.Exit(2)
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		start := time.Now()
		err := sandbox.Command(os.Args[1], os.Args[2:]...).Run()
		elapsed := time.Since(start)
		if err != nil {
			fmt.Fprintln(os.Stderr, "launcher:", err)
			os.Exit(1)
		}
		fmt.Println(elapsed.Nanoseconds())
	}
}
