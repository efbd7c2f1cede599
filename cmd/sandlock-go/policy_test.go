package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/netpolicy"
	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

func writeProfileFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "p.toml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func TestParseRunPolicyErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.toml")
	badToml := writeProfileFile(t, "version = 1\n[open\nfiles = []\n")
	unknownKey := writeProfileFile(t, "version = 1\n[open]\nfilez = []\n")
	version2 := writeProfileFile(t, "version = 2\n")
	negative := writeProfileFile(t, "version = 1\n[processes]\nmax = -1\n")
	relFile := writeProfileFile(t, "version = 1\n[open]\nfiles = [\"etc/x\"]\n")
	badConnect := writeProfileFile(t, "version = 1\n[network]\nconnect = [\"nohost\"]\n")
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"--allow-path", "etc", "true"}, `--allow-path etc: path pattern "etc" is not absolute`},
		{[]string{"--allow-path", "", "true"}, `--allow-path: empty path pattern`},
		{[]string{"--deny-path", "/a/[", "true"}, `--deny-path /a/[: path pattern "/a/[": syntax error in pattern`},
		{[]string{"--allow-path", "/usr", "--deny-path", "x", "true"}, `--deny-path x: path pattern "x" is not absolute`},
		{[]string{"--allow-exec", "bin/cat", "true"}, `--allow-exec bin/cat: path pattern "bin/cat" is not absolute`},
		{[]string{"--max-processes", "0", "true"}, "--max-processes 0: want a number from 1 to 1048576"},
		{[]string{"--max-processes", "many", "true"}, "--max-processes many: want a number from 1 to 1048576"},
		{[]string{"--max-processes", "1048577", "true"}, "--max-processes 1048577: want a number from 1 to 1048576"},
		{[]string{"--allow-connect", "127.0.0.1", "true"}, "--allow-connect 127.0.0.1: want HOST:PORT: address 127.0.0.1: missing port in address"},
		{[]string{"--allow-connect", "127.0.0.1:65536", "true"}, `--allow-connect 127.0.0.1:65536: bad port "65536"`},
		{[]string{"--allow-bind", "http", "true"}, `--allow-bind http: bad port "http"`},
		{[]string{"--allow-bind", "", "true"}, `--allow-bind: bad port ""`},
		{[]string{"--profile", missing, "true"}, "--profile " + missing + ": no such file or directory"},
		{[]string{"--profile", "", "true"}, "--profile: want a file name"},
		{[]string{"--profile", badToml, "true"}, "--profile " + badToml + ": line 3: expected '.' or ']' to end table name, but got '\\n' instead"},
		{[]string{"--profile", unknownKey, "true"}, "--profile " + unknownKey + ": unknown key open.filez"},
		{[]string{"--profile", version2, "true"}, "--profile " + version2 + ": version 2 not supported (want 1)"},
		{[]string{"--profile", negative, "true"}, "--profile " + negative + ": processes.max -1: want 0 (no limit) or more"},
		{[]string{"--profile", relFile, "true"}, "--profile " + relFile + `: open.files: path pattern "etc/x" is not absolute`},
		{[]string{"--profile", badConnect, "true"}, "--profile " + badConnect + `: network: connect rule "nohost": want HOST:PORT: address nohost: missing port in address`},
		{[]string{"--deny-path", "/usr", "--deny", "openat", "true"}, "--deny openat: openat is also decided by --allow-path/--deny-path"},
		{[]string{"--allow-path", "/usr", "--deny", "chmod", "true"}, "--deny chmod: chmod is also decided by --allow-path/--deny-path"},
		{[]string{"--allow-bind", "80", "--deny", "bind", "true"}, "--deny bind: bind is also decided by --allow-bind"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseRun(tc.args, syscalls.X86_64)
			require.EqualError(t, err, tc.err)
			var ue *usageError
			require.ErrorAs(t, err, &ue)
		})
	}
}

// regSyscalls maps each registered handler's type to its syscalls.
func regSyscalls(regs []registration) map[string][]string {
	m := map[string][]string{}
	for _, r := range regs {
		if r.h == nil {
			continue // a kernel layer only (--max-processes)
		}
		name := reflect.TypeOf(r.h).String()
		m[name] = append(m[name], r.syscalls...)
	}
	return m
}

// filesSyscalls are the syscalls of a files policy on arch.
func filesSyscalls(t *testing.T, arch *syscalls.Arch) []string {
	p, err := pathpolicy.NewOpenPolicy(pathpolicy.Rules{})
	require.NoError(t, err)
	names := p.Syscalls(arch)
	require.Contains(t, names, "renameat2")
	require.Contains(t, names, "linkat")
	return names
}

