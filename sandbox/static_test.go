package sandbox

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// TestStaticStackedForeignABI runs a run's two filters, as Start builds
// them, on calls from another ABI and combines their answers as the kernel
// does (the static filter is the newer one). A deny-list policy lets a
// foreign-ABI call through to its default action, allow; stacked, every
// such call is killed, whatever its number and arguments. x32 numbers get
// ENOSYS. (This kernel has no IA32 emulation: the interpreter stands in
// for int 0x80.)
func TestStaticStackedForeignABI(t *testing.T) {
	if syscalls.Native() != syscalls.X86_64 {
		t.Skip("i386 and x32 are x86_64's foreign ABIs")
	}
	sp, err := ParseSeccompPolicy([]byte("default_action: allow\nsyscalls:\n  - action: errno\n    names: [getppid]\n"))
	require.NoError(t, err)
	p := &Policy{Seccomp: sp}
	static, err := p.staticProgram(syscalls.Native())
	require.NoError(t, err)
	notify, err := buildFilter(syscalls.Native(), []int{nr(t, "openat")}, p)
	require.NoError(t, err)
	run := func(d seccomp.Data) (s, n uint32) {
		s, err := static.Evaluate(d)
		require.NoError(t, err)
		n, err = notify.Evaluate(d)
		require.NoError(t, err)
		return s, n
	}
	const auditI386 = 0x40000003
	allowed := 0
	for nr := int32(0); nr < 600; nr++ {
		for _, args := range [][6]uint64{{}, {0, unix.TIOCSTI}, {^uint64(0), ^uint64(0), ^uint64(0)}} {
			s, n := run(seccomp.Data{Nr: nr, Arch: auditI386, Args: args})
			if s == unix.SECCOMP_RET_ALLOW {
				allowed++
			}
			require.Equal(t, uint32(unix.SECCOMP_RET_KILL_PROCESS), seccomp.MostRestrictive(s, n), "i386 nr %d args %#x: static %#x, notification %#x", nr, args, s, n)
		}
		s, n := run(seccomp.Data{Nr: int32(syscalls.X32SyscallBit) | nr, Arch: syscalls.X86_64.AuditArch()})
		require.Equal(t, seccomp.Errno(unix.ENOSYS).Ret(), seccomp.MostRestrictive(s, n), "x32 nr %d", nr)
	}
	require.Positive(t, allowed, "the static program alone is expected to allow foreign-ABI calls (go-seccomp-bpf's default action)")
}

// TestStaticKeepsSandboxENOSYS: when both filters answer an errno, the
// newer (static) one's wins, so the static program lets clone3 and
// openat2 through while the isolation rules answer them ENOSYS; once
// AllowSyscalls takes one out of those rules, the policy decides it.
func TestStaticKeepsSandboxENOSYS(t *testing.T) {
	sp, err := ParseSeccompPolicy([]byte("default_action: errno\nsyscalls:\n  - action: allow\n    names: [execve, read]\n"))
	require.NoError(t, err)
	enosys, eperm := seccomp.Errno(unix.ENOSYS).Ret(), seccomp.Errno(unix.EPERM).Ret()
	for _, tc := range []struct {
		allow []string
		want  map[string]uint32
	}{
		{nil, map[string]uint32{"clone3": enosys, "openat2": enosys, "getppid": eperm}},
		{[]string{"clone3"}, map[string]uint32{"clone3": eperm, "openat2": enosys}},
	} {
		p := &Policy{Seccomp: sp, AllowSyscalls: tc.allow}
		static, err := p.staticProgram(syscalls.Native())
		require.NoError(t, err)
		notify, err := buildFilter(syscalls.Native(), nil, p)
		require.NoError(t, err)
		for name, want := range tc.want {
			got := seccomp.MostRestrictive(decideArgs(t, static, name), decideArgs(t, notify, name))
			require.Equal(t, want, got, "%s with AllowSyscalls %v", name, tc.allow)
		}
	}
}
