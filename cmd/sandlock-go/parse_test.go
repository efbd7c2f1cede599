package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

func TestParseOn(t *testing.T) {
	good := []struct {
		in, canon string
		action    handler.Action
	}{
		{"getppid=ret:777", "getppid=ret:777", handler.ReturnValue(777)},
		{"getppid=return:777", "getppid=ret:777", handler.ReturnValue(777)},
		{"getppid=ret:-1", "getppid=ret:-1", handler.ReturnValue(-1)},
		{"getppid=ret:0", "getppid=ret:0", handler.ReturnValue(0)},
		{"openat=errno:EACCES", "openat=errno:EACCES", handler.Errno(unix.EACCES)},
		{"openat=errno:eacces", "openat=errno:EACCES", handler.Errno(unix.EACCES)},
		{"openat=errno:13", "openat=errno:EACCES", handler.Errno(unix.EACCES)},
		{"openat=errno:EWOULDBLOCK", "openat=errno:EAGAIN", handler.Errno(unix.EAGAIN)},
		{"openat=errno:EOPNOTSUPP", "openat=errno:ENOTSUP", handler.Errno(unix.EOPNOTSUPP)},
		{"openat=errno:200", "openat=errno:200", handler.Errno(200)},
		{"openat=errno:4095", "openat=errno:4095", handler.Errno(4095)},
		{"fstatat=continue", "newfstatat=continue", handler.Continue()},
		{"execve=kill", "execve=kill", handler.Kill()},
	}
	for _, tc := range good {
		t.Run(tc.in, func(t *testing.T) {
			r, err := ParseOn(tc.in, syscalls.X86_64)
			require.NoError(t, err)
			require.Equal(t, tc.canon, r.String())
			require.Equal(t, tc.action, r.Action)
			require.Equal(t, strings.Split(tc.canon, "=")[0], r.Syscall)
		})
	}

	bad := []struct {
		in   string
		arch *syscalls.Arch
		err  string
	}{
		{"getppid", syscalls.X86_64, "want SYSCALL=ACTION"},
		{"=continue", syscalls.X86_64, "empty syscall name"},
		{"opnat=continue", syscalls.X86_64, `unknown syscall "opnat" on x86_64`},
		{"open=continue", syscalls.AArch64, `syscall "open" does not exist on aarch64 (use openat)`},
		{"getppid=frob", syscalls.X86_64, `unknown action "frob" (want continue, errno:NAME, errno:NUMBER, ret:N or kill)`},
		{"getppid=", syscalls.X86_64, `unknown action "" (want continue, errno:NAME, errno:NUMBER, ret:N or kill)`},
		{"getppid=Continue", syscalls.X86_64, `unknown action "Continue" (want continue, errno:NAME, errno:NUMBER, ret:N or kill)`},
		{"getppid=kill:9", syscalls.X86_64, `unknown action "kill:9" (want continue, errno:NAME, errno:NUMBER, ret:N or kill)`},
		{"getppid=errno", syscalls.X86_64, "errno: missing NAME or NUMBER (e.g. errno:EACCES)"},
		{"getppid=errno:", syscalls.X86_64, "errno: missing NAME or NUMBER (e.g. errno:EACCES)"},
		{"getppid=errno:0", syscalls.X86_64, "errno 0 out of range 1..4095"},
		{"getppid=errno:4096", syscalls.X86_64, "errno 4096 out of range 1..4095"},
		{"getppid=errno:1x", syscalls.X86_64, `errno "1x" is not a number`},
		{"getppid=errno:-1", syscalls.X86_64, `unknown errno "-1" (want a name such as EACCES or a number)`},
		{"getppid=errno:EFOO", syscalls.X86_64, `unknown errno "EFOO" (want a name such as EACCES or a number)`},
		{"getppid=ret:abc", syscalls.X86_64, `return value "abc" is not a 64-bit integer`},
		{"getppid=ret:", syscalls.X86_64, `return value "" is not a 64-bit integer`},
		{"getppid=ret:99999999999999999999", syscalls.X86_64, `return value "99999999999999999999" is not a 64-bit integer`},
	}
	for _, tc := range bad {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseOn(tc.in, tc.arch)
			require.EqualError(t, err, tc.err)
		})
	}
}

