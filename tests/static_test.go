package tests

import (
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
