package main

import (
	"fmt"
	"time"

	"github.com/sandlock-go/sandlock-go/bench/internal/spec"
	"github.com/sandlock-go/sandlock-go/seccomp"
)

// loopMain times n getppid calls on the locked main thread, after a warm-up
// of n/10 calls. With filter, it first installs the benchmark filter of
// -rules rules on this thread, without a listener.
func loopMain(args []string, filter bool) error {
	fs := newFlags("loop")
	n := fs.Int("n", 1000000, "calls")
	want := fs.Int64("want", -1, "expected return value (-1: any non-negative)")
	path := fs.String("path", "", "pass a pointer to this string as arg0")
	rules := fs.Int("rules", 1, "rules of the filter (filter mode)")
	uncached := fs.Bool("uncached", false, "add a conditional rule on getppid (filter mode)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if filter {
		f, err := spec.Filter(*rules, *uncached)
		if err != nil {
			return err
		}
		prog, err := f.Compile()
		if err != nil {
			return err
		}
		if _, err := seccomp.Install(prog, seccomp.InstallOptions{}); err != nil {
			return err
		}
	}
	var arg []byte
	if *path != "" {
		arg = append([]byte(*path), 0)
	}
	if err := calls(*n/10+1, arg, *want); err != nil {
		return err
	}
	start := time.Now()
	err := calls(*n, arg, *want)
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	fmt.Printf("ns_per_call %.1f\n", float64(elapsed.Nanoseconds())/float64(*n))
	return nil
}

// calls makes n getppid calls and checks each result.
func calls(n int, arg []byte, want int64) error {
	for range n {
		r, errno := getppid(arg)
		if errno != 0 {
			return fmt.Errorf("getppid: %v", errno)
		}
		if (want < 0 && r < 0) || (want >= 0 && r != want) {
			return fmt.Errorf("getppid returned %d, want %d", r, want)
		}
	}
	return nil
}