func TestParseDeny(t *testing.T) {
	good := []struct {
		in   string
		want []string
	}{
		{"getppid", []string{"getppid"}},
		{"mkdir,mkdirat", []string{"mkdir", "mkdirat"}},
		{"mkdir, mkdirat", []string{"mkdir", "mkdirat"}},
		{"mkdirat,mkdir,mkdirat", []string{"mkdirat", "mkdir"}},
		{"fstatat,newfstatat", []string{"newfstatat"}},
	}
	for _, tc := range good {
		got, err := ParseDeny(tc.in, syscalls.X86_64)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
	bad := []struct{ in, err string }{
		{"", "empty syscall name"},
		{"mkdir,", "empty syscall name"},
		{"mkdir,,rmdir", "empty syscall name"},
		{"mkdir,opnat", `unknown syscall "opnat" on x86_64`},
		{"MKDIR", `unknown syscall "MKDIR" on x86_64`},
	}
	for _, tc := range bad {
		_, err := ParseDeny(tc.in, syscalls.X86_64)
		require.EqualError(t, err, tc.err, tc.in)
	}
}

func TestParseRunErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		args []string
		err  string
	}{
		{nil, "run: no program given (usage: sandlock-go run [flags] -- PROGRAM [ARGS...])"},
		{[]string{"--"}, "run: no program given (usage: sandlock-go run [flags] -- PROGRAM [ARGS...])"},
		{[]string{"--on"}, "run: flag needs an argument: -on (see sandlock-go run --help)"},
		{[]string{"--frob", "true"}, "run: flag provided but not defined: -frob (see sandlock-go run --help)"},
		{[]string{"--deny-default=maybe", "true"}, `run: invalid boolean value "maybe" for -deny-default: parse error (see sandlock-go run --help)`},
		{[]string{"--on", "opnat=continue", "true"}, `--on opnat=continue: unknown syscall "opnat" on x86_64`},
		{[]string{"--on", "getppid=ret:1", "--on", "getppid=frob", "true"}, `--on getppid=frob: unknown action "frob" (want continue, errno:NAME, errno:NUMBER, ret:N or kill)`},
		{[]string{"--deny", "getppid,opnat", "true"}, `--deny getppid,opnat: unknown syscall "opnat" on x86_64`},
		{[]string{"--deny", "execve", "true"}, "--deny execve: execve cannot be denied: the sandbox starts the program with it (use --on execve=...)"},
		{[]string{"--on", "getppid=continue", "--deny", "mkdir,getppid", "true"}, "--deny mkdir,getppid: getppid also has an --on rule"},
		{[]string{"-r", "/usr", "-r", missing, "true"}, "-r " + missing + ": no such file or directory"},
		{[]string{"-w", missing, "true"}, "-w " + missing + ": no such file or directory"},
		{[]string{"-r", "", "true"}, "-r: empty path"},
		{[]string{"--landlock-strict", "true"}, "--landlock-strict: needs at least one -r or -w"},
		{[]string{"--on-exception", "explode", "true"}, `--on-exception explode: unknown exception policy "explode" (want kill, eperm, continue or eio)`},
		{[]string{"--workers", "0", "true"}, "--workers 0: want a number from 1 to 1024"},
		{[]string{"--workers", "1025", "true"}, "--workers 1025: want a number from 1 to 1024"},
		{[]string{"--workers", "two", "true"}, "--workers two: want a number from 1 to 1024"},
		{[]string{"--trace", "", "true"}, "--trace: want a file name, or - for stderr"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseRun(tc.args, syscalls.X86_64)
			require.EqualError(t, err, tc.err)
			var ue *usageError
			require.ErrorAs(t, err, &ue)
		})
	}
	for _, help := range []string{"-h", "--help", "-help"} {
		_, err := parseRun([]string{"--on", "getppid=kill", help, "true"}, syscalls.X86_64)
		require.ErrorIs(t, err, errHelp, help)
	}
}

