package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/netpolicy"
	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// maxProcessLimit bounds --max-processes.
const maxProcessLimit = 1 << 20

// policyFlags are the values of the policy flags of run.
type policyFlags struct {
	allowPath, denyPath, allowExec stringList
	allowConnect, allowBind        stringList
	maxProcesses                   string
	profile                        string
	// denied, when set, collects the denials of the policies built from
	// these flags (denials.go); not a flag.
	denied *denials
	// traced says every decision is wanted (--trace): the open policy
	// then traps opens even where Landlock alone enforces it; not a flag.
	traced bool
}

func (f *policyFlags) declare(fs *flag.FlagSet) {
	fs.Var(&f.allowPath, "allow-path", "allow opens beneath PATH")
	fs.Var(&f.denyPath, "deny-path", "deny opens beneath PATH")
	fs.Var(&f.allowExec, "allow-exec", "allow exec of PATH")
	fs.Var(&f.allowConnect, "allow-connect", "allow connect to HOST:PORT")
	fs.Var(&f.allowBind, "allow-bind", "allow bind of PORT")
	fs.StringVar(&f.maxProcesses, "max-processes", "", "process limit")
	fs.StringVar(&f.profile, "profile", "", "profile to enforce")
}

// registration is one handler and the syscalls it goes on.
type registration struct {
	flag     string // the flag that asked for it, for errors
	syscalls []string
	h        handler.Handler // nil: a kernel layer only
	// kernel, when set, adds the kernel layer under the handler to the
	// run's sandbox.Policy (Landlock rules).
	kernel func(*sandbox.Policy)
}

