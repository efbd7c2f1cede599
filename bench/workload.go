package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// pyCode is the real workload: a Python start-up that imports a few
// standard modules (hundreds of stat and open calls).
const pyCode = "import json, email, http.client"

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

// Names of the workload configurations.
const (
	cfgPyBare   = "bare"
	cfgPyTrace  = "sandlock-go, Continue on the trace set"
	cfgPyPolicy = "sandlock-go, path policy (opens on the child's behalf)"
)

// workload is the Python figure: wall time of the whole run, start-up
// included.
type workload struct {
	python        string
	traced        []string // the trace set on this architecture
	policy        []string // the syscalls the path policy handles
	s             samples  // seconds per run
	trapsTrace    int64    // trapped syscalls in one traced run
	trapsPolicy   int64    // opens performed by the policy in one run
	policyDenials int64
}

func runWorkload(set settings) (*workload, error) {
	py, err := python()
	if err != nil {
		return nil, fmt.Errorf("no python3: %w", err)
	}
	res := &workload{python: py}
	for _, name := range traceSet {
		if _, err := syscalls.Native().Number(name); err == nil {
			res.traced = append(res.traced, name)
		}
	}
	policy, err := pathpolicy.NewOpenPolicy(pathpolicy.Rules{Allow: []string{"/"}})
	if err != nil {
		return nil, err
	}
	res.policy = policy.Syscalls(nil)
	var traps, opens, denials atomic.Int64
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
	bare := func() (float64, error) {
		return timeRun(func() error { return quiet(exec.Command(py, "-c", pyCode)) })
	}
	traced := func() (float64, error) {
		traps.Store(0)
		cmd := sandbox.Command(py, "-c", pyCode)
		for _, name := range res.traced {
			if err := cmd.Handle(name, counted); err != nil {
				return 0, err
			}
		}
		v, err := timeRun(func() error { return quietSandbox(cmd) })
		res.trapsTrace = traps.Load()
		return v, err
	}
	policed := func() (float64, error) {
		opens.Store(0)
		denials.Store(0)
		cmd := sandbox.Command(py, "-c", pyCode)
		for _, name := range res.policy {
			if err := cmd.Handle(name, policy); err != nil {
				return 0, err
			}
		}
		v, err := timeRun(func() error { return quietSandbox(cmd) })
		res.trapsPolicy, res.policyDenials = opens.Load(), denials.Load()
		return v, err
	}
	// One warm-up run of each fills the page cache and Python's
	// bytecode cache.
	cfgs := []config{{cfgPyBare, bare}, {cfgPyTrace, traced}, {cfgPyPolicy, policed}}
	if _, err := interleave(1, cfgs); err != nil {
		return nil, err
	}
	if res.s, err = interleave(set.pyRounds, cfgs); err != nil {
		return nil, err
	}
	return res, nil
}

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
