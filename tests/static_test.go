package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// denyPolicy is a deny list: getppid, and ioctl TIOCSTI by its request
// argument.
const denyPolicy = `
default_action: allow
syscalls:
  - action: errno
    names: [getppid]
  - action: errno
    names_with_args:
      - name: ioctl
        arguments:
          - position: 1
            operation: Equal
            value: 0x5412
`

func requireAmd64(t *testing.T) {
	t.Helper()
	if syscalls.Native() != syscalls.X86_64 {
		t.Skip("the static-policy victims use x86_64 numbers (x32, TIOCSTI)")
	}
}

// staticRun runs the staticpol victim with args under the static policy
// src (none when empty) and returns its output.
func staticRun(t *testing.T, src string, allow []string, args ...string) string {
	t.Helper()
	r := newRunContext(t, t.Context(), buildProgram(t, "staticpol"), args...)
	r.Policy.AllowSyscalls = allow
	if src != "" {
		p, err := sandbox.ParseSeccompPolicy([]byte(src))
		require.NoError(t, err)
		r.Policy.Seccomp = p
	}
	return r.mustRun(t)
}

// TestSeccompPolicy applies a YAML policy to a real child: getppid and
// ioctl(fd, TIOCSTI) are refused by the kernel, also with the request's
// high bits set (which the kernel drops), while other requests reach the
// kernel. ioctl is taken out of the sandbox's own TIOCSTI rule so that
// only the policy stands in the way.
func TestSeccompPolicy(t *testing.T) {
	requireAmd64(t)
	allowIoctl := []string{"ioctl"}
	for _, tc := range []struct {
		name, policy string
		args         []string
		want         string
	}{
		{"Getppid", denyPolicy, []string{"getppid"}, "getppid ret=-1 errno=EPERM"},
		{"GetppidWithout", "", []string{"getppid"}, "getppid ret="},
		{"TIOCSTI", denyPolicy, []string{"ioctl", "0x5412"}, "ioctl ret=-1 errno=EPERM"},
		{"TIOCSTIHighBits", denyPolicy, []string{"ioctl", "0x100005412"}, "ioctl ret=-1 errno=EPERM"},
		{"TIOCSTIWithout", "", []string{"ioctl", "0x100005412"}, "ioctl ret=-1 errno=ENOTTY"},
		{"OtherRequest", denyPolicy, []string{"ioctl", "0x5413"}, "ioctl ret=-1 errno=ENOTTY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := staticRun(t, tc.policy, allowIoctl, tc.args...)
			require.Contains(t, out, tc.want)
			if tc.name == "GetppidWithout" {
				require.NotContains(t, out, "errno=EPERM")
			}
		})
	}
}

// TestSeccompPolicyX32: a deny-list policy (default allow) does not let an
// x32 call through: the sandbox's filters answer ENOSYS. (This kernel has
// no x32 ABI, so ENOSYS is also what it would say; the interpreter test
// seccomp.TestStaticForeignArch checks the filters themselves.)
func TestSeccompPolicyX32(t *testing.T) {
	requireAmd64(t)
	out := staticRun(t, denyPolicy, nil, "x32", "getppid")
	require.Contains(t, out, "x32 ret=-1 errno=ENOSYS")
}

// TestSeccompPolicyKeepsENOSYS: the sandbox answers clone3 ENOSYS so that
// libc falls back to clone; a policy that fails clone3 with EPERM, whose
// errno would win as the newer filter's, does not change that.
func TestSeccompPolicyKeepsENOSYS(t *testing.T) {
	requireAmd64(t)
	const p = "default_action: allow\nsyscalls:\n  - action: errno\n    names: [clone3]\n"
	require.Contains(t, staticRun(t, p, nil, "clone3"), "clone3 ret=-1 errno=ENOSYS")
}

