package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/audit"
	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

const runUsage = `Usage: sandlock-go run [flags] [--] PROGRAM [ARGS...]

Run PROGRAM under seccomp user-notification supervision. Its exit status is
PROGRAM's, or 128+N when signal N killed it. PROGRAM runs in a session of its
own; SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed on to its process group.
When stdin is a terminal, PROGRAM gets a new pseudo-terminal as its
controlling terminal, relayed to this one (in raw mode for the run, restored
after; the window size follows): Ctrl-C reaches PROGRAM, /dev/tty works, and
what PROGRAM types into its terminal stays there.

Flags:
  --on SYSCALL=ACTION
        Trap SYSCALL and answer it with ACTION. Repeatable; several --on of one
        syscall form a chain asked in order, and the first answer other than
        continue wins. ACTION is one of
          continue       let the syscall run
          errno:NAME     fail it with an errno name, e.g. errno:EACCES
          errno:NUMBER   fail it with an errno number (1..4095), e.g. errno:13
          ret:N          return N without running it
          kill           kill the process (status 137)
        e.g. --on getppid=ret:777 --on openat=errno:EACCES
  --deny SYSCALL[,SYSCALL...]
        Fail SYSCALL with EPERM in the kernel filter, without notification.
        Repeatable. A syscall cannot both be denied and have an --on rule.
        e.g. --deny mkdir,mkdirat
  --deny-default
        Accepted for old command lines: the default deny list (mount, ptrace,
        bpf, io_uring, kexec, modules, keyrings, namespaces, ...) now applies
        to every run; --allow-syscall takes a syscall out of it.
        e.g. --deny-default
  --identity IDENTITY
        Who PROGRAM is to the host. protected (the default): your user, no
        capabilities, and /etc, /usr, /proc/sys, /sys, /dev (but null, tty,
        pts, shm, ...), /boot, /run, /var (but tmp) and the shell
        start-up files of your home and /root are read-only to it. userns:
        root of a user namespace of its own, nobody (65534) on the host when
        sandlock-go is root, your user otherwise: a stranger to your files
        (PROGRAM and the working directory must be reachable by that user).
        host-root: your user with your capabilities and no write protection
        ("run as real root, no boundary"); the supervisor stays out of reach.
        e.g. --identity userns
  --cap-add CAP
        Keep capability CAP (repeatable; every other is dropped), bubblewrap's
        spelling: CAP_NET_RAW or NET_RAW.
        e.g. --cap-add CAP_NET_BIND_SERVICE
  --allow-unix PATH
        Let PROGRAM connect and send to the unix socket PATH outside the run
        (repeatable): a socket file, a directory (every socket beneath it), or
        @NAME for an abstract socket (still refused by Landlock on Linux
        6.12+). By default only sockets a process of the run holds are
        reachable by address.
        e.g. --allow-unix /run/user/1000/bus
  --allow-syscall SYSCALL
        Take SYSCALL out of the kernel-side isolation rules (repeatable, with
        a warning): a name of the default deny list, or clone (namespace
        flags), clone3, openat2, ioctl (TIOCSTI, TIOCLINUX), chmod (set-ID
        modes). sandlock-go syscalls --isolation lists them.
        e.g. --allow-syscall unshare
  -r PATH
        Landlock: allow reading and executing beneath PATH. Repeatable. Once
        any -r or -w is given, every other path is denied, PROGRAM and its
        libraries included.
        e.g. -r /usr -r /etc (on Debian /bin, /lib and /lib64 are symlinks
        into /usr, so -r /usr covers them)
  -w PATH
        Landlock: like -r, and also allow writing, creating and removing
        beneath PATH. Repeatable.
        e.g. -w /tmp/work
  --landlock-strict
        Fail when the kernel cannot enforce every Landlock right, instead of
        enforcing what it can (needs -r or -w).
        e.g. -r /usr --landlock-strict
  --allow-path PATH
        Open files only beneath PATH (repeatable): the supervisor performs
        every open, openat, openat2 and creat itself, checks the canonical
        path of what it opened, and fails the others with EACCES. PATH is
        absolute; a plain path covers itself and everything beneath it, one
        with *, ? or [ is a glob.
        e.g. --allow-path /usr --allow-path /etc/hostname
  --deny-path PATH
        Fail opens beneath PATH with EACCES (repeatable; wins over
        --allow-path; alone, everything else is allowed).
        e.g. --deny-path /etc/shadow --deny-path '/home/*/.ssh'
  --allow-exec PATH
        Let execve and execveat run only programs beneath PATH (repeatable);
        others fail with EACCES. Not race-free against a hostile
        multi-threaded program: add -r for that.
        e.g. --allow-exec /usr/bin/cat
  --max-processes N
        Let at most N tasks (processes and threads) of the run exist at
        once (1..1048576), in a pids cgroup of the run; creations beyond
        fail with EAGAIN. Without a cgroup (not root, no delegation) fork,
        vfork and clone are trapped and processes counted (a note says so).
        e.g. --max-processes 4
  --allow-connect HOST:PORT
        Let connect reach only HOST:PORT (repeatable); others fail with
        ECONNREFUSED. HOST is an IP address, localhost (127.0.0.1 and ::1)
        or *; PORT a number or *. IPv6 in brackets: [::1]:80. Unix sockets
        are not affected.
        e.g. --allow-connect 127.0.0.1:8080 --allow-connect '*:443'
  --allow-bind PORT
        Let bind use only PORT, or HOST:PORT (repeatable); others fail with
        EACCES.
        e.g. --allow-bind 8080
  --profile FILE
        Enforce a profile written by sandlock-go learn: opens of exactly its
        files, opendir of its directories, execs of exactly its programs,
        connects and binds of exactly its endpoints, its process limit. The
        flags above add to it (--max-processes replaces its limit).
        e.g. --profile cat.toml
  --seccomp-policy FILE
        Enforce a static seccomp policy in the kernel, in elastic/go-seccomp-bpf's
        YAML or JSON format (default_action, syscalls: action, names,
        names_with_args), such as learn --seccomp-out writes. It is a filter of
        its own next to sandlock-go's: the most restrictive answer wins (a call
        it denies never reaches an --on rule, --deny or a policy flag). It must
        allow execve. Conditions on 32-bit arguments (ioctl's request) compare
        the low 32 bits, as the kernel does. See docs/cli.md for the format.
        e.g. --seccomp-policy ls.yaml
  --trace FILE
        Write one JSON line per trapped syscall to FILE ("-" for stderr): time,
        pid, syscall, nr, args (6 hex strings), decoded arguments, path (for
        path syscalls), action, latency_ns. Only trapped syscalls are traced:
        those with an --on rule or a policy flag, and execve (always trapped).
        e.g. --trace - --on openat=continue
  --on-exception POLICY
        What a trapped syscall gets when its --on handler fails: kill
        (default), eperm, continue or eio.
        e.g. --on-exception eperm
  --workers N
        Handle up to N trapped syscalls at once (default 8, at most 1024).
        e.g. --workers 2
  --no-pty
        Do not give PROGRAM a pseudo-terminal: it gets this terminal as its
        stdin, stdout and stderr, but not as its controlling terminal (no
        /dev/tty, no window size changes; Ctrl-C is passed on as a signal).
        e.g. --no-pty
  --quiet
        Do not print the note on stderr, at the end of the run, naming
        what the policy flags (--allow-path, --deny-path, --allow-exec,
        --allow-connect, --allow-bind, --profile) denied and the rule
        responsible: "sandlock-go: denied open /etc/shadow (--deny-path
        /etc/shadow); 3 more denials".
        e.g. --quiet
` + envFlagsHelp + `  -h, --help
        Print this help.

Example:
  sandlock-go run --on getppid=ret:777 -- sh -c 'echo $PPID'     # prints 777
`

