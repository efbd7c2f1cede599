// Command victim is the traced program of the benchmark (go run ./bench
// builds it into a temporary directory). It makes getppid syscalls and
// times them itself, so that the measurement excludes process start-up.
//
// Usage:
//
//	victim loop -n N [-want V] [-path P]   N getppid calls on one thread; prints "ns_per_call X"
//	victim loop -open -path P -n N         the same with N opens (and closes) of P
//	victim filter -rules R [-uncached] -n N  installs a benchmark BPF filter first, then loop
//	victim threads -t T -d DUR [-want V]   T locked threads calling getppid for DUR; prints "calls_per_second X"
//	victim notify MODE ARGS...             installs a Notify filter on getppid with a listener,
//	                                       prints "listener FD", waits for a line on stdin,
//	                                       then executes itself with MODE ARGS
//
// -want checks every return value (-1: any non-negative value). -path
// passes a pointer to the NUL-terminated string P as arg0, for handlers
// that read it.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
)

func init() {
	// The main goroutine stays on the main thread: the filter is
	// installed there, and strace (without -f) traces only that thread.
	runtime.LockOSThread()
}

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: victim loop|filter|threads|notify ...")
	}
	var err error
	switch mode, args := os.Args[1], os.Args[2:]; mode {
	case "loop":
		err = loopMain(args, false)
	case "filter":
		err = loopMain(args, true)
	case "threads":
		err = threadsMain(args)
	case "notify":
		err = notifyMain(args)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "victim: "+format+"\n", args...)
	os.Exit(2)
}

// newFlags returns a flag set that fails instead of exiting.
func newFlags(name string) *flag.FlagSet {
	return flag.NewFlagSet(name, flag.ContinueOnError)
}