// TestSeccompPolicyHandlerUnreachable: a handler on a syscall that the
// policy always denies is never called (documented on Policy.Seccomp);
// SeccompDenies tells which.
func TestSeccompPolicyHandlerUnreachable(t *testing.T) {
	requireAmd64(t)
	p, err := sandbox.ParseSeccompPolicy([]byte(denyPolicy))
	require.NoError(t, err)
	r := newRunContext(t, t.Context(), buildProgram(t, "staticpol"), "getppid")
	r.Policy.Seccomp = p
	called := false
	r.handle(t, "getppid", func(*handler.Ctx) handler.Action {
		called = true
		return handler.ReturnValue(7)
	})
	require.Contains(t, r.mustRun(t), "getppid ret=-1 errno=EPERM")
	require.False(t, called)
	action, always := r.Policy.SeccompDenies("getppid")
	require.True(t, always)
	require.Equal(t, "errno", action)
	_, always = r.Policy.SeccompDenies("ioctl")
	require.False(t, always, "ioctl is denied by argument only")
}

// TestSeccompPolicyDeniesExec: a policy without execve cannot start the
// command; Start says so before anything runs.
func TestSeccompPolicyDeniesExec(t *testing.T) {
	requireAmd64(t)
	p, err := sandbox.ParseSeccompPolicy([]byte("default_action: errno\nsyscalls:\n  - action: allow\n    names: [read, write]\n"))
	require.NoError(t, err)
	r := newRunContext(t, t.Context(), buildProgram(t, "staticpol"), "exit")
	r.Policy.Seccomp = p
	require.ErrorIs(t, r.Policy.CheckSeccomp(), sandbox.ErrSeccompDeniesExec)
	err = r.Run()
	require.ErrorIs(t, err, sandbox.ErrSeccompDeniesExec)
	require.True(t, strings.Contains(err.Error(), "allow execve"), err.Error())
}