// maxWorkers bounds --workers: each worker holds an OS thread.
const maxWorkers = 1024

// runConfig is a parsed run command line.
type runConfig struct {
	Rules       []OnRule
	Policies    []registration // after Rules in each chain
	Policy      sandbox.Policy
	OnException handler.ExceptionPolicy
	Workers     int    // 0: the default
	Trace       string // "": none; "-": stderr
	NoPTY       bool
	// Denied collects the policy flags' denials, for the note at the end
	// of the run; nil with --quiet.
	Denied  *denials
	Env     []envOp // --clearenv, --setenv, --unsetenv in order
	Program []string
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, " ") }

func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// runFlags declares the flags of run on a new FlagSet; the values are
// checked after parsing, by parseRun.
type runFlags struct {
	fs                  *flag.FlagSet
	on, deny, ro, rw    stringList
	denyDefault, strict bool
	identity            string
	capAdd, allowSys    stringList
	allowUnix           stringList
	trace, onException  string
	workers             string
	noPTY               bool
	quiet               bool
	policy              policyFlags
	seccompPolicy       string
}

func newRunFlags() *runFlags {
	f := &runFlags{fs: flag.NewFlagSet("run", flag.ContinueOnError)}
	fs := f.fs
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.Var(&f.on, "on", "trap SYSCALL and answer ACTION")
	fs.Var(&f.deny, "deny", "deny syscalls in the kernel")
	fs.BoolVar(&f.denyDefault, "deny-default", false, "deny the default list")
	fs.StringVar(&f.identity, "identity", "protected", "identity of the program")
	fs.Var(&f.capAdd, "cap-add", "keep a capability")
	fs.Var(&f.allowSys, "allow-syscall", "take a syscall out of the isolation rules")
	fs.Var(&f.allowUnix, "allow-unix", "allow a unix socket outside the run")
	fs.Var(&f.ro, "r", "Landlock read-only path")
	fs.Var(&f.rw, "w", "Landlock read-write path")
	fs.BoolVar(&f.strict, "landlock-strict", false, "fail when Landlock is not fully enforced")
	fs.StringVar(&f.trace, "trace", "", "trace file")
	fs.StringVar(&f.onException, "on-exception", "kill", "exception policy")
	fs.StringVar(&f.workers, "workers", "", "number of workers")
	fs.BoolVar(&f.noPTY, "no-pty", false, "no pseudo-terminal")
	fs.BoolVar(&f.quiet, "quiet", false, "no note on denials")
	fs.StringVar(&f.seccompPolicy, "seccomp-policy", "", "static seccomp policy file")
	f.policy.declare(fs)
	return f
}

