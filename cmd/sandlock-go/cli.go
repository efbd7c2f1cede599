package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"unicode"
)

// Exit statuses of sandlock-go itself; otherwise run exits with the
// program's status.
const (
	exitCheckFailed = 1   // check: supervision does not work here
	exitUsage       = 2   // bad command line
	exitFailure     = 125 // the sandbox could not start the program
	exitNotExec     = 126 // the program is not executable
	exitNotFound    = 127 // the program was not found
)

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// escapeControl escapes the control characters of s (Go syntax: \n,
// \x1b), which a message quoting a file's own text may hold: an error is
// one line and cannot drive a terminal.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// errHelp asks for the help text on stdout and exit status 0.
var errHelp = errors.New("help requested")

// checkChildArg makes the binary the trivial child of `check`; it is not
// part of the documented interface.
const checkChildArg = "__sandlock-go-check-child"

// cli runs one sandlock-go command line (without the program name) and
// returns the exit status.
func cli(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		return runMain(rest, stdin, stdout, stderr)
	case "trace":
		return traceMain(rest, stdin, stdout, stderr)
	case "learn":
		return learnMain(rest, stdin, stdout, stderr)
	case "check":
		return checkMain(rest, stdout, stderr)
	case "agent":
		return agentMain(rest, stdout, stderr) // agent.go
	case "syscalls":
		return syscallsMain(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		return helpMain(rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return 0
	case checkChildArg:
		fmt.Fprintln(stdout, os.Getppid())
		return 0
	default:
		return fail(stderr, usagef("unknown command %q (want %s; see sandlock-go --help)", cmd, commandNames))
	}
}

func helpMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, mainUsage)
		return 0
	}
	switch args[0] {
	case "all":
		fmt.Fprint(stdout, mainUsage+"\n"+runUsage+"\n"+traceUsage+"\n"+learnUsage+"\n"+agentUsage+"\n"+checkUsage+"\n"+syscallsUsage)
	case "run":
		fmt.Fprint(stdout, runUsage)
	case "trace":
		fmt.Fprint(stdout, traceUsage)
	case "learn":
		fmt.Fprint(stdout, learnUsage)
	case "agent":
		fmt.Fprint(stdout, agentUsage)
	case "check":
		fmt.Fprint(stdout, checkUsage)
	case "syscalls":
		fmt.Fprint(stdout, syscallsUsage)
	default:
		return fail(stderr, usagef("help: unknown command %q (want %s)", args[0], commandNames))
	}
	return 0
}

// versionLine is what version prints: the module version (or "devel" for
// a build from a working tree), the VCS revision when known, and the Go
// version.
func versionLine() string {
	version, revision := "devel", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			version = v
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				revision = " " + s.Value[:12]
			}
		}
	}
	return "sandlock-go " + version + revision + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// fail prints err as one line and returns its exit status.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "sandlock-go: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

// commandNames lists the commands for error messages.
const commandNames = "run, trace, learn, agent, check or syscalls"

const mainUsage = `Usage:
  sandlock-go run [flags] [--] PROGRAM [ARGS...]   run PROGRAM under supervision
  sandlock-go trace [flags] [--] PROGRAM [ARGS...] print PROGRAM's syscalls, strace-like
  sandlock-go learn -o FILE [--] PROGRAM [ARGS...] write a profile of what PROGRAM does
  sandlock-go agent --socket PATH [flags]          serve container runtimes' seccomp listeners
  sandlock-go check                                probe the kernel, test supervision
  sandlock-go syscalls [--arch ARCH]               print the syscall table
  sandlock-go help [COMMAND|all]                   print this help, a command's, or every one
  sandlock-go version                              print the version of sandlock-go and of Go

Exit status of run, trace and learn: PROGRAM's (128+N when signal N killed
it); 2 for a bad command line; 125 when the sandbox could not start PROGRAM;
126 when PROGRAM is not executable; 127 when it is not found.
`