func TestParseRun(t *testing.T) {
	dir := t.TempDir()
	cfg, err := parseRun([]string{
		"--on", "getppid=ret:1", "--on", "openat=errno:EACCES", "--on=getppid=continue",
		"--deny", "mkdir", "--deny", "mkdirat,mkdir",
		"-r", "/usr", "-r", "/etc", "-w", dir, "--landlock-strict",
		"--on-exception", "eio", "--workers", "3", "--trace", "-",
		"--", "sh", "-c", "echo hi",
	}, syscalls.X86_64)
	require.NoError(t, err)
	var rules []string
	for _, r := range cfg.Rules {
		rules = append(rules, r.String())
	}
	require.Equal(t, []string{"getppid=ret:1", "openat=errno:EACCES", "getppid=continue"}, rules)
	require.Equal(t, []string{"mkdir", "mkdirat"}, cfg.Policy.Deny)
	require.Equal(t, []string{"/usr", "/etc"}, cfg.Policy.ReadOnlyPaths)
	require.Equal(t, []string{dir}, cfg.Policy.ReadWritePaths)
	require.True(t, cfg.Policy.LandlockStrict)
	require.Equal(t, handler.ExceptionDenyEIO, cfg.OnException)
	require.Equal(t, 3, cfg.Workers)
	require.Equal(t, "-", cfg.Trace)
	require.Equal(t, []string{"sh", "-c", "echo hi"}, cfg.Program)

	// Defaults; flag parsing stops at the program.
	cfg, err = parseRun([]string{"cat", "-n", "--on", "x"}, syscalls.X86_64)
	require.NoError(t, err)
	require.Equal(t, []string{"cat", "-n", "--on", "x"}, cfg.Program)
	require.Empty(t, cfg.Rules)
	require.Empty(t, cfg.Policy.Deny)
	require.Equal(t, handler.ExceptionKill, cfg.OnException)
	require.Zero(t, cfg.Workers)
	require.Empty(t, cfg.Trace)
}

func TestParseRunIsolationFlags(t *testing.T) {
	// --deny-default is the default now: it adds nothing to --deny.
	cfg, err := parseRun([]string{"--deny", "mount,getppid", "--deny-default", "--on", "ptrace=errno:EPERM", "true"}, syscalls.Native())
	require.NoError(t, err)
	require.Equal(t, []string{"mount", "getppid"}, cfg.Policy.Deny)
	require.Equal(t, sandbox.IdentityProtected, cfg.Policy.Identity)

	cfg, err = parseRun([]string{"--identity", "host-root", "--allow-syscall", "unshare,setns", "--allow-syscall", "unshare", "true"}, syscalls.Native())
	require.NoError(t, err)
	require.Equal(t, sandbox.IdentityHostRoot, cfg.Policy.Identity)
	require.Equal(t, []string{"unshare", "setns"}, cfg.Policy.AllowSyscalls)

	cfg, err = parseRun([]string{"--identity", "userns", "true"}, syscalls.Native())
	require.NoError(t, err)
	require.Equal(t, sandbox.IdentityUserNamespace, cfg.Policy.Identity)

	cfg, err = parseRun([]string{"--cap-add", "CAP_NET_RAW", "--cap-add", "net_bind_service", "true"}, syscalls.Native())
	require.NoError(t, err)
	require.Equal(t, []string{"CAP_NET_RAW", "net_bind_service"}, cfg.Policy.CapAdd)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--identity", "root", "true"}, `--identity: unknown identity "root" (want protected, userns or host-root)`},
		{[]string{"--cap-add", "CAP_FLY", "true"}, `--cap-add: unknown capability "CAP_FLY" (e.g. CAP_NET_BIND_SERVICE)`},
		{[]string{"--identity", "host-root", "--cap-add", "NET_RAW", "true"}, `--cap-add NET_RAW: --identity host-root keeps every capability`},
		{[]string{"--allow-unix", "rel.sock", "true"}, `--allow-unix rel.sock: want an absolute path or @NAME`},
		{[]string{"--allow-syscall", "read", "true"}, `--allow-syscall read: read is not denied by the sandbox (see sandlock-go syscalls --isolation)`},
	} {
		_, err := parseRun(tc.args, syscalls.Native())
		require.EqualError(t, err, tc.want, "%q", tc.args)
	}
}