// parseRun parses the arguments of run. Errors are *usageError, or errHelp.
func parseRun(args []string, arch *syscalls.Arch) (*runConfig, error) {
	f := newRunFlags()
	args, envOps, err := splitEnvFlags(f.fs, args) // env.go
	if err != nil {
		return nil, err
	}
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usagef("run: %v (see sandlock-go run --help)", err)
	}
	cfg := &runConfig{Program: f.fs.Args(), NoPTY: f.noPTY, Env: envOps}

	handled := map[string]bool{}
	for _, s := range f.on {
		r, err := ParseOn(s, arch)
		if err != nil {
			return nil, usagef("--on %s: %v", s, err)
		}
		cfg.Rules = append(cfg.Rules, r)
		handled[r.Syscall] = true
	}

	var prof *Profile
	if f.policy.profile != "" {
		if prof, err = loadProfile(f.policy.profile); err != nil {
			return nil, err
		}
	} else if flagGiven(f.fs, "profile") {
		return nil, usagef("--profile: want a file name")
	}
	if !f.quiet {
		cfg.Denied = &denials{}
		f.policy.denied = cfg.Denied
	}
	f.policy.traced = f.trace != ""
	regs, err := buildPolicies(&f.policy, prof, arch)
	if err != nil {
		return nil, err
	}
	cfg.Policies = regs
	for _, r := range regs {
		if r.kernel != nil {
			r.kernel(&cfg.Policy)
		}
	}
	policyOf := map[string]string{}
	for _, r := range regs {
		for _, n := range r.syscalls {
			if _, ok := policyOf[n]; !ok {
				policyOf[n] = r.flag
			}
		}
	}

	for _, s := range f.deny {
		names, err := ParseDeny(s, arch)
		if err != nil {
			return nil, usagef("--deny %s: %v", s, err)
		}
		for _, n := range names {
			switch {
			case n == "execve":
				return nil, usagef("--deny %s: execve cannot be denied: the sandbox starts the program with it (use --on execve=...)", s)
			case handled[n]:
				return nil, usagef("--deny %s: %s also has an --on rule", s, n)
			case policyOf[n] != "":
				return nil, usagef("--deny %s: %s is also decided by %s", s, n, policyOf[n])
			case !slices.Contains(cfg.Policy.Deny, n):
				cfg.Policy.Deny = append(cfg.Policy.Deny, n)
			}
		}
	}
	// --deny-default is the default now: nothing to add.

	id, err := sandbox.ParseIdentity(f.identity)
	if err != nil {
		return nil, usagef("--identity: %v", err)
	}
	cfg.Policy.Identity = id
	for _, c := range f.capAdd {
		if _, err := sandbox.ParseCapability(c); err != nil {
			return nil, usagef("--cap-add: %v", err)
		}
		if id == sandbox.IdentityHostRoot {
			return nil, usagef("--cap-add %s: --identity host-root keeps every capability", c)
		}
	}
	cfg.Policy.CapAdd = f.capAdd
	for _, u := range f.allowUnix {
		if !strings.HasPrefix(u, "@") && !filepath.IsAbs(u) {
			return nil, usagef("--allow-unix %s: want an absolute path or @NAME", u)
		}
		if id == sandbox.IdentityHostRoot {
			return nil, usagef("--allow-unix %s: --identity host-root reaches every unix socket already", u)
		}
	}
	cfg.Policy.AllowUnix = f.allowUnix
	isolation := sandbox.IsolationSyscalls()
	for _, s := range f.allowSys {
		names, err := ParseDeny(s, arch)
		if err != nil {
			return nil, usagef("--allow-syscall %s: %v", s, err)
		}
		for _, n := range names {
			if !slices.Contains(isolation, n) {
				return nil, usagef("--allow-syscall %s: %s is not denied by the sandbox (see sandlock-go syscalls --isolation)", s, n)
			}
			if !slices.Contains(cfg.Policy.AllowSyscalls, n) {
				cfg.Policy.AllowSyscalls = append(cfg.Policy.AllowSyscalls, n)
			}
		}
	}

	if err := checkPaths("-r", f.ro); err != nil {
		return nil, err
	}
	if err := checkPaths("-w", f.rw); err != nil {
		return nil, err
	}
	cfg.Policy.ReadOnlyPaths = f.ro
	cfg.Policy.ReadWritePaths = f.rw
	if f.strict && len(f.ro)+len(f.rw) == 0 {
		return nil, usagef("--landlock-strict: needs at least one -r or -w")
	}
	cfg.Policy.LandlockStrict = f.strict

	p, err := handler.ParseExceptionPolicy(f.onException)
	if err != nil {
		return nil, usagef("--on-exception %s: %v", f.onException, err)
	}
	cfg.OnException = p

	if f.workers != "" {
		n, err := strconv.Atoi(f.workers)
		if err != nil || n < 1 || n > maxWorkers {
			return nil, usagef("--workers %s: want a number from 1 to %d", f.workers, maxWorkers)
		}
		cfg.Workers = n
	}

	if f.trace == "" && flagGiven(f.fs, "trace") {
		return nil, usagef("--trace: want a file name, or - for stderr")
	}
	cfg.Trace = f.trace

	if err := applySeccompPolicy(cfg, f.seccompPolicy, flagGiven(f.fs, "seccomp-policy")); err != nil {
		return nil, err
	}

	if len(cfg.Program) == 0 {
		return nil, usagef("run: no program given (usage: sandlock-go run [flags] -- PROGRAM [ARGS...])")
	}
	return cfg, nil
}