func TestParseRunPolicies(t *testing.T) {
	cfg, err := parseRun([]string{
		"--allow-path", "/usr", "--deny-path", "/etc/shadow", "--allow-exec", "/usr/bin",
		"--max-processes", "4", "--allow-connect", "127.0.0.1:80", "--on", "openat=continue",
		"--deny-default", "true",
	}, syscalls.X86_64)
	require.NoError(t, err)
	require.Equal(t, map[string][]string{
		"*pathpolicy.OpenPolicy": filesSyscalls(t, syscalls.X86_64),
		"*pathpolicy.ExecPolicy": {"execve", "execveat"},
		// --allow-bind not given: bind is free.
		"*netpolicy.Policy": {"connect", "sendto", "sendmsg", "sendmmsg", "socket", "setsockopt"},
	}, regSyscalls(cfg.Policies))
	// The kernel layers: Landlock TCP connect to port 80 only (the
	// handler narrows it to 127.0.0.1), bind free; execute beneath
	// /usr/bin.
	require.Equal(t, []uint16{80}, cfg.Policy.TCPConnectPorts)
	// The process limit is the sandbox's (a pids cgroup, or its trap):
	// no handler of the CLI's.
	require.Equal(t, 4, cfg.Policy.MaxProcesses)
	require.Nil(t, cfg.Policy.TCPBindPorts)
	require.Equal(t, []string{"/usr/bin"}, cfg.Policy.ExecPaths)
	// Landlock confines file access beneath the allowed paths.
	require.Equal(t, []string{"/usr"}, cfg.Policy.FilePaths)
	// What would bypass the files policy is denied in the kernel.
	require.Subset(t, cfg.Policy.Deny, []string{"open_by_handle_at", "io_uring_setup", "io_uring_enter", "io_uring_register"})
	// The --on rule stays first in the chain of openat.
	require.Equal(t, "openat=continue", cfg.Rules[0].String())

	// Only bind.
	cfg, err = parseRun([]string{"--allow-bind", "8080", "true"}, syscalls.X86_64)
	require.NoError(t, err)
	require.Equal(t, map[string][]string{"*netpolicy.Policy": {"socket", "bind"}}, regSyscalls(cfg.Policies))
	require.Nil(t, cfg.Policy.TCPConnectPorts)
	require.Equal(t, []uint16{8080}, cfg.Policy.TCPBindPorts)

	// A rule for any port: Landlock cannot narrow it.
	cfg, err = parseRun([]string{"--allow-connect", "10.0.0.1:*", "--allow-connect", "*:443", "true"}, syscalls.X86_64)
	require.NoError(t, err)
	require.Nil(t, cfg.Policy.TCPConnectPorts)

	// aarch64 has no open, creat, fork or vfork.
	cfg, err = parseRun([]string{"--deny-path", "/etc/shadow", "--max-processes", "2", "true"}, syscalls.AArch64)
	require.NoError(t, err)
	require.Equal(t, map[string][]string{
		"*pathpolicy.OpenPolicy": filesSyscalls(t, syscalls.AArch64),
	}, regSyscalls(cfg.Policies))
	require.Equal(t, 2, cfg.Policy.MaxProcesses)

	// Nothing traps clone under the cgroup, and the trap fallback leaves
	// a denied syscall to the kernel: --deny clone goes with it.
	cfg, err = parseRun([]string{"--max-processes", "2", "--deny", "clone", "true"}, syscalls.X86_64)
	require.NoError(t, err)
	require.Equal(t, 2, cfg.Policy.MaxProcesses)
	require.Contains(t, cfg.Policy.Deny, "clone")
	require.Nil(t, cfg.Policy.FilePaths, "a deny-list alone has no Landlock layer")

	// An allow-list of plain paths: Landlock decides opens alone (no trap
	// per open); what Landlock has no right for stays trapped. A deny rule,
	// a glob or --trace keeps the opens trapped.
	cfg, err = parseRun([]string{"--allow-path", "/usr", "true"}, syscalls.X86_64)
	require.NoError(t, err)
	opens := regSyscalls(cfg.Policies)["*pathpolicy.OpenPolicy"]
	require.NotContains(t, opens, "openat")
	require.NotContains(t, opens, "open")
	require.Contains(t, opens, "fchmodat")
	require.Contains(t, opens, "openat2", "openat2 stays trapped if it is allowed again")
	for _, args := range [][]string{
		{"--allow-path", "/usr", "--deny-path", "/usr/bin", "true"},
		{"--allow-path", "/us[r]", "true"},
		{"--allow-path", "/usr", "--trace", "-", "true"},
	} {
		cfg, err = parseRun(args, syscalls.X86_64)
		require.NoError(t, err)
		require.Contains(t, regSyscalls(cfg.Policies)["*pathpolicy.OpenPolicy"], "openat", args)
	}

	// No policy flag: no policy.
	cfg, err = parseRun([]string{"true"}, syscalls.X86_64)
	require.NoError(t, err)
	require.Empty(t, cfg.Policies)
}