// buildPolicies checks the policy flags and the profile and returns the
// handlers to register, in order. Errors are *usageError naming the
// culprit.
func buildPolicies(f *policyFlags, prof *Profile, arch *syscalls.Arch) ([]registration, error) {
	// Check each value alone, so that the message names it.
	for _, c := range []struct {
		flag   string
		values []string
		rules  func(string) pathpolicy.Rules
	}{
		{"--allow-path", f.allowPath, func(s string) pathpolicy.Rules { return pathpolicy.Rules{Allow: []string{s}} }},
		{"--deny-path", f.denyPath, func(s string) pathpolicy.Rules { return pathpolicy.Rules{Deny: []string{s}} }},
		{"--allow-exec", f.allowExec, func(s string) pathpolicy.Rules { return pathpolicy.Rules{Allow: []string{s}} }},
	} {
		for _, v := range c.values {
			if _, err := pathpolicy.NewOpenPolicy(c.rules(v)); err != nil {
				return nil, usagef("%s: %v", flagValue(c.flag, v), patternError(err))
			}
		}
	}
	for _, v := range f.allowConnect {
		if _, err := netpolicy.New(netpolicy.Rules{Connect: []string{v}}); err != nil {
			return nil, usagef("%s: %v", flagValue("--allow-connect", v), policyError(err, v))
		}
	}
	for _, v := range f.allowBind {
		if _, err := netpolicy.New(netpolicy.Rules{Bind: []string{v}}); err != nil {
			return nil, usagef("%s: %v", flagValue("--allow-bind", v), policyError(err, v))
		}
	}

	var regs []registration
	add := func(flag string, names []string, h handler.Handler) {
		regs = append(regs, registration{flag: flag, syscalls: names, h: h})
	}
	// addPolicy registers a handler.Policy on its syscalls, and what
	// would bypass it (handler.KernelDenier) in the kernel deny list.
	addPolicy := func(flag string, p handler.Policy) {
		reg := registration{flag: flag, syscalls: p.Syscalls(arch), h: p}
		if denies := handler.KernelDenies(p, arch); len(denies) > 0 {
			reg.kernel = func(sp *sandbox.Policy) {
				for _, n := range denies {
					if !slices.Contains(sp.Deny, n) {
						sp.Deny = append(sp.Deny, n)
					}
				}
			}
		}
		regs = append(regs, reg)
	}

	// Files.
	if prof != nil {
		files, err := pathpolicy.NewOpenPolicy(exactly(append(slices.Clone(f.allowPath), prof.Open.Files...), f.denyPath))
		if err != nil {
			return nil, usagef("--profile %s: open.files: %v", f.profile, patternError(err))
		}
		dirs, err := pathpolicy.NewOpenPolicy(exactly(append(slices.Clone(f.allowPath), prof.Open.Dirs...), f.denyPath))
		if err != nil {
			return nil, usagef("--profile %s: open.dirs: %v", f.profile, patternError(err))
		}
		files.OnDecision, dirs.OnDecision = f.onOpen(), f.onOpen()
		addPolicy("--profile", newDirFallback(files, dirs)) // dirfallback.go
	} else if len(f.allowPath)+len(f.denyPath) > 0 {
		p, err := pathpolicy.NewOpenPolicy(pathpolicy.Rules{Allow: f.allowPath, Deny: f.denyPath})
		if err != nil {
			return nil, usagef("--allow-path/--deny-path: %v", patternError(err))
		}
		p.OnDecision = f.onOpen()
		addPolicy("--allow-path/--deny-path", p)
		if kernelOnlyOpens(f) {
			// Landlock enforces an allow-list of plain paths completely
			// for opens (Files layer below): no trap per open. The
			// policy still mediates what Landlock has no right for
			// (chmod, chown, utimes, xattrs, ...).
			reg := &regs[len(regs)-1]
			reg.syscalls = slices.DeleteFunc(reg.syscalls, func(n string) bool { return slices.Contains(openFamily, n) })
			if f.denied != nil {
				f.denied.kernelDecides("--allow-path")
			}
		}
		if len(f.allowPath) > 0 {
			// Kernel first: Landlock confines every file access but
			// exec beneath the allowed paths, so the supervisor's
			// decisions come second (globs: the paths they match now).
			filePaths := landlockPaths(f.allowPath)
			denies := regs[len(regs)-1].kernel
			regs[len(regs)-1].kernel = func(sp *sandbox.Policy) {
				if denies != nil {
					denies(sp)
				}
				sp.FilePaths = filePaths
			}
		}
	}

	// Execs.
	if prof != nil || len(f.allowExec) > 0 {
		rules := pathpolicy.Rules{Allow: f.allowExec}
		flag := "--allow-exec"
		if prof != nil {
			rules = exactly(append(slices.Clone(f.allowExec), prof.Exec.Paths...), nil)
			flag = "--profile"
		}
		p, err := pathpolicy.NewExecPolicy(rules)
		if err != nil {
			return nil, usagef("--profile %s: exec.paths: %v", f.profile, patternError(err))
		}
		p.OnDecision = f.onExec()
		addPolicy(flag, p)
		// Landlock's execute right under it: race-free, and it also
		// covers the #! interpreters and dynamic loaders the kernel
		// opens (see docs/security.md).
		execPaths := landlockPaths(rules.Allow)
		regs[len(regs)-1].kernel = func(sp *sandbox.Policy) { sp.ExecPaths = execPaths }
	}

	// Processes.
	limit := 0
	if prof != nil {
		limit = prof.Processes.Max
	}
	if f.maxProcesses != "" {
		n, err := strconv.Atoi(f.maxProcesses)
		if err != nil || n < 1 || n > maxProcessLimit {
			return nil, usagef("--max-processes %s: want a number from 1 to %d", f.maxProcesses, maxProcessLimit)
		}
		limit = n
	}
	if limit > 0 {
		flag := "--max-processes"
		if f.maxProcesses == "" {
			flag = "--profile"
		}
		// The kernel's pids controller in a cgroup of the run, or the
		// trap on fork and clone where none can be made (the sandbox
		// decides; run.go says which).
		regs = append(regs, registration{flag: flag, kernel: func(sp *sandbox.Policy) { sp.MaxProcesses = limit }})
	}

	// Network.
	if prof != nil || len(f.allowConnect)+len(f.allowBind) > 0 {
		rules := netpolicy.Rules{Connect: f.allowConnect, Bind: f.allowBind}
		var names, flags []string
		connect, bind := len(f.allowConnect) > 0, len(f.allowBind) > 0
		if connect {
			names, flags = append(names, netpolicy.ConnectSyscalls(arch)...), append(flags, "--allow-connect")
		}
		if bind {
			names, flags = append(names, netpolicy.BindSyscalls(arch)...), append(flags, "--allow-bind")
		}
		flag := strings.Join(flags, "/")
		if prof != nil {
			rules.Connect = append(slices.Clone(f.allowConnect), prof.Network.Connect...)
			rules.Bind = append(slices.Clone(f.allowBind), prof.Network.Bind...)
			names = append(netpolicy.ConnectSyscalls(arch), netpolicy.BindSyscalls(arch)...)
			connect, bind = true, true
			flag = "--profile"
		}
		p, err := netpolicy.New(rules)
		if err != nil {
			return nil, usagef("--profile %s: network: %v", f.profile, err)
		}
		p.OnDecision = f.onNet()
		var have []string
		for _, n := range p.Syscalls(arch) {
			if slices.Contains(names, n) {
				have = append(have, n)
			}
		}
		add(flag, have, p)
		// Landlock's TCP port rules under it, for the sides it decides.
		connectPorts, bindPorts := p.TCPPorts()
		regs[len(regs)-1].kernel = func(sp *sandbox.Policy) {
			if connect {
				sp.TCPConnectPorts = connectPorts
			}
			if bind {
				sp.TCPBindPorts = bindPorts
			}
		}
	}
	return regs, nil
}