// checkPaths verifies the Landlock paths of one flag: each must exist.
func checkPaths(flagName string, paths []string) error {
	for _, p := range paths {
		if p == "" {
			return usagef("%s: empty path", flagName)
		}
		if _, err := os.Stat(p); err != nil {
			return usagef("%s %s: %v", flagName, p, unwrapPath(err))
		}
	}
	return nil
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// newCommand builds the sandbox.Cmd of cfg; observe, when not nil, sees
// every answered syscall.
func newCommand(cfg *runConfig, observe func(*handler.Ctx, handler.Action, time.Duration)) (*sandbox.Cmd, error) {
	cmd := sandbox.Command(cfg.Program[0], cfg.Program[1:]...)
	cmd.Policy = cfg.Policy
	cmd.Env = commandEnv(cfg.Env) // env.go
	for _, r := range cfg.Rules {
		if err := cmd.Handle(r.Syscall, ruleHandler(r, cfg.OnException)); err != nil {
			return nil, usagef("--on %s: %v", r, err)
		}
	}
	for _, reg := range cfg.Policies {
		for _, name := range reg.syscalls {
			if err := cmd.Handle(name, reg.h); err != nil {
				return nil, usagef("%s: %s: %v", reg.flag, name, err)
			}
		}
	}
	cmd.ServeOptions = &handler.Options{Workers: cfg.Workers, Observe: observe}
	return cmd, nil
}

// ruleHandler answers every call with the rule's action; p is its
// exception policy.
func ruleHandler(r OnRule, p handler.ExceptionPolicy) handler.Handler {
	a := r.Action
	return handler.WithExceptionPolicy(handler.Func(func(*handler.Ctx) handler.Action { return a }), p)
}

// resolveProgram finds the program as the sandbox will, to tell "not
// found" (127) and "not executable" (126) from other failures.
func resolveProgram(command, name string) (int, error) {
	_, err := exec.LookPath(name)
	switch {
	case err == nil:
		return 0, nil
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return exitNotFound, fmt.Errorf("%s: %s: not found", command, name)
	default:
		return exitNotExec, fmt.Errorf("%s: %s: not executable", command, name)
	}
}

func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseRun(args, syscalls.Native())
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, runUsage)
		return 0
	}
	if err != nil {
		return fail(stderr, err)
	}
	if code, err := resolveProgram("run", cfg.Program[0]); err != nil {
		fmt.Fprintf(stderr, "sandlock-go: %v\n", err)
		return code
	}
	ttyStderr := stderr
	stderr = rawSafe(cfg.NoPTY, stdin, stderr) // tty.go

	var tw *audit.Recorder
	if cfg.Trace != "" {
		out := stderr
		if cfg.Trace != "-" {
			f, err := os.Create(cfg.Trace)
			if err != nil {
				return fail(stderr, usagef("--trace %s: %v", cfg.Trace, unwrapPath(err)))
			}
			defer f.Close()
			out = f
		}
		tw = audit.New(out, nil)
	}
	var observe func(*handler.Ctx, handler.Action, time.Duration)
	if tw != nil {
		observe = tw.Observe
	}
	cmd, err := newCommand(cfg, observe)
	if err != nil {
		return fail(stderr, err)
	}
	for _, n := range cfg.Policy.AllowSyscalls {
		fmt.Fprintf(stderr, "sandlock-go: warning: --allow-syscall %s widens what PROGRAM can reach in the kernel\n", n)
	}
	if cfg.Policy.Identity == sandbox.IdentityHostRoot && os.Geteuid() == 0 {
		fmt.Fprintf(stderr, "sandlock-go: warning: --identity host-root: PROGRAM runs as real root with no write protection\n")
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.ServeOptions.OnError = func(err error) {
		fmt.Fprintf(stderr, "sandlock-go: warning: %v\n", err)
	}
	useTerminal(cmd, cfg.NoPTY, stdin, stdout, ttyStderr) // tty.go

	err = runForwardingSignals(cmd)
	if tw != nil {
		if ferr := tw.Flush(); ferr != nil {
			fmt.Fprintf(stderr, "sandlock-go: --trace %s: %v\n", cfg.Trace, ferr)
		}
	}
	if cmd.ProcessState == nil {
		// Start failed: the program never ran.
		return fail(stderr, fmt.Errorf("run: %w", err))
	}
	processNote(stderr, cmd, "--max-processes") // processes.go
	if cfg.Denied != nil {
		if note := cfg.Denied.note(); note != "" {
			fmt.Fprintln(stderr, note)
		}
		if hint := cfg.Denied.hint(cmd.ExitStatus()); hint != "" {
			fmt.Fprintln(stderr, hint)
		}
	}
	return cmd.ExitStatus()
}

// runForwardingSignals runs cmd and passes the signals a terminal or a
// service manager sends to sandlock-go on to the program's process group
// (the sandbox starts the program in a session of its own). sandlock-go
// itself lives on until the program exits, so that Wait restores the
// terminal that cmd.Terminal put in raw mode.
func runForwardingSignals(cmd *sandbox.Cmd) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for {
			select {
			case s := <-sigs:
				_ = unix.Kill(-cmd.Process.Pid, s.(syscall.Signal))
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	<-forwarded
	return err
}

// unwrapPath drops the *fs.PathError wrapping whose path the message names
// already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
