package main

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/bench/internal/spec"
	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// Names of the per-call configurations.
const (
	cfgNoFilter    = "no filter"
	cfgRefReturn   = "reference supervisor, return 777"
	cfgRefContinue = "reference supervisor, continue"
	cfgRefPoll     = "reference supervisor + poll(), return 777"
	cfgSLReturn    = "sandlock-go ReturnValue"
	cfgSLContinue  = "sandlock-go Continue"
	cfgSLReadStr   = "sandlock-go ReadCString"
	cfgStrace      = "strace --inject=getppid:retval=777"
	// Sparse: the victim computes for sparseGap between calls, like a
	// real program, and reports the median time of one call.
	cfgRefSparse = "reference supervisor, return 777, calls 100µs apart"
	cfgSLSparse  = "sandlock-go ReturnValue, calls 100µs apart"
)

const sparseGap = "100us"

// ruleCounts are the filter sizes measured.
var ruleCounts = []int{1, 50, 300}

func cfgBPF(rules int, uncached bool) string {
	s := fmt.Sprintf("BPF, %d rule", rules)
	if rules != 1 {
		s += "s"
	}
	if uncached {
		s += ", uncached"
	}
	return s
}

// benchPath is the string the ReadCString victim points arg0 at.
const benchPath = "/usr/lib/python3/dist-packages/json/decoder.py"

// perCall is the result of the per-call figures.
type perCall struct {
	s     samples
	names []string       // in display order
	steps map[string]int // BPF instructions executed for getppid
	// straceSkipped says why strace was not measured, "" when it was.
	straceSkipped string
}

// runPerCall measures the cost of one getppid call in every configuration,
// each round running each configuration once in a fresh victim process.
func runPerCall(set settings, victim, strace string) (*perCall, error) {
	fast := strconv.Itoa(set.fastCalls)
	slow := strconv.Itoa(set.slowCalls)
	res := &perCall{steps: make(map[string]int)}
	add := func(cfgs []config, c config) []config {
		res.names = append(res.names, c.name)
		return append(cfgs, c)
	}
	var cfgs []config
	cfgs = add(cfgs, config{cfgNoFilter, func() (float64, error) {
		return nsPerCall(runPlain(victim, "loop", "-n", fast))
	}})
	for _, uncached := range []bool{false, true} {
		for _, n := range ruleCounts {
			name := cfgBPF(n, uncached)
			steps, err := filterSteps(n, uncached)
			if err != nil {
				return nil, err
			}
			res.steps[name] = steps
			args := []string{"filter", "-rules", strconv.Itoa(n), "-n", fast}
			if uncached {
				args = append(args, "-uncached")
			}
			cfgs = add(cfgs, config{name, func() (float64, error) {
				return nsPerCall(runPlain(victim, args...))
			}})
		}
	}
	cfgs = add(cfgs, config{cfgRefReturn, func() (float64, error) {
		return nsPerCall(runReference(victim, 1, refReturn, "loop", "-n", slow, "-want", "777"))
	}})
	cfgs = add(cfgs, config{cfgRefContinue, func() (float64, error) {
		return nsPerCall(runReference(victim, 1, refContinue, "loop", "-n", slow))
	}})
	cfgs = add(cfgs, config{cfgRefPoll, func() (float64, error) {
		return nsPerCall(runReference(victim, 1, refPollReturn, "loop", "-n", slow, "-want", "777"))
	}})
	cfgs = add(cfgs, config{cfgSLReturn, func() (float64, error) {
		return nsPerCall(runSandlock(returnHandler, nil, victim, "loop", "-n", slow, "-want", "777"))
	}})
	cfgs = add(cfgs, config{cfgSLContinue, func() (float64, error) {
		return nsPerCall(runSandlock(continueHandler, nil, victim, "loop", "-n", slow))
	}})
	cfgs = add(cfgs, config{cfgSLReadStr, func() (float64, error) {
		return nsPerCall(runSandlock(readStringHandler, nil, victim,
			"loop", "-n", slow, "-path", benchPath, "-want", strconv.Itoa(len(benchPath))))
	}})
	sparse := strconv.Itoa(max(set.slowCalls/10, 200))
	cfgs = add(cfgs, config{cfgRefSparse, func() (float64, error) {
		return nsPerCall(runReference(victim, 1, refReturn, "loop", "-n", sparse, "-gap", sparseGap, "-want", "777"))
	}})
	cfgs = add(cfgs, config{cfgSLSparse, func() (float64, error) {
		return nsPerCall(runSandlock(returnHandler, nil, victim, "loop", "-n", sparse, "-gap", sparseGap, "-want", "777"))
	}})
	if strace == "" {
		res.straceSkipped = "strace is not available"
	} else {
		n := strconv.Itoa(set.straceCalls)
		cfgs = add(cfgs, config{cfgStrace, func() (float64, error) {
			// Without -f only the victim's main thread, which makes
			// the calls, is traced.
			return nsPerCall(runPlain(strace, "-qq", "-o", "/dev/null",
				"-e", "trace=getppid", "-e", "inject=getppid:retval=777",
				victim, "loop", "-n", n, "-want", "777"))
		}})
	}
	s, err := interleave(set.rounds, cfgs)
	if err != nil {
		return nil, err
	}
	res.s = s
	return res, nil
}

// filterSteps returns the instructions the benchmark filter executes for
// getppid(0), by the package's own BPF interpreter.
func filterSteps(rules int, uncached bool) (int, error) {
	f, err := spec.Filter(rules, uncached)
	if err != nil {
		return 0, err
	}
	prog, err := f.Compile()
	if err != nil {
		return 0, err
	}
	nr, err := syscalls.Native().Number("getppid")
	if err != nil {
		return 0, err
	}
	ret, steps, err := prog.EvaluateSteps(seccomp.Data{Nr: int32(nr), Arch: syscalls.Native().AuditArch()})
	if err != nil {
		return 0, err
	}
	if ret != seccomp.Allow.Ret() {
		return 0, fmt.Errorf("filter of %d rules does not allow getppid (returns %#x)", rules, ret)
	}
	return steps, nil
}

// The handlers measured.
var (
	returnHandler   = handler.Func(func(*handler.Ctx) handler.Action { return handler.ReturnValue(777) })
	continueHandler = handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() })
	// readStringHandler reads the string arg0 points at and returns its
	// length, which the victim checks.
	readStringHandler = handler.Func(func(c *handler.Ctx) handler.Action {
		s, err := c.ReadCString(c.Arg(0), handler.PathMax)
		if err != nil {
			return handler.Errno(unix.EFAULT)
		}
		return handler.ReturnValue(int64(len(s)))
	})
)
