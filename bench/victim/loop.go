package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/sandlock-go/sandlock-go/bench/internal/spec"
	"github.com/sandlock-go/sandlock-go/seccomp"
)

// loopMain times n getppid calls on the locked main thread, after a warm-up
// of n/10 calls, and prints the time of one call (see batches and sparse).
// With -open, each call is an openat of -path and a close instead. With
// filter, it first installs the benchmark filter of -rules rules on this
// thread, without a listener.
func loopMain(args []string, filter bool) error {
	fs := newFlags("loop")
	n := fs.Int("n", 1000000, "calls")
	want := fs.Int64("want", -1, "expected return value (-1: any non-negative)")
	path := fs.String("path", "", "pass a pointer to this string as arg0")
	rules := fs.Int("rules", 1, "rules of the filter (filter mode)")
	uncached := fs.Bool("uncached", false, "add a conditional rule on getppid (filter mode)")
	gap := fs.Duration("gap", 0, "busy-loop this long between calls and time each call alone")
	fs.BoolVar(&openMode, "open", false, "each call opens -path read-only and closes it, instead of getppid")
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
	if openMode && *path == "" {
		return fmt.Errorf("-open needs -path")
	}
	if *path != "" {
		arg = append([]byte(*path), 0)
	}
	if err := calls(*n/10+1, arg, *want); err != nil {
		return err
	}
	if *gap > 0 {
		return sparse(*n, *gap, arg, *want)
	}
	return batches(*n, arg, *want)
}

// batchCount is how many batches a run's calls are split into.
const batchCount = 50

// batches times n calls in batchCount batches and prints the median batch's
// time per call: a burst of load from other processes spoils a few batches,
// not the figure.
func batches(n int, arg []byte, want int64) error {
	size := max(n/batchCount, 1)
	var perCall []float64
	for done := 0; done < n; done += size {
		start := time.Now()
		if err := calls(size, arg, want); err != nil {
			return err
		}
		perCall = append(perCall, float64(time.Since(start).Nanoseconds())/float64(size))
	}
	slices.Sort(perCall)
	fmt.Printf("ns_per_call %.1f\n", perCall[len(perCall)/2])
	return nil
}

// openMode makes each call an open and a close (-open).
var openMode bool

// calls makes n getppid calls (opens with -open) and checks each result.
func calls(n int, arg []byte, want int64) error {
	for range n {
		call, what := getppid, "getppid"
		if openMode {
			call, what = openClose, "open"
		}
		r, errno := call(arg)
		if errno != 0 {
			return fmt.Errorf("%s: %v", what, errno)
		}
		if (want < 0 && r < 0) || (want >= 0 && r != want) {
			return fmt.Errorf("%s returned %d, want %d", what, r, want)
		}
	}
	return nil
}

// sparse makes n getppid calls separated by gap of busy work (a program
// that computes between syscalls) and prints the median time of a call
// alone: a mean would be dominated by the few calls that an interrupt or
// the host delays.
func sparse(n int, gap time.Duration, arg []byte, want int64) error {
	times := make([]time.Duration, n)
	for i := range n {
		for end := time.Now().Add(gap); time.Now().Before(end); {
		}
		start := time.Now()
		if err := calls(1, arg, want); err != nil {
			return err
		}
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	fmt.Printf("ns_per_call %d\n", times[n/2].Nanoseconds())
	return nil
}