func TestRuleHandler(t *testing.T) {
	for _, p := range []handler.ExceptionPolicy{handler.ExceptionKill, handler.ExceptionDenyEPERM, handler.ExceptionContinue, handler.ExceptionDenyEIO} {
		h := ruleHandler(OnRule{Syscall: "getppid", Action: handler.ReturnValue(7)}, p)
		ph, ok := h.(handler.PolicyHandler)
		require.True(t, ok)
		require.Equal(t, p, ph.ExceptionPolicy())
		require.Equal(t, handler.ReturnValue(7), h.Handle(nil))
	}
}

// cliRun runs the command line in-process.
func cliRun(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = cli(args, nil, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCLIErrors covers the command lines that fail before anything starts.
func TestCLIErrors(t *testing.T) {
	tests := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"frob"}, 2, `sandlock-go: unknown command "frob" (want run, trace, learn, agent, check or syscalls; see sandlock-go --help)` + "\n"},
		{[]string{"run", "--on", "opnat=continue", "--", "true"}, 2, `sandlock-go: --on opnat=continue: unknown syscall "` + "opnat" + `" on ` + syscalls.Native().String() + "\n"},
		{[]string{"run"}, 2, "sandlock-go: run: no program given (usage: sandlock-go run [flags] -- PROGRAM [ARGS...])\n"},
		{[]string{"run", "--", "/nonexistent/prog"}, 127, "sandlock-go: run: /nonexistent/prog: not found\n"},
		{[]string{"run", "--", "sandlock-go-no-such-program"}, 127, "sandlock-go: run: sandlock-go-no-such-program: not found\n"},
		{[]string{"run", "--", "/etc"}, 126, "sandlock-go: run: /etc: not executable\n"},
		{[]string{"run", "--trace", "/nonexistent/dir/trace", "--", "true"}, 2, "sandlock-go: --trace /nonexistent/dir/trace: no such file or directory\n"},
		{[]string{"syscalls", "--arch", "sparc"}, 2, `sandlock-go: syscalls --arch sparc: unknown architecture "sparc" (want x86_64, aarch64 or riscv64)` + "\n"},
		{[]string{"syscalls", "extra"}, 2, `sandlock-go: syscalls: unexpected argument "extra"` + "\n"},
		{[]string{"check", "--frob"}, 2, "sandlock-go: check: flag provided but not defined: -frob (see sandlock-go check --help)\n"},
		{[]string{"help", "frob"}, 2, `sandlock-go: help: unknown command "frob" (want run, trace, learn, agent, check or syscalls)` + "\n"},
		{[]string{"trace"}, 2, "sandlock-go: trace: no program given (usage: sandlock-go trace [flags] -- PROGRAM [ARGS...])\n"},
		{[]string{"trace", "--syscalls", "opnat", "--", "true"}, 2, `sandlock-go: --syscalls opnat: "opnat" is neither a syscall on ` + syscalls.Native().String() + " nor a family (exec, file, network, process)\n"},
		{[]string{"trace", "-o", "/nonexistent/dir/out", "--", "true"}, 2, "sandlock-go: -o /nonexistent/dir/out: no such file or directory\n"},
		{[]string{"trace", "--", "/nonexistent/prog"}, 127, "sandlock-go: trace: /nonexistent/prog: not found\n"},
		{[]string{"learn", "-o", "/dev/null", "--", "/nonexistent/prog"}, 127, "sandlock-go: learn: /nonexistent/prog: not found\n"},
		{[]string{"learn", "--", "true"}, 2, "sandlock-go: learn: -o FILE is required\n"},
		{[]string{"learn", "-o", "x.toml"}, 2, "sandlock-go: learn: no program given (usage: sandlock-go learn -o FILE -- PROGRAM [ARGS...])\n"},
		{[]string{"learn", "-o", "/nonexistent/dir/p.toml", "--", "true"}, 2, "sandlock-go: -o /nonexistent/dir/p.toml: no such file or directory\n"},
		{[]string{"run", "--allow-path", "etc", "--", "true"}, 2, `sandlock-go: --allow-path etc: path pattern "etc" is not absolute` + "\n"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := cliRun(tc.args...)
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.stderr, stderr)
			require.Empty(t, stdout)
		})
	}

	code, stdout, stderr := cliRun()
	require.Equal(t, 2, code)
	require.Empty(t, stdout)
	require.Equal(t, mainUsage, stderr)
}

