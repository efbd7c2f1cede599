package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/audit"
	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// pyCode is the real workload: a Python start-up that imports a few
// standard modules (hundreds of stat and open calls).
const pyCode = "import json, email, http.client"

// cSource is the file the gcc workload compiles.
const cSource = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct point { int x, y; };

static int dist2(struct point a, struct point b) {
	int dx = a.x - b.x, dy = a.y - b.y;
	return dx * dx + dy * dy;
}

int main(int argc, char **argv) {
	struct point p = {argc, (int)strlen(argv[0])}, q = {3, 4};
	printf("%d\n", dist2(p, q));
	return EXIT_SUCCESS;
}
`

// traceSet is what the Continue-everything configuration traps: the file,
// process and network syscalls an auditing tracer would log (read, write,
// mmap and the like are not). Names missing on the architecture are
// skipped.
var traceSet = []string{
	// files: open, stat, access, links, directories
	"open", "openat", "openat2", "creat", "stat", "lstat", "newfstatat", "statx",
	"access", "faccessat", "faccessat2", "readlink", "readlinkat",
	"getdents64", "chdir", "mkdir", "mkdirat", "unlink", "unlinkat",
	"rename", "renameat", "renameat2", "truncate", "chmod", "fchmodat",
	// processes
	"execve", "execveat", "clone", "clone3", "fork", "vfork",
	// network
	"socket", "connect", "bind", "listen", "accept", "accept4", "sendto", "sendmsg",
}

// openFamily are the syscalls that open a file by path.
var openFamily = []string{"open", "openat", "openat2", "creat"}

// Names of the workload configurations (per program).
const (
	cfgWBare     = "bare"
	cfgWNone     = "sandbox, no handler (the baseline of the per-call figures)"
	cfgWTrace    = "Continue on the trace set"
	cfgWAudit    = "Continue on the trace set + trace (audit.Recorder, Observe)"
	cfgWOpens    = "Continue on the opens"
	cfgWPolicy   = "path policy on the opens (performed by the supervisor)"
	cfgWLandlock = "allow list Landlock expresses (FilePaths \"/\", opens not trapped)"
)

// workloadConfigs are the configurations in table order.
var workloadConfigs = []string{cfgWBare, cfgWNone, cfgWTrace, cfgWAudit, cfgWOpens, cfgWPolicy, cfgWLandlock}

// Python's configurations under their old names, for the chart.
const (
	cfgPyBare   = "python: " + cfgWBare
	cfgPyTrace  = "python: " + cfgWTrace
	cfgPyPolicy = "python: " + cfgWPolicy
)

// workProgram is one real program of the workload figure.
type workProgram struct {
	label string // "python", "gcc"
	argv  []string
	shown string // the command line for the report
}

// workResult is what one program measured.
type workResult struct {
	prog workProgram
	// traps is the trapped calls of one run per configuration (the last
	// run); opensTrapped the open-family notifications under the
	// Landlock configuration.
	traps        map[string]int64
	opensTrapped int64
	denials      int64
}

// workload is the real-program figure: wall time of whole runs, start-up
// included, and the supervisor's CPU time and context switches.
type workload struct {
	traced   []string // the trace set on this architecture
	policy   []string // the syscalls the path policy handles
	programs []*workResult
	s        samples // seconds per run, by "label: configuration"
	cpu      samples // CPU seconds of this process (the supervisor) per run
	csw      samples // context switches of this process per run
	skipped  []string
	idle     *idleResult
}

// usage is this process's CPU time and context switches so far, every
// thread included (also those that ended).
func usage() (cpu float64, csw float64) {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	cpu = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	return cpu, float64(ru.Nvcsw + ru.Nivcsw)
}

func runWorkload(set settings, tmp string) (*workload, error) {
	res := &workload{}
	for _, name := range traceSet {
		if _, err := syscalls.Native().Number(name); err == nil {
			res.traced = append(res.traced, name)
		}
	}
	var progs []workProgram
	py, err := python()
	if err != nil {
		res.skipped = append(res.skipped, fmt.Sprintf("python: %v", err))
	} else {
		progs = append(progs, workProgram{"python", []string{py, "-c", pyCode}, fmt.Sprintf("%s -c '%s'", py, pyCode)})
	}
	if gcc, err := exec.LookPath("gcc"); err != nil {
		res.skipped = append(res.skipped, fmt.Sprintf("gcc: %v", err))
	} else {
		src := filepath.Join(tmp, "small.c")
		if err := os.WriteFile(src, []byte(cSource), 0o644); err != nil {
			return nil, err
		}
		obj := filepath.Join(tmp, "small.o")
		progs = append(progs, workProgram{"gcc", []string{gcc, "-O2", "-c", "-o", obj, src},
			fmt.Sprintf("gcc -O2 -c small.c (%d lines, stdio.h, stdlib.h, string.h)", strings.Count(cSource, "\n"))})
	}
	if len(progs) == 0 {
		return res, nil
	}
	tracePath := filepath.Join(tmp, "trace.jsonl")

	policy, err := pathpolicy.NewOpenPolicy(pathpolicy.Rules{Allow: []string{"/"}})
	if err != nil {
		return nil, err
	}
	res.policy = policy.Syscalls(nil)
	var traps, opens, denials, opensTrapped atomic.Int64
	policy.OnDecision = func(d pathpolicy.Decision) {
		opens.Add(1)
		if !d.Allowed {
			denials.Add(1)
		}
	}
	counted := handler.Func(func(*handler.Ctx) handler.Action {
		traps.Add(1)
		return handler.Continue()
	})
	var cfgs []config
	for _, p := range progs {
		wr := &workResult{prog: p, traps: make(map[string]int64)}
		res.programs = append(res.programs, wr)
		sandboxed := func(cfg string, setup func(*sandbox.Cmd) (func() error, error), count func() int64) config {
			return config{p.label + ": " + cfg, func() (float64, error) {
				traps.Store(0)
				opens.Store(0)
				opensTrapped.Store(0)
				cmd := sandbox.Command(p.argv[0], p.argv[1:]...)
				done, err := setup(cmd)
				if err != nil {
					return 0, err
				}
				v, err := timeRun(func() error { return quietSandbox(cmd) })
				if derr := done(); err == nil {
					err = derr
				}
				wr.traps[cfg] = count()
				wr.denials += denials.Swap(0)
				if cfg == cfgWLandlock {
					wr.opensTrapped = opensTrapped.Load()
				}
				return v, err
			}}
		}
		nothing := func() error { return nil }
		handleAll := func(names []string, h handler.Handler) func(*sandbox.Cmd) (func() error, error) {
			return func(cmd *sandbox.Cmd) (func() error, error) {
				for _, name := range names {
					if err := cmd.Handle(name, h); err != nil {
						return nil, err
					}
				}
				return nothing, nil
			}
		}
		cfgs = append(cfgs,
			config{p.label + ": " + cfgWBare, func() (float64, error) {
				return timeRun(func() error { return quiet(exec.Command(p.argv[0], p.argv[1:]...)) })
			}},
			sandboxed(cfgWNone, func(cmd *sandbox.Cmd) (func() error, error) {
				cmd.ServeOptions = &handler.Options{Observe: func(*handler.Ctx, handler.Action, time.Duration) { traps.Add(1) }}
				return nothing, nil
			}, traps.Load),
			sandboxed(cfgWTrace, handleAll(res.traced, counted), traps.Load),
			sandboxed(cfgWAudit, func(cmd *sandbox.Cmd) (func() error, error) {
				f, err := os.Create(tracePath)
				if err != nil {
					return nil, err
				}
				rec := audit.New(f, nil)
				cmd.ServeOptions = &handler.Options{Observe: rec.Observe}
				if _, err := handleAll(res.traced, counted)(cmd); err != nil {
					f.Close()
					return nil, err
				}
				// Run returns after Serve did: nothing observes any more.
				return func() error {
					err := rec.Flush()
					if cerr := f.Close(); err == nil {
						err = cerr
					}
					return err
				}, nil
			}, traps.Load),
			sandboxed(cfgWOpens, handleAll(res.policy, counted), traps.Load),
			sandboxed(cfgWPolicy, handleAll(res.policy, policy), opens.Load),
			sandboxed(cfgWLandlock, func(cmd *sandbox.Cmd) (func() error, error) {
				cmd.Policy.FilePaths = []string{"/"}
				cmd.ServeOptions = &handler.Options{Observe: func(c *handler.Ctx, _ handler.Action, _ time.Duration) {
					traps.Add(1)
					if slices.Contains(openFamily, c.SyscallName()) {
						opensTrapped.Add(1)
					}
				}}
				return nothing, nil
			}, traps.Load),
		)
	}
	// Each run also records this process's CPU time and context switches.
	measured := make([]config, len(cfgs))
	var cpu, csw samples = samples{}, samples{}
	for i, c := range cfgs {
		measured[i] = config{c.name, func() (float64, error) {
			cpu0, csw0 := usage()
			v, err := c.run()
			cpu1, csw1 := usage()
			cpu[c.name] = append(cpu[c.name], cpu1-cpu0)
			csw[c.name] = append(csw[c.name], csw1-csw0)
			return v, err
		}}
	}
	// One warm-up run of each fills the page cache and Python's
	// bytecode cache.
	if _, err := interleave(1, cfgs); err != nil {
		return nil, err
	}
	if res.s, err = interleave(set.pyRounds, measured); err != nil {
		return nil, err
	}
	res.cpu, res.csw = cpu, csw
	if py != "" {
		if res.idle, err = runIdle(py, res.traced, counted); err != nil {
			return nil, fmt.Errorf("idle: %w", err)
		}
	}
	return res, nil
}

// perTrap is what one trapped call of a configuration costs, in the unit
// of s: (configuration - the sandbox without handlers) / (its trapped calls
// - those of the sandbox without handlers), so that the sandbox's start-up
// is not counted; NaN without extra traps.
func (w *workload) perTrap(s samples, wr *workResult, cfg string) float64 {
	n := wr.traps[cfg] - wr.traps[cfgWNone]
	if n <= 0 {
		return math.NaN()
	}
	d := s.pairwise(wr.prog.label+": "+cfg, wr.prog.label+": "+cfgWNone, func(x, y float64) float64 { return x - y })
	return d / float64(n)
}

// idleResult is the idle figure: wake-ups of the supervisor (this process)
// in a second in which the supervised program makes no trapped call, after
// a burst of trapped calls.
type idleResult struct {
	seconds   float64
	sandboxed float64 // context switches of this process in that second (median)
	bare      float64 // the same second with the program not sandboxed (median)
}

// runIdle runs Python's imports under the trace set, then lets it sleep:
// the context switches of this process during one second of that sleep are
// the supervisor's idle cost. The same with a bare Python is the bench's
// own.
func runIdle(py string, traced []string, counted handler.Handler) (*idleResult, error) {
	code := pyCode + "; import sys, time; print('idle', flush=True); time.sleep(2)"
	const window = time.Second
	res := &idleResult{seconds: window.Seconds()}
	measure := func(start func(stdout *os.File) (wait func() error, err error)) (float64, error) {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		defer r.Close()
		wait, err := start(w)
		w.Close()
		if err != nil {
			return 0, err
		}
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "idle" {
			_ = wait()
			return 0, fmt.Errorf("python said %q: %v", line, err)
		}
		time.Sleep(100 * time.Millisecond) // let the burst's last answers settle
		_, c0 := usage()
		time.Sleep(window)
		_, c1 := usage()
		return c1 - c0, wait()
	}
	bare := func(stdout *os.File) (func() error, error) {
		cmd := exec.Command(py, "-c", code)
		cmd.Stdout = stdout
		return cmd.Wait, cmd.Start()
	}
	sandboxed := func(stdout *os.File) (func() error, error) {
		cmd := sandbox.Command(py, "-c", code)
		cmd.Stdout = stdout
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		for _, name := range traced {
			if err := cmd.Handle(name, counted); err != nil {
				return nil, err
			}
		}
		return cmd.Wait, cmd.Start()
	}
	var b, sb []float64
	for range idleRounds {
		v, err := measure(bare)
		if err != nil {
			return nil, err
		}
		b = append(b, v)
		if v, err = measure(sandboxed); err != nil {
			return nil, err
		}
		sb = append(sb, v)
	}
	res.bare, res.sandboxed = median(b), median(sb)
	return res, nil
}

// idleRounds is how many idle seconds are measured each way.
const idleRounds = 3

// timeRun returns the seconds f took.
func timeRun(f func() error) (float64, error) {
	start := time.Now()
	err := f()
	return time.Since(start).Seconds(), err
}

// quiet runs cmd and returns its standard error with a failure.
func quiet(cmd *exec.Cmd) error {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// quietSandbox is quiet for a sandboxed command.
func quietSandbox(cmd *sandbox.Cmd) error {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
