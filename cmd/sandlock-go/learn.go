package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/audit"
	"github.com/sandlock-go/sandlock-go/handler/netpolicy"
	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

const learnUsage = `Usage: sandlock-go learn -o FILE [--strict] [--] PROGRAM [ARGS...]

Run PROGRAM, allowing everything, and write to FILE a profile of what it did
(TOML): the paths it opened (and tried to open), the directories it listed,
the programs it executed, the addresses it connected to and bound, and the
most tasks (processes and threads) it had at once, read from the kernel's
pids cgroup of the run (where none can be made: the most processes, counted
by trapping fork and clone). Enforce the profile with

  sandlock-go run --profile FILE -- PROGRAM [ARGS...]

The profile is generalized so that the next run of the same command passes
(docs/cli.md, "How learn generalizes"): names PROGRAM created under /tmp,
/var/tmp, /dev/shm, $TMPDIR or /run/user/UID become globs of their fixed
prefix (/tmp/cc*) or of their shape, directories it created become
directory rules (for opens and execs), /proc/PID becomes /proc/*, a
toolchain's private programs (gcc's cc1) its directory, directories of
system code (/usr, /lib*, /opt, and the lib tree of an executed program's
prefix) it read three files from become directory rules, and
processes.max doubles. Every other path stays exact: files PROGRAM did not
touch are not allowed. Review the profile before relying on it.

The exit status is PROGRAM's; the profile is written whatever it is, and
a line on stderr says what was written.

Flags:
  -o FILE
        Where to write the profile (created or truncated). Required.
        e.g. -o cat.toml
  --no-pty
        Do not give PROGRAM a pseudo-terminal of its own when stdin is a
        terminal (see sandlock-go run --help).
        e.g. --no-pty
  --seccomp-out FILE
        Also write a static seccomp policy (elastic/go-seccomp-bpf's YAML
        format): the syscalls PROGRAM made allowed, every other failing with
        EPERM, for run --seccomp-policy FILE. Every syscall is trapped
        during the run, which makes it slower.
        e.g. --seccomp-out cat.yaml
  --strict
        Write the paths exactly as seen: no globs, no directory rules for
        what PROGRAM created, processes.max as counted.
        e.g. --strict
  --quiet
        Do not print the summary line.
        e.g. --quiet
  -h, --help
        Print this help.

Example:
  sandlock-go learn -o cat.toml -- cat /etc/hostname
  sandlock-go run --profile cat.toml -- cat /etc/hostname
  sandlock-go learn -o cat.toml --seccomp-out cat.yaml -- cat /etc/hostname
  sandlock-go run --seccomp-policy cat.yaml -- cat /etc/hostname
`

type learnConfig struct {
	Output     string
	NoPTY      bool
	SeccompOut string
	Strict     bool
	Quiet      bool
	Program    []string
}

func parseLearn(args []string) (*learnConfig, error) {
	fs := flag.NewFlagSet("learn", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	cfg := &learnConfig{}
	fs.StringVar(&cfg.Output, "o", "", "profile file")
	fs.BoolVar(&cfg.NoPTY, "no-pty", false, "no pseudo-terminal")
	fs.StringVar(&cfg.SeccompOut, "seccomp-out", "", "static seccomp policy file")
	fs.BoolVar(&cfg.Strict, "strict", false, "exact paths only")
	fs.BoolVar(&cfg.Quiet, "quiet", false, "no summary")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usagef("learn: %v (see sandlock-go learn --help)", err)
	}
	if cfg.Output == "" {
		return nil, usagef("learn: -o FILE is required")
	}
	cfg.Program = fs.Args()
	if len(cfg.Program) == 0 {
		return nil, usagef("learn: no program given (usage: sandlock-go learn -o FILE -- PROGRAM [ARGS...])")
	}
	return cfg, nil
}

// learner collects what a run does.
type learner struct {
	mu                 sync.Mutex
	files, dirs, execs map[string]bool
	connects, binds    map[string]bool
	// peak is the most tasks (cgroup) or processes (trap) the run had
	// at once: sandbox.Cmd.ProcessPeak.
	peak                   int
	filesPolicy, dirPolicy *pathpolicy.OpenPolicy
	// created are the directories the run created.
	created map[string]bool
	// pending is the canonical path the files policy decided on for the
	// call a thread is in (a thread makes one call at a time).
	pending map[int]string
}

func newLearner() (*learner, error) {
	l := &learner{
		files: map[string]bool{}, dirs: map[string]bool{}, execs: map[string]bool{},
		connects: map[string]bool{}, binds: map[string]bool{},
		created: map[string]bool{}, pending: map[int]string{},
	}
	var err error
	if l.filesPolicy, err = pathpolicy.NewOpenPolicy(pathpolicy.Rules{}); err != nil {
		return nil, err
	}
	if l.dirPolicy, err = pathpolicy.NewOpenPolicy(pathpolicy.Rules{}); err != nil {
		return nil, err
	}
	l.filesPolicy.OnDecision = func(d pathpolicy.Decision) {
		l.mu.Lock()
		l.pending[d.Pid] = d.Path
		l.mu.Unlock()
	}
	l.dirPolicy.OnDecision = func(d pathpolicy.Decision) { l.add(l.dirs, d.Path) }
	return l, nil
}