func TestParseRunProfile(t *testing.T) {
	p := writeProfileFile(t, `version = 1
program = ["cat"]
[open]
files = ["/etc/hostname"]
dirs = ["/usr/lib"]
[exec]
paths = []
[network]
connect = ["127.0.0.1:80"]
bind = []
[processes]
max = 3
`)
	cfg, err := parseRun([]string{"--profile", p, "--allow-path", "/tmp", "true"}, syscalls.X86_64)
	require.NoError(t, err)
	require.Equal(t, map[string][]string{
		"*main.dirFallback":      filesSyscalls(t, syscalls.X86_64),
		"*pathpolicy.ExecPolicy": {"execve", "execveat"},
		"*netpolicy.Policy":      {"connect", "sendto", "sendmsg", "sendmmsg", "socket", "setsockopt", "bind"}, // both, even with no binds: none allowed
	}, regSyscalls(cfg.Policies))
	require.Equal(t, 3, cfg.Policy.MaxProcesses, "processes.max")
	require.Equal(t, []uint16{80}, cfg.Policy.TCPConnectPorts)
	require.Equal(t, []uint16{}, cfg.Policy.TCPBindPorts, "no bind rule: Landlock allows no TCP bind")
	require.Equal(t, []string{}, cfg.Policy.ExecPaths, "no exec path: only the program itself executes")
	var router *pathpolicy.Router
	for _, r := range cfg.Policies {
		if o, ok := r.h.(*dirFallback); ok {
			router = o.router
		}
	}
	files, dirs := router.Files().(*pathpolicy.OpenPolicy), router.Dirs().(*pathpolicy.OpenPolicy)
	require.True(t, files.Allowed("/etc/hostname"))
	require.True(t, files.Allowed("/tmp/x"), "--allow-path adds to the profile")
	require.False(t, files.Allowed("/etc/passwd"))
	require.False(t, files.Allowed("/usr/lib/secret"), "dirs do not open files")
	require.True(t, dirs.Allowed("/usr/lib"))
	require.True(t, dirs.Allowed("/usr/lib/x86_64-linux-gnu"))
	require.False(t, dirs.Allowed("/etc"))

	// An empty list denies all.
	empty := writeProfileFile(t, "version = 1\n")
	cfg, err = parseRun([]string{"--profile", empty, "true"}, syscalls.X86_64)
	require.NoError(t, err)
	for _, r := range cfg.Policies {
		if h, ok := r.h.(*dirFallback); ok {
			require.False(t, h.router.Files().(*pathpolicy.OpenPolicy).Allowed("/etc/hostname"))
			require.False(t, h.router.Dirs().(*pathpolicy.OpenPolicy).Allowed("/"))
		}
	}
	require.Zero(t, cfg.Policy.MaxProcesses, "processes.max 0: no limit")
	// --max-processes replaces the profile's limit; --deny-path wins.
	cfg, err = parseRun([]string{"--profile", p, "--max-processes", "9", "--deny-path", "/etc/hostname", "true"}, syscalls.X86_64)
	require.NoError(t, err)
	require.Equal(t, 9, cfg.Policy.MaxProcesses)
	for _, r := range cfg.Policies {
		if h, ok := r.h.(*dirFallback); ok {
			require.False(t, h.router.Files().(*pathpolicy.OpenPolicy).Allowed("/etc/hostname"))
		}
	}
}

// ctxFor is a live Ctx of this process for name and args.
func ctxFor(t *testing.T, name string, args [6]uint64) *handler.Ctx {
	t.Helper()
	arch := syscalls.Native()
	nr, err := arch.Number(name)
	require.NoError(t, err)
	fake := notif.NewFake()
	n := notif.Notif{Pid: uint32(os.Getpid())}
	n.Data.Nr, n.Data.Arch, n.Data.Args = int32(nr), arch.AuditArch(), args
	n.ID = fake.Push(n)
	return handler.NewTestCtx(n, fake)
}

func TestLexicalPath(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	cstr := func(s string) uint64 {
		b := append([]byte(s), 0)
		t.Cleanup(func() { runtime.KeepAlive(b) })
		return uint64(reflect.ValueOf(b).Pointer())
	}
	atFDCWD := uint64(0xffffff9c)
	pid := "/proc/" + strconv.Itoa(os.Getpid())
	tests := []struct {
		name string
		args [6]uint64
		want string
	}{
		{"openat", [6]uint64{atFDCWD, cstr("/lib/../lib/x")}, "/lib/x"},
		{"openat", [6]uint64{atFDCWD, cstr("rel")}, wd + "/rel"},
		{"openat", [6]uint64{atFDCWD, cstr("/proc/self/status")}, pid + "/status"},
		{"openat", [6]uint64{atFDCWD, cstr("/proc/thread-self")}, pid},
		{"openat", [6]uint64{atFDCWD, cstr("/proc/selfish")}, "/proc/selfish"},
		{"execve", [6]uint64{cstr("/bin/sh")}, "/bin/sh"},
		{"openat", [6]uint64{atFDCWD, 0}, ""},
		{"getppid", [6]uint64{}, ""},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, lexicalPath(ctxFor(t, tc.name, tc.args)), "%s", tc.name)
	}
}