// TestSeccompPolicyCLI runs sandlock-go with --seccomp-policy and
// learn --seccomp-out.
func TestSeccompPolicyCLI(t *testing.T) {
	requireAmd64(t)
	bin := buildCLI(t)
	dir := t.TempDir()
	policy := writeFile(t, dir, "deny.yaml", denyPolicy)
	victim := buildProgram(t, "staticpol")

	t.Run("RealChild", func(t *testing.T) {
		t.Parallel()
		for args, want := range map[string]string{
			"getppid":           "getppid ret=-1 errno=EPERM",
			"ioctl 0x5412":      "ioctl ret=-1 errno=EPERM",
			"ioctl 0x100005412": "ioctl ret=-1 errno=EPERM",
			"ioctl 0x5413":      "ioctl ret=-1 errno=ENOTTY",
		} {
			r := runCLI(t, bin, append([]string{"run", "--allow-syscall", "ioctl", "--seccomp-policy", policy, "--", victim}, strings.Fields(args)...)...)
			r.requireStatus(t, 0)
			require.Contains(t, r.stdout, want, args)
		}
	})

	t.Run("Rejected", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ name, src, want string }{
			{"unknown.yaml", "default_action: allow\nsyscalls:\n  - action: errno\n    names: [getppid, opne]\n", `line 4: unknown syscall "opne" on x86_64`},
			{"malformed.yaml", "default_action: allow\nsyscalls: [\n", "line 2: did not find expected node content"},
			{"key.yaml", "default_action: allow\nsyscalls:\n  - action: errno\n    names: [getppid]\n    args: []\n", `line 5: syscall group: unknown key "args"`},
			{"action.yaml", "default_action: deny\nsyscalls:\n  - action: errno\n    names: [getppid]\n", `line 1: action "deny"`},
			{"json.json", `{"default_action": "allow", "syscalls": [{"action": "errno", "names": ["getppid"]}]`, "did not find expected"},
			{"empty.yaml", "", "empty policy"},
			{"noexec.yaml", "default_action: errno\nsyscalls:\n  - action: allow\n    names: [read, write, exit_group]\n", "denies execve"},
			{"width.yaml", "default_action: allow\nsyscalls:\n  - action: errno\n    names_with_args:\n      - name: ioctl\n        arguments: [{position: 1, operation: GreaterOrEqual, value: 0x5412}]\n", "GreaterOrEqual on argument 1, which the kernel reads as 32 bits"},
		} {
			file := writeFile(t, dir, tc.name, tc.src)
			r := runCLI(t, bin, "run", "--seccomp-policy", file, "--", victim, "exit")
			r.requireStatus(t, 2)
			require.Equal(t, "sandlock-go: --seccomp-policy "+file+": ", r.stderr[:min(len(r.stderr), len("sandlock-go: --seccomp-policy "+file+": "))], tc.name)
			require.Contains(t, r.stderr, tc.want, tc.name)
			require.Empty(t, r.stdout, tc.name)
		}
		r := runCLI(t, bin, "run", "--seccomp-policy", filepath.Join(dir, "missing.yaml"), "--", victim, "exit")
		r.requireStatus(t, 2)
		require.Contains(t, r.stderr, "missing.yaml: no such file or directory")
	})

	t.Run("OnUnreachable", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, bin, "run", "--seccomp-policy", policy, "--on", "getppid=ret:7", "--", victim, "getppid")
		r.requireStatus(t, 2)
		require.Contains(t, r.stderr, "--on getppid=ret:7: --seccomp-policy "+policy+" answers every getppid with errno in the kernel: the rule would never run")
		// ioctl is denied by argument only: an --on rule may see the rest.
		r = runCLI(t, bin, "run", "--allow-syscall", "ioctl", "--seccomp-policy", policy, "--on", "ioctl=continue", "--", victim, "ioctl", "0x5412")
		r.requireStatus(t, 0)
		require.Contains(t, r.stdout, "ioctl ret=-1 errno=EPERM")
	})

	// A learned policy runs the same program again and denies what it
	// never did: sh -c 'echo hi' never forks.
	t.Run("Learned", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(dir, "sh.yaml")
		r := runCLI(t, bin, "learn", "-o", filepath.Join(dir, "sh.toml"), "--seccomp-out", out, "--", "sh", "-c", "echo hi")
		r.requireStatus(t, 0)
		require.Equal(t, "hi\n", r.stdout)
		learned, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Contains(t, string(learned), "default_action: errno")
		require.Contains(t, string(learned), "      - execve\n")
		require.NotContains(t, string(learned), "      - clone\n")

		r = runCLI(t, bin, "run", "--seccomp-policy", out, "--", "sh", "-c", "echo hi")
		r.requireStatus(t, 0)
		require.Equal(t, "hi\n", r.stdout)

		r = runCLI(t, bin, "run", "--seccomp-policy", out, "--", "sh", "-c", "echo hi; /bin/true; echo forked")
		require.NotEqual(t, 0, r.status)
		require.Equal(t, "hi\n", r.stdout)
		require.Contains(t, r.stderr, "Cannot fork")
	})

	// The policy never sees sandlock-go's own start: one that denies what
	// the launcher does between its filters and the execve (write, prctl,
	// seccomp, futex, rt_sigprocmask...) still starts the program.
	t.Run("LaunchUnaffected", func(t *testing.T) {
		t.Parallel()
		file := writeFile(t, dir, "launch.yaml", `default_action: allow
syscalls:
  - action: kill_process
    names: [write, prctl, seccomp, futex, rt_sigprocmask, sched_yield, nanosleep, tgkill, madvise, close_range, getpid, gettid]
  - action: kill_process
    names_with_args: # setting RLIMIT_NOFILE, as Go's syscall.Exec does before execve
      - name: prlimit64
        arguments: [{position: 1, operation: Equal, value: 7}, {position: 2, operation: NotEqual, value: 0}]
`)
		r := runCLI(t, "sh", "-c", "ulimit -Sn 1024 && exec \"$0\" run --seccomp-policy \"$1\" -- true", bin, file)
		r.requireStatus(t, 0)
	})

	// The command gets the RLIMIT_NOFILE soft limit sandlock-go was given,
	// not the one the Go runtime raised it to, with a policy as without.
	t.Run("NofileLimit", func(t *testing.T) {
		t.Parallel()
		for _, extra := range [][]string{nil, {"--seccomp-policy", policy}} {
			args := append(append([]string{"run"}, extra...), "--", "sh", "-c", "ulimit -Sn")
			r := runCLI(t, "sh", append([]string{"-c", "ulimit -Sn 1000 && exec \"$@\"", "sh", bin}, args...)...)
			r.requireStatus(t, 0)
			require.Equal(t, "1000\n", r.stdout, "%v", extra)
		}
	})
}
