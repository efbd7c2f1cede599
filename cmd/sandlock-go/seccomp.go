package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// This file holds the static seccomp policy of run (--seccomp-policy) and
// learn (--seccomp-out).

// applySeccompPolicy reads the --seccomp-policy file into cfg's policy and
// checks it against the rest of the command line: it must compile, allow
// execve, and not always deny a syscall that has an --on rule (the rule
// would never run). given says whether the flag was on the command line.
func applySeccompPolicy(cfg *runConfig, file string, given bool) error {
	if file == "" {
		if given {
			return usagef("--seccomp-policy: want a file name")
		}
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return usagef("--seccomp-policy %s: %v", file, unwrapPath(err))
	}
	p, err := sandbox.ParseSeccompPolicy(data)
	if err != nil {
		return usagef("--seccomp-policy %s: %v", file, err)
	}
	cfg.Policy.Seccomp = p
	if err := cfg.Policy.CheckSeccomp(); err != nil {
		return usagef("--seccomp-policy %s: %s", file, strings.TrimPrefix(err.Error(), "seccomp policy: "))
	}
	for _, r := range cfg.Rules {
		if action, always := cfg.Policy.SeccompDenies(r.Syscall); always {
			return usagef("--on %s: --seccomp-policy %s answers every %s with %s in the kernel: the rule would never run", r, file, r.Syscall, action)
		}
	}
	return nil
}

// learnedAlways are listed in every learned policy: execve starts the
// program (the sandbox's own call, which handlers do not see), and
// rt_sigreturn returns from a signal handler (refusing it only crashes the
// program, and a signal may come any time).
var learnedAlways = []string{"execve", "rt_sigreturn"}

// syscallRecorder records every syscall number the program makes.
type syscallRecorder struct {
	mu   sync.Mutex
	seen map[int]bool
}

// learnSeccomp prepares learn --seccomp-out FILE (nothing when file is
// empty): it traps every syscall of cmd (continue, after the learner's
// handlers) and records each one, and returns the function that writes
// the allow-list policy once the program has exited. setsid stays denied
// by the sandbox (see sandbox.Policy.AllowProcessGroups) and is left out.
func learnSeccomp(file string, cmd *sandbox.Cmd, arch *syscalls.Arch, program []string) (write func() error, err error) {
	if file == "" {
		return func() error { return nil }, nil
	}
	out, err := os.Create(file)
	if err != nil {
		return nil, usagef("--seccomp-out %s: %v", file, unwrapPath(err))
	}
	rec := &syscallRecorder{seen: map[int]bool{}}
	cont := handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() })
	for _, s := range arch.Syscalls() {
		if s.Name == "setsid" {
			continue
		}
		if err := cmd.Handle(s.Name, cont); err != nil {
			out.Close()
			return nil, fmt.Errorf("--seccomp-out: %w", err)
		}
	}
	if cmd.ServeOptions == nil {
		cmd.ServeOptions = &handler.Options{}
	}
	prev := cmd.ServeOptions.Observe
	cmd.ServeOptions.Observe = func(c *handler.Ctx, a handler.Action, d time.Duration) {
		rec.mu.Lock()
		rec.seen[c.Syscall()] = true
		rec.mu.Unlock()
		if prev != nil {
			prev(c, a, d)
		}
	}
	return func() error {
		rec.mu.Lock()
		names := slices.Clone(learnedAlways)
		for nr := range rec.seen {
			if name, ok := arch.Name(nr); ok && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
		rec.mu.Unlock()
		slices.Sort(names)
		if err := writeSeccompPolicy(out, names, program); err != nil {
			out.Close()
			return fmt.Errorf("--seccomp-out %s: %w", file, err)
		}
		if err := out.Close(); err != nil {
			return fmt.Errorf("--seccomp-out %s: %w", file, err)
		}
		return nil
	}, nil
}

// writeSeccompPolicy writes the allow list of names in go-seccomp-bpf's
// format (the one elastic's seccomp-profiler writes): everything else
// fails with EPERM.
func writeSeccompPolicy(w io.Writer, names, program []string) error {
	var b strings.Builder
	b.WriteString("# Written by sandlock-go learn --seccomp-out: the syscalls of one run of\n")
	args := make([]string, len(program))
	for i, a := range program {
		args[i] = a
		if a == "" || strings.ContainsFunc(a, func(r rune) bool { return r <= ' ' || r == '"' || r == '\'' || r == '\\' || r > '~' }) {
			args[i] = strconv.Quote(a)
		}
	}
	fmt.Fprintf(&b, "#   %s\n", strings.Join(args, " "))
	b.WriteString("# allowed; every other fails with EPERM. Enforce it with\n")
	b.WriteString("#   sandlock-go run --seccomp-policy FILE -- PROGRAM [ARGS...]\n")
	b.WriteString("default_action: errno\nsyscalls:\n  - action: allow\n    names:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "      - %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