func TestProfileRoundTrip(t *testing.T) {
	p := &Profile{Version: 1, Program: []string{"sh", "-c", `echo "hi"`}}
	p.Open.Files = pathList{"/b", "/a", "/a", `/with "quote" and \ and` + "\nnewline", "/ünï"}
	p.Open.Dirs = pathList{"/usr/lib"}
	p.Exec.Paths = pathList{}
	p.Network.Connect = pathList{"[::1]:80", "127.0.0.1:8080"}
	p.Processes.Max = 3
	var b bytes.Buffer
	require.NoError(t, writeProfile(&b, p))
	text := b.String()
	require.True(t, strings.HasPrefix(text, profileHeader), text)
	require.Contains(t, text, "files = [\n  \"/a\",\n  \"/b\",\n")
	require.Contains(t, text, "paths = []\n")

	got, err := readProfile(strings.NewReader(text))
	require.NoError(t, err)
	require.Equal(t, pathList{"/a", "/b", `/with "quote" and \ and` + "\nnewline", "/ünï"}, got.Open.Files)
	require.Equal(t, p.Program, got.Program)
	require.Equal(t, pathList{"/usr/lib"}, got.Open.Dirs)
	require.Empty(t, got.Exec.Paths)
	require.Equal(t, pathList{"127.0.0.1:8080", "[::1]:80"}, got.Network.Connect)
	require.Equal(t, 3, got.Processes.Max)
}

func TestParseTrace(t *testing.T) {
	cfg, err := parseTrace([]string{"cat", "/etc/hostname"}, syscalls.X86_64)
	require.NoError(t, err)
	require.Equal(t, []string{"cat", "/etc/hostname"}, cfg.Program)
	require.False(t, cfg.JSON)
	require.Contains(t, cfg.Syscalls, "openat")
	require.Contains(t, cfg.Syscalls, "execve")
	require.Contains(t, cfg.Syscalls, "clone3")
	require.Contains(t, cfg.Syscalls, "connect")
	require.Contains(t, cfg.Syscalls, "open")

	cfg, err = parseTrace([]string{"--json", "-o", "x", "--syscalls", "fstatat, openat,exec,openat", "--", "true"}, syscalls.X86_64)
	require.NoError(t, err)
	require.Equal(t, []string{"newfstatat", "openat", "execve", "execveat"}, cfg.Syscalls)
	require.True(t, cfg.JSON)
	require.Equal(t, "x", cfg.Output)

	// A family leaves out what the arch lacks; a name alone must exist.
	cfg, err = parseTrace([]string{"--syscalls", "process", "true"}, syscalls.AArch64)
	require.NoError(t, err)
	require.Equal(t, []string{"clone", "clone3", "exit_group", "kill"}, cfg.Syscalls)

	for args, msg := range map[string]string{
		"--syscalls fork true":    `--syscalls fork: "fork" is neither a syscall on aarch64 nor a family (exec, file, network, process)`,
		"--syscalls openat, true": "--syscalls openat,: empty syscall name",
		"-o":                      "trace: flag needs an argument: -o (see sandlock-go trace --help)",
		"--json":                  "trace: no program given (usage: sandlock-go trace [flags] -- PROGRAM [ARGS...])",
	} {
		_, err := parseTrace(strings.Fields(args), syscalls.AArch64)
		require.EqualError(t, err, msg, args)
	}
	_, err = parseTrace([]string{"-o", "", "true"}, syscalls.X86_64)
	require.EqualError(t, err, "-o: want a file name")
	_, err = parseTrace([]string{"--help"}, syscalls.X86_64)
	require.ErrorIs(t, err, errHelp)
}

// The policy types are what buildPolicies returns.
var (
	_ handler.Handler = (*pathpolicy.OpenPolicy)(nil)
	_ handler.Handler = (*netpolicy.Policy)(nil)
)

func TestLandlockPaths(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"a/bin", "b/bin", "c/lib"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	require.Equal(t, []string{"/usr/bin", filepath.Join(dir, "a/bin"), filepath.Join(dir, "b/bin")},
		landlockPaths([]string{"/usr/bin", filepath.Join(dir, "*/bin")}))
	require.Equal(t, []string{}, landlockPaths(nil))
	require.Equal(t, []string{}, landlockPaths([]string{filepath.Join(dir, "*/none")}))
}
