// Command bench measures what seccomp user-notification supervision costs
// with sandlock-go, against a minimal reference supervisor, ptrace (strace),
// plain BPF filters and no filter at all, and regenerates
// docs/benchmarks.md and docs/benchmarks.png.
//
//	go run ./bench            # full run, a few minutes
//	go run ./bench -quick     # about 30 seconds, fewer and shorter rounds
//	go run ./bench -out /tmp/b.md -cpuprofile /tmp/prof
//
// The machine is assumed to be shared and noisy: every figure interleaves
// its configurations round by round and reports medians, and ratios are
// taken between configurations of the same round.
//
// It needs root or CAP_SYS_PTRACE (pidfd_getfd, strace) and Linux 6.6+ for
// the synchronous wake-up of the listener. It is not part of go test.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sandlock-go/sandlock-go/sandbox"
)

// settings are the sizes of one run.
type settings struct {
	quick       bool
	rounds      int // rounds of the per-call figures
	fastCalls   int // calls per victim without supervision
	slowCalls   int // calls per victim under a supervisor
	straceCalls int
	tpRounds    int
	tpDuration  time.Duration
	threads     []int
	pyRounds    int
	startupRuns int
	benchtime   string // go test -benchtime
}

func fullSettings() settings {
	return settings{
		rounds: 7, fastCalls: 1_000_000, slowCalls: 20_000, straceCalls: 3_000,
		tpRounds: 5, tpDuration: 600 * time.Millisecond, threads: []int{1, 2, 4, 8},
		pyRounds: 11, startupRuns: 50, benchtime: "1s",
	}
}

func quickSettings() settings {
	return settings{
		quick:  true,
		rounds: 3, fastCalls: 200_000, slowCalls: 4_000, straceCalls: 500,
		tpRounds: 1, tpDuration: 250 * time.Millisecond, threads: []int{1, 2, 4, 8},
		pyRounds: 3, startupRuns: 15, benchtime: "200ms",
	}
}

// sections are the parts of a run, in order; -only picks some.
var sections = []string{"percall", "agent", "throughput", "workload", "startup", "gobench", "profile"}

// options are the command line.
type options struct {
	set     settings
	out     string // report path; "-" for none
	profile string // CPU profile directory; "" for none
	install bool
	only    map[string]bool // nil: every section but profile (unless -cpuprofile)
}

func (o *options) want(section string) bool {
	if o.only == nil {
		return section != "profile" || o.profile != ""
	}
	return o.only[section]
}

func main() {
	sandbox.Init() // the sandbox re-executes this program: first thing
	quick := flag.Bool("quick", false, "a 30-second version: fewer and shorter rounds")
	var o options
	flag.StringVar(&o.out, "out", "", `where to write the report (default docs/benchmarks.md of the module; "-" for none); the chart goes beside it as .png`)
	flag.StringVar(&o.profile, "cpuprofile", "", "directory for CPU profiles of the supervisor in ReturnValue runs (sandlock-go and reference)")
	flag.BoolVar(&o.install, "install", true, "apt-get install strace and bubblewrap when missing (as root)")
	only := flag.String("only", "", "run only these sections, comma-separated, and write no report: "+strings.Join(sections, ", "))
	flag.Parse()
	o.set = fullSettings()
	if *quick {
		o.set = quickSettings()
	}
	if *only != "" {
		o.only = make(map[string]bool)
		for name := range strings.SplitSeq(*only, ",") {
			if !slices.Contains(sections, name) {
				fmt.Fprintf(os.Stderr, "bench: -only: unknown section %q (want %s)\n", name, strings.Join(sections, ", "))
				os.Exit(2)
			}
			o.only[name] = true
		}
		if o.only["profile"] && o.profile == "" {
			fmt.Fprintln(os.Stderr, "bench: -only profile needs -cpuprofile DIR")
			os.Exit(2)
		}
		o.out = "-"
	}
	if err := run(&o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	begin := time.Now()
	set := o.set
	root, err := repoRoot()
	if err != nil {
		return err
	}
	out := o.out
	if out == "" {
		out = filepath.Join(root, "docs", "benchmarks.md")
	}
	tmp, err := os.MkdirTemp("", "sandlock-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	step := func(what string) {
		fmt.Fprintf(os.Stderr, "bench: %-28s (%s)\n", what, time.Since(begin).Round(time.Second))
	}
	r := &results{set: set, machine: describeMachine()}

	step("building the victim")
	victim, err := goBuild(root, tmp, "victim", "./bench/victim")
	if err != nil {
		return err
	}
	if o.want("percall") {
		strace, why := findTool("strace", "strace", o.install)
		if why != "" {
			fmt.Fprintln(os.Stderr, "bench: skipping strace:", why)
		}
		step("per-call cost")
		if r.perCall, err = runPerCall(set, victim, strace); err != nil {
			return fmt.Errorf("per-call: %w", err)
		}
		r.perCall.straceSkipped = why
	}
	if o.want("agent") {
		step("agent vs run, per call")
		if r.agent, err = runAgent(set, root, tmp, victim); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		if r.agent.skipped != "" {
			fmt.Fprintln(os.Stderr, "bench: skipping the agent figure:", r.agent.skipped)
		}
	}
	if o.want("throughput") {
		step("throughput and memory")
		if r.throughput, err = runThroughput(set, victim); err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
	}
	if o.want("workload") {
		step("real workloads")
		if r.workload, err = runWorkload(set, tmp); err != nil {
			return fmt.Errorf("workload: %w", err)
		}
	}
	if o.want("startup") {
		step("start-up")
		if r.startup, err = runStartup(set, root, tmp, o.install); err != nil {
			return fmt.Errorf("start-up: %w", err)
		}
	}
	if o.want("gobench") {
		step("go test -bench ./handler/")
		r.goBench = runGoBench(set, root)
	}
	if o.want("profile") {
		step("CPU profiles")
		if err := runProfiles(set, victim, o.profile); err != nil {
			return fmt.Errorf("profiles: %w", err)
		}
		fmt.Fprintf(os.Stderr, "bench: CPU profiles in %s: go tool pprof -top %s\n", o.profile, filepath.Join(o.profile, "sandlock-go.pprof"))
	}

	r.elapsed = time.Since(begin)
	r.loadEnd = loadAvg()
	step("report")
	fmt.Print(r.text())
	if out == "-" {
		return nil
	}
	png := pngPath(out)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := writeChart(r, png); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if err := os.WriteFile(out, []byte(r.markdown(filepath.Base(png))), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bench: wrote %s and %s\n", out, png)
	return nil
}

// pngPath is the chart's path: the report's with a .png extension.
func pngPath(md string) string {
	return md[:len(md)-len(filepath.Ext(md))] + ".png"
}