func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, stdout, stderr := cliRun(args...)
		require.Equal(t, 0, code)
		require.Empty(t, stderr)
		for _, u := range []string{mainUsage, runUsage, traceUsage, learnUsage, checkUsage, syscallsUsage} {
			require.Contains(t, stdout, u)
		}
	}
	for cmd, usage := range map[string]string{"run": runUsage, "trace": traceUsage, "learn": learnUsage, "check": checkUsage, "syscalls": syscallsUsage} {
		for _, args := range [][]string{{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}} {
			code, stdout, stderr := cliRun(args...)
			require.Equal(t, 0, code, args)
			require.Empty(t, stderr, args)
			require.Equal(t, usage, stdout, args)
		}
	}
}

// flagSpelling is how the help and the docs spell a flag.
func flagSpelling(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// TestHelpDocumentsEveryFlag checks that run --help and docs/cli.md
// describe each flag of run with an example.
func TestHelpDocumentsEveryFlag(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	require.NoError(t, err)
	var names []string
	newRunFlags().fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	require.Len(t, names, 22)
	// The environment flags are parsed before the FlagSet (env.go).
	names = append(names, "clearenv", "setenv", "unsetenv")
	checkFlags(t, "run", runUsage, names, string(doc))
	checkFlags(t, "trace", traceUsage, []string{"syscalls", "json", "o", "no-pty"}, string(doc))
	checkFlags(t, "learn", learnUsage, []string{"o", "no-pty", "seccomp-out"}, string(doc))
	require.Contains(t, string(doc), "--arch")
	require.Contains(t, syscallsUsage, "e.g. ")
	require.Contains(t, checkUsage, "e.g. ")
}

// checkFlags checks that usage describes each flag with an example and
// that doc names it.
func checkFlags(t *testing.T, cmd, usage string, names []string, doc string) {
	t.Helper()
	for _, name := range names {
		spelled := flagSpelling(name)
		i := strings.Index(usage, "\n  "+spelled+" ")
		if i < 0 {
			i = strings.Index(usage, "\n  "+spelled+"\n")
		}
		require.GreaterOrEqual(t, i, 0, "%s --help does not document %s", cmd, spelled)
		entry := usage[i+1:]
		if next := strings.Index(entry[3:], "\n  -"); next >= 0 {
			entry = entry[:next+3]
		}
		require.Contains(t, entry, "e.g. ", "%s --help has no example for %s", cmd, spelled)
		require.Contains(t, doc, "`"+spelled, "docs/cli.md does not document %s", spelled)
	}
}

func TestSyscallsCommand(t *testing.T) {
	code, stdout, stderr := cliRun("syscalls", "--arch", "aarch64")
	require.Equal(t, 0, code)
	require.Empty(t, stderr)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	require.Len(t, lines, len(syscalls.AArch64.Syscalls()))
	require.Contains(t, lines, "openat 56")
	require.False(t, slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "open ") }))

	code, stdout, _ = cliRun("syscalls")
	require.Equal(t, 0, code)
	first := syscalls.Native().Syscalls()[0]
	require.True(t, strings.HasPrefix(stdout, first.Name+" "), stdout[:40])
}