// openFamily are the opens Landlock decides alone under kernelOnlyOpens
// (openat2 is ENOSYS by default; when allowed again it stays trapped).
var openFamily = []string{"open", "openat", "creat"}

// kernelOnlyOpens reports whether the open policy of f needs no trap on
// opens: an allow-list of plain paths (no glob, which Landlock cannot
// follow to names created later), no deny rule (Landlock cannot express
// one), no --trace (which wants every decision), and a kernel with
// Landlock (the Files layer).
func kernelOnlyOpens(f *policyFlags) bool {
	if f.traced || len(f.denyPath) > 0 || len(f.allowPath) == 0 {
		return false
	}
	for _, p := range f.allowPath {
		if strings.ContainsAny(p, "*?[") {
			return false
		}
	}
	abi, err := notif.LandlockABI()
	return err == nil && abi >= 1
}

// landlockPaths turns path patterns into the paths of Landlock rules: a
// glob becomes the paths that match it now (Landlock has no patterns; a
// path created later under a matching name is not covered), and a path that
// does not exist yet its existing directory. The result is
// never nil: no pattern, no path.
func landlockPaths(patterns []string) []string {
	out := []string{}
	for _, p := range patterns {
		if !strings.ContainsAny(p, "*?[") {
			// A program the run will create (a compiled ./hello in a
			// profile): Landlock needs an existing path, so its
			// directory; the exec policy above still checks the name.
			if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
				if st, err := os.Stat(filepath.Dir(p)); err == nil && st.IsDir() {
					p = filepath.Dir(p)
				}
			}
			out = append(out, p)
			continue
		}
		matches, _ := filepath.Glob(p) // the pattern was checked by pathpolicy
		out = append(out, matches...)
	}
	return out
}

// exactly returns rules that allow allow and nothing else: an empty allow
// list denies everything (pathpolicy allows everything then).
func exactly(allow, deny []string) pathpolicy.Rules {
	if len(allow) == 0 {
		return pathpolicy.Rules{Deny: []string{"/"}}
	}
	return pathpolicy.Rules{Allow: allow, Deny: deny}
}

// flagValue is "--flag value", or "--flag" for an empty value.
func flagValue(flag, v string) string {
	if v == "" {
		return flag
	}
	return flag + " " + v
}

// patternError is the message of a path policy error: the pattern and
// why, without the library's context, which the flag in front of it
// replaces.
func patternError(err error) error {
	var pe *pathpolicy.PatternError
	if errors.As(err, &pe) {
		return pe
	}
	return err
}

// policyError is the message of a library error about value, without
// the prefixes ("open policy: allow: ", `connect rule "x": `) that the
// flag and value in front of it replace.
func policyError(err error, value string) string {
	s := err.Error()
	for _, p := range []string{"open policy: ", "exec policy: ", "allow: ", "deny: ",
		fmt.Sprintf("connect rule %q: ", value), fmt.Sprintf("bind rule %q: ", value)} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}