// add records the absolute path s in set; other names (a magic link's
// "pipe:[123]", an unreadable path) are not paths a rule can name.
func (l *learner) add(set map[string]bool, s string) {
	s = strings.TrimSuffix(s, " (deleted)")
	if !filepath.IsAbs(s) {
		return
	}
	l.addEndpoint(set, filepath.Clean(s))
}

// addEndpoint records the network endpoint s in set.
func (l *learner) addEndpoint(set map[string]bool, s string) {
	if s == "" {
		return
	}
	l.mu.Lock()
	set[s] = true
	l.mu.Unlock()
}

// isDir reports whether the object of a files-policy call is a
// directory: the descriptor the supervisor opened when there is one (the
// very object the process gets), else what path names now.
func isDir(a handler.Action, path string) bool {
	if a.Kind() == handler.KindInjectFD {
		var st unix.Stat_t
		if unix.Fstat(int(a.Value()), &st) == nil {
			return st.Mode&unix.S_IFMT == unix.S_IFDIR
		}
	}
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// register puts the learner's handlers on cmd.
func (l *learner) register(cmd *sandbox.Cmd, arch *syscalls.Arch) error {
	router := pathpolicy.NewRouter(l.filesPolicy, l.dirPolicy)
	opens := handler.Func(func(c *handler.Ctx) handler.Action {
		lex := lexicalPath(c)
		dirs := router.ToDirs(c)
		existed := true
		if lex != "" {
			if _, err := os.Lstat(lex); errors.Is(err, os.ErrNotExist) {
				existed = false
			}
		}
		a := router.Handle(c)
		l.mu.Lock()
		canon, decided := l.pending[c.Pid()]
		delete(l.pending, c.Pid())
		l.mu.Unlock()
		// A directory opened without O_DIRECTORY is listed with the
		// directories: in files, it would allow all beneath it.
		dir := dirs || isDir(a, lex)
		for _, p := range []string{lex, canon} {
			if p == "" || p == canon && !decided {
				continue
			}
			if dir {
				l.add(l.dirs, p)
			} else {
				l.add(l.files, p)
			}
		}
		if !existed && a.Kind() != handler.KindErrno {
			if st, err := os.Lstat(lex); err == nil && st.IsDir() {
				l.add(l.created, lex)
				if real, err := filepath.EvalSymlinks(lex); err == nil {
					l.add(l.created, real)
				}
			}
		}
		return a
	})
	for _, n := range l.filesPolicy.Syscalls(arch) {
		if err := cmd.Handle(n, opens); err != nil {
			return err
		}
	}
	execs, err := pathpolicy.NewExecPolicy(pathpolicy.Rules{})
	if err != nil {
		return err
	}
	execs.OnDecision = func(d pathpolicy.Decision) { l.add(l.execs, d.Path) }
	execsLexical := handler.Func(func(c *handler.Ctx) handler.Action {
		l.add(l.execs, lexicalPath(c))
		return execs.Handle(c)
	})
	for _, n := range execs.Syscalls(arch) {
		if err := cmd.Handle(n, execsLexical); err != nil {
			return err
		}
	}
	net, err := netpolicy.New(netpolicy.Rules{Connect: []string{"*:*"}, Bind: []string{"*:*"}})
	if err != nil {
		return err
	}
	net.OnDecision = func(d netpolicy.Decision) {
		if d.Family != "inet" && d.Family != "inet6" {
			return // unix sockets are not governed by the network policy
		}
		if d.Syscall == "bind" {
			l.addEndpoint(l.binds, d.Address)
		} else {
			l.addEndpoint(l.connects, d.Address)
		}
	}
	for _, n := range net.Syscalls(arch) {
		if err := cmd.Handle(n, net); err != nil {
			return err
		}
	}
	// The peak count of tasks comes from the run's pids cgroup (no
	// trap on fork); without one the sandbox traps and counts.
	cmd.Policy.CountProcesses = true
	return nil
}

// lexicalPath is the path argument of c's open or exec made absolute and
// cleaned, with /proc/self pointed at the process: the name pathpolicy
// checks before it resolves symlinks (a name outside its rules is denied
// even when its target is allowed, so a profile lists both), "" if it
// cannot be read.
func lexicalPath(c *handler.Ctx) string {
	i, ok := audit.PathArg(c.SyscallName())
	if !ok {
		return ""
	}
	p, err := c.ReadPath(i)
	if err != nil {
		return ""
	}
	pid := "/proc/" + strconv.Itoa(c.Pid())
	for _, self := range []string{"/proc/self", "/proc/thread-self"} {
		if p == self || strings.HasPrefix(p, self+"/") {
			return pid + p[len(self):]
		}
	}
	return p
}

// profile returns what was learned, generalized by g (see generalize.go)
// unless g is nil (--strict).
func (l *learner) profile(program []string, g *generalizer) *Profile {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := &Profile{Version: profileVersion, Program: program}
	p.Open.Files = keys(l.files)
	p.Open.Dirs = keys(l.dirs)
	p.Exec.Paths = keys(l.execs)
	p.Network.Connect = keys(l.connects)
	p.Network.Bind = keys(l.binds)
	p.Processes.Max = l.peak
	if g != nil {
		g.created = l.created
		g.generalize(p)
	}
	return p
}

func keys(m map[string]bool) pathList {
	l := make(pathList, 0, len(m))
	for k := range m {
		l = append(l, k)
	}
	return l
}

func learnMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	arch := syscalls.Native()
	cfg, err := parseLearn(args)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, learnUsage)
		return 0
	}
	if err != nil {
		return fail(stderr, err)
	}
	if code, err := resolveProgram("learn", cfg.Program[0]); err != nil {
		fmt.Fprintf(stderr, "sandlock-go: %v\n", err)
		return code
	}
	ttyStderr := stderr
	stderr = rawSafe(cfg.NoPTY, stdin, stderr) // tty.go
	out, err := os.Create(cfg.Output)
	if err != nil {
		return fail(stderr, usagef("-o %s: %v", cfg.Output, unwrapPath(err)))
	}
	defer out.Close()

	l, err := newLearner()
	if err != nil {
		return fail(stderr, fmt.Errorf("learn: %w", err))
	}
	cmd := sandbox.Command(cfg.Program[0], cfg.Program[1:]...)
	if err := l.register(cmd, arch); err != nil {
		return fail(stderr, fmt.Errorf("learn: %w", err))
	}
	cmd.ServeOptions = &handler.Options{
		OnError: func(err error) { fmt.Fprintf(stderr, "sandlock-go: warning: %v\n", err) },
	}
	writeSeccomp, err := learnSeccomp(cfg.SeccompOut, cmd, arch, cfg.Program)
	if err != nil {
		return fail(stderr, err)
	}
	var gen *generalizer
	if !cfg.Strict {
		gen = &generalizer{before: snapshotTemp(tempRoots())}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	useTerminal(cmd, cfg.NoPTY, stdin, stdout, ttyStderr) // tty.go
	err = runForwardingSignals(cmd)
	if cmd.ProcessState == nil {
		return fail(stderr, fmt.Errorf("learn: %w", err))
	}
	if err := writeSeccomp(); err != nil {
		fmt.Fprintf(stderr, "sandlock-go: %v\n", err)
		return exitFailure
	}
	processNote(stderr, cmd, "learn: counting processes") // processes.go
	if l.peak, err = cmd.ProcessPeak(); err != nil {
		fmt.Fprintf(stderr, "sandlock-go: warning: counting processes: %v (processes.max may be low)\n", err)
	}
	prof := l.profile(cfg.Program, gen)
	if err := writeProfile(out, prof); err != nil {
		fmt.Fprintf(stderr, "sandlock-go: -o %s: %v\n", cfg.Output, err)
		return exitFailure
	}
	if err := out.Close(); err != nil {
		fmt.Fprintf(stderr, "sandlock-go: -o %s: %v\n", cfg.Output, err)
		return exitFailure
	}
	if !cfg.Quiet {
		fmt.Fprintln(stderr, learnSummary(cfg, prof, gen))
		if gen != nil {
			for _, k := range gen.kept {
				fmt.Fprintf(stderr, "sandlock-go: kept exact: %s\n", k)
			}
		}
	}
	return cmd.ExitStatus()
}

// learnSummary is the line learn prints when it wrote the profile: where,
// and how many rules of each kind.
func learnSummary(cfg *learnConfig, p *Profile, g *generalizer) string {
	globs := 0
	for _, l := range []pathList{p.Open.Files, p.Open.Dirs, p.Exec.Paths} {
		for _, s := range l {
			if strings.ContainsAny(s, "*?[") {
				globs++
			}
		}
	}
	mode := "generalized"
	if g == nil {
		mode = "strict"
	}
	limit := "no process limit"
	if p.Processes.Max > 0 {
		limit = fmt.Sprintf("at most %d tasks", p.Processes.Max)
	}
	s := fmt.Sprintf("sandlock-go: learn wrote %s (%s): %d files, %d dirs, %d execs, %d connects, %d binds, %s",
		cfg.Output, mode, len(p.Open.Files), len(p.Open.Dirs), len(p.Exec.Paths),
		len(p.Network.Connect), len(p.Network.Bind), limit)
	if globs > 0 {
		s += fmt.Sprintf("; %d glob rules", globs)
	}
	if cfg.SeccompOut != "" {
		s += "; seccomp policy in " + cfg.SeccompOut
	}
	return s
}
