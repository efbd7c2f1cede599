package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/audit"
	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

const traceUsage = `Usage: sandlock-go trace [--json] [--syscalls LIST] [-o FILE] [--] PROGRAM [ARGS...]

Run PROGRAM and print every syscall of LIST it makes, strace-like, with its
arguments decoded; every one is answered continue (runs unchanged):

  [pid 1234] openat(AT_FDCWD, "/etc/hostname", O_RDONLY|O_CLOEXEC) = continue

The exit status is PROGRAM's. The first execve (of PROGRAM itself, made by
the sandbox) is not shown.

Flags:
  --syscalls LIST
        Comma-separated syscall names and families to trace (default
        file,exec,process,network):
          file     open, openat, openat2, creat, stat family, access family,
                   readlink, unlink, mkdir, mknod, rename, link, symlink,
                   chdir, chroot, chmod, chown, truncate, utimensat
          exec     execve, execveat
          process  fork, vfork, clone, clone3, exit_group, kill
          network  socket, socketpair, connect, bind, listen, accept,
                   accept4, shutdown, sendto, recvfrom, sendmsg, recvmsg
        Names this machine's architecture lacks are left out of a family;
        a name given alone must exist.
        e.g. --syscalls openat,execve,network
  --json
        Print the JSON lines of run --trace instead (see docs/cli.md).
        e.g. --json
  -o FILE
        Write to FILE instead of stderr (created or truncated).
        e.g. -o cat.trace
  --no-pty
        Do not give PROGRAM a pseudo-terminal of its own when stdin is a
        terminal (see sandlock-go run --help).
        e.g. --no-pty
  -h, --help
        Print this help.

Example:
  sandlock-go trace -- cat /etc/hostname
`

// traceConfig is a parsed trace command line.
type traceConfig struct {
	Syscalls []string // canonical names, in order
	JSON     bool
	Output   string // "": stderr
	NoPTY    bool
	Program  []string
}

// defaultFamilies are traced without --syscalls.
const defaultFamilies = "file,exec,process,network"

func parseTrace(args []string, arch *syscalls.Arch) (*traceConfig, error) {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	cfg := &traceConfig{}
	list := fs.String("syscalls", defaultFamilies, "syscalls to trace")
	fs.BoolVar(&cfg.JSON, "json", false, "JSON lines")
	fs.StringVar(&cfg.Output, "o", "", "output file")
	fs.BoolVar(&cfg.NoPTY, "no-pty", false, "no pseudo-terminal")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, usagef("trace: %v (see sandlock-go trace --help)", err)
	}
	names, err := parseSyscallList(*list, arch)
	if err != nil {
		return nil, usagef("--syscalls %s: %v", *list, err)
	}
	cfg.Syscalls = names
	if cfg.Output == "" && flagGiven(fs, "o") {
		return nil, usagef("-o: want a file name")
	}
	cfg.Program = fs.Args()
	if len(cfg.Program) == 0 {
		return nil, usagef("trace: no program given (usage: sandlock-go trace [flags] -- PROGRAM [ARGS...])")
	}
	return cfg, nil
}

// parseSyscallList expands a comma-separated list of syscall names and
// family names into canonical names, in order, without repeats.
func parseSyscallList(s string, arch *syscalls.Arch) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		names, err := audit.Family(item, arch)
		if err != nil {
			canon, cerr := canonicalSyscall(item, arch)
			if cerr != nil {
				if item == "" {
					return nil, cerr
				}
				return nil, fmt.Errorf("%q is neither a syscall on %s nor a family (%s)", item, arch, strings.Join(audit.FamilyNames(), ", "))
			}
			names = []string{canon}
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out, nil
}

func traceMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	arch := syscalls.Native()
	cfg, err := parseTrace(args, arch)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, traceUsage)
		return 0
	}
	if err != nil {
		return fail(stderr, err)
	}
	if code, err := resolveProgram("trace", cfg.Program[0]); err != nil {
		fmt.Fprintf(stderr, "sandlock-go: %v\n", err)
		return code
	}
	ttyStderr := stderr
	stderr = rawSafe(cfg.NoPTY, stdin, stderr) // tty.go
	out := stderr
	if cfg.Output != "" {
		f, err := os.Create(cfg.Output)
		if err != nil {
			return fail(stderr, usagef("-o %s: %v", cfg.Output, unwrapPath(err)))
		}
		defer f.Close()
		out = f
	}
	format := audit.Text
	if cfg.JSON {
		format = audit.JSON
	}
	rec := audit.New(out, &audit.Options{Format: format, FlushEach: true})

	cmd := sandbox.Command(cfg.Program[0], cfg.Program[1:]...)
	traced := make(map[int]bool, len(cfg.Syscalls))
	cont := handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() })
	for _, name := range cfg.Syscalls {
		nr, _ := arch.Number(name)
		traced[nr] = true
		if err := cmd.Handle(name, cont); err != nil {
			return fail(stderr, fmt.Errorf("trace: %s: %w", name, err))
		}
	}
	cmd.ServeOptions = &handler.Options{
		// execve is trapped whether asked for or not.
		Observe: func(c *handler.Ctx, a handler.Action, d time.Duration) {
			if traced[c.Syscall()] {
				rec.Observe(c, a, d)
			}
		},
		OnError: func(err error) { fmt.Fprintf(stderr, "sandlock-go: warning: %v\n", err) },
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	useTerminal(cmd, cfg.NoPTY, stdin, stdout, ttyStderr) // tty.go
	err = runForwardingSignals(cmd)
	if cerr := rec.Close(); cerr != nil {
		fmt.Fprintf(stderr, "sandlock-go: trace output: %v\n", cerr)
	}
	if cmd.ProcessState == nil {
		return fail(stderr, fmt.Errorf("trace: %w", err))
	}
	return cmd.ExitStatus()
}
