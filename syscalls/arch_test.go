package syscalls

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestArchIdentity(t *testing.T) {
	for _, tc := range []struct {
		arch         *Arch
		name, goarch string
		audit        uint32
		mustHave     []string
		mustNotHave  []string
		minNumbers   int
		knownNumbers map[string]int
	}{
		{
			arch: X86_64, name: "x86_64", goarch: "amd64", audit: unix.AUDIT_ARCH_X86_64,
			mustHave:     []string{"open", "fork", "stat", "arch_prctl", "_sysctl", "newfstatat"},
			mustNotHave:  []string{"riscv_hwprobe", "renameat2x"},
			knownNumbers: map[string]int{"read": 0, "open": 2, "openat": 257, "getppid": 110, "clone3": 435},
		},
		{
			arch: AArch64, name: "aarch64", goarch: "arm64", audit: unix.AUDIT_ARCH_AARCH64,
			mustHave:     []string{"openat", "clone", "newfstatat", "renameat"},
			mustNotHave:  []string{"open", "fork", "stat", "arch_prctl", "riscv_hwprobe", "arch_specific_syscall"},
			knownNumbers: map[string]int{"io_setup": 0, "openat": 56, "getppid": 173, "clone3": 435},
		},
		{
			arch: RISCV64, name: "riscv64", goarch: "riscv64", audit: unix.AUDIT_ARCH_RISCV64,
			mustHave:     []string{"openat", "riscv_hwprobe", "riscv_flush_icache", "renameat2"},
			mustNotHave:  []string{"open", "fork", "renameat", "arch_specific_syscall"},
			knownNumbers: map[string]int{"openat": 56, "getppid": 173, "riscv_flush_icache": 259},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.arch
			assert.Equal(t, tc.name, a.String())
			assert.Equal(t, tc.name, fmt.Sprint(a))
			assert.Equal(t, tc.goarch, a.GOARCH())
			assert.Equal(t, tc.audit, a.AuditArch())
			for _, n := range tc.mustHave {
				_, err := a.Number(n)
				assert.NoError(t, err, n)
			}
			for _, n := range tc.mustNotHave {
				_, err := a.Number(n)
				assert.ErrorIs(t, err, ErrUnknownSyscall, n)
			}
			for n, nr := range tc.knownNumbers {
				got, err := a.Number(n)
				require.NoError(t, err)
				assert.Equal(t, nr, got, n)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, a := range Arches() {
		t.Run(a.String(), func(t *testing.T) {
			all := a.Syscalls()
			require.Greater(t, len(all), 300)
			assert.True(t, slices.IsSortedFunc(all, func(x, y Syscall) int { return x.Number - y.Number }))
			assert.Equal(t, all[len(all)-1].Number, a.MaxNumber())

			names := map[string]bool{}
			for _, s := range all {
				assert.False(t, names[s.Name], "duplicate name %q", s.Name)
				names[s.Name] = true
				assert.Regexp(t, `^[a-z_][a-z0-9_]*$`, s.Name)

				nr, err := a.Number(s.Name)
				if assert.NoError(t, err) {
					assert.Equal(t, s.Number, nr, s.Name)
				}
				name, ok := a.Name(s.Number)
				assert.True(t, ok)
				assert.Equal(t, s.Name, name)
			}

			// Every number in 0..MaxNumber+1 that is not in the table is unknown.
			for nr := -1; nr <= a.MaxNumber()+1; nr++ {
				_, ok := a.Name(nr)
				assert.Equal(t, slices.ContainsFunc(all, func(s Syscall) bool { return s.Number == nr }), ok, nr)
			}
			_, ok := a.Name(X32SyscallBit | 1)
			assert.False(t, ok)

			// Syscalls returns a copy.
			all[0].Name = "clobbered"
			assert.NotEqual(t, "clobbered", a.Syscalls()[0].Name)
		})
	}
}

func TestAliases(t *testing.T) {
	for _, a := range Arches() {
		want, err := a.Number("newfstatat")
		require.NoError(t, err)
		got, err := a.Number("fstatat")
		require.NoError(t, err, a)
		assert.Equal(t, want, got, a)
		name, ok := a.Name(got)
		assert.True(t, ok)
		assert.Equal(t, "newfstatat", name, "Name returns the canonical name")
		assert.NotContains(t, a.Syscalls(), Syscall{"fstatat", got}, "Syscalls has no aliases")
	}
}

func TestUnknownSyscall(t *testing.T) {
	_, err := X86_64.Number("opnat")
	require.Error(t, err)
	assert.EqualError(t, err, `unknown syscall "opnat" on x86_64`)
	assert.ErrorIs(t, err, ErrUnknownSyscall)
	assert.NotErrorIs(t, err, ErrNotOnArch)
	var use *UnknownSyscallError
	require.ErrorAs(t, err, &use)
	assert.Equal(t, "opnat", use.Name)
	assert.Same(t, X86_64, use.Arch)
	assert.Empty(t, use.Elsewhere)

	for _, n := range []string{"", "OPENAT", "SYS_OPENAT", "openat "} {
		_, err := AArch64.Number(n)
		assert.ErrorIs(t, err, ErrUnknownSyscall, "%q", n)
	}
}

func TestNotOnArch(t *testing.T) {
	for _, tc := range []struct {
		arch *Arch
		name string
		msg  string
	}{
		{AArch64, "open", `syscall "open" does not exist on aarch64 (use openat)`},
		{AArch64, "fork", `syscall "fork" does not exist on aarch64 (use clone)`},
		{AArch64, "vfork", `syscall "vfork" does not exist on aarch64 (use clone)`},
		{AArch64, "stat", `syscall "stat" does not exist on aarch64 (use newfstatat)`},
		{AArch64, "lstat", `syscall "lstat" does not exist on aarch64 (use newfstatat)`},
		{AArch64, "getdents", `syscall "getdents" does not exist on aarch64 (use getdents64)`},
		{AArch64, "pipe", `syscall "pipe" does not exist on aarch64 (use pipe2)`},
		{AArch64, "dup2", `syscall "dup2" does not exist on aarch64 (use dup3)`},
		{AArch64, "access", `syscall "access" does not exist on aarch64 (use faccessat)`},
		{AArch64, "rename", `syscall "rename" does not exist on aarch64 (use renameat2)`},
		{AArch64, "unlink", `syscall "unlink" does not exist on aarch64 (use unlinkat)`},
		{AArch64, "rmdir", `syscall "rmdir" does not exist on aarch64 (use unlinkat)`},
		{AArch64, "mkdir", `syscall "mkdir" does not exist on aarch64 (use mkdirat)`},
		{AArch64, "poll", `syscall "poll" does not exist on aarch64 (use ppoll)`},
		{AArch64, "select", `syscall "select" does not exist on aarch64 (use pselect6)`},
		{AArch64, "epoll_wait", `syscall "epoll_wait" does not exist on aarch64 (use epoll_pwait)`},
		{AArch64, "epoll_create", `syscall "epoll_create" does not exist on aarch64 (use epoll_create1)`},
		{AArch64, "creat", `syscall "creat" does not exist on aarch64 (use openat)`},
		{AArch64, "readlink", `syscall "readlink" does not exist on aarch64 (use readlinkat)`},
		{AArch64, "symlink", `syscall "symlink" does not exist on aarch64 (use symlinkat)`},
		{AArch64, "link", `syscall "link" does not exist on aarch64 (use linkat)`},
		{AArch64, "chmod", `syscall "chmod" does not exist on aarch64 (use fchmodat)`},
		{AArch64, "chown", `syscall "chown" does not exist on aarch64 (use fchownat)`},
		{AArch64, "eventfd", `syscall "eventfd" does not exist on aarch64 (use eventfd2)`},
		{AArch64, "signalfd", `syscall "signalfd" does not exist on aarch64 (use signalfd4)`},
		{AArch64, "inotify_init", `syscall "inotify_init" does not exist on aarch64 (use inotify_init1)`},
		{AArch64, "alarm", `syscall "alarm" does not exist on aarch64 (use setitimer)`},
		{AArch64, "time", `syscall "time" does not exist on aarch64 (use clock_gettime)`},
		{AArch64, "utime", `syscall "utime" does not exist on aarch64 (use utimensat)`},
		{AArch64, "pause", `syscall "pause" does not exist on aarch64`},
		{AArch64, "arch_prctl", `syscall "arch_prctl" does not exist on aarch64`},
		{RISCV64, "renameat", `syscall "renameat" does not exist on riscv64 (use renameat2)`},
		{RISCV64, "open", `syscall "open" does not exist on riscv64 (use openat)`},
		{X86_64, "riscv_hwprobe", `syscall "riscv_hwprobe" does not exist on x86_64`},
	} {
		_, err := tc.arch.Number(tc.name)
		require.Error(t, err, tc.name)
		assert.EqualError(t, err, tc.msg)
		assert.ErrorIs(t, err, ErrNotOnArch, tc.name)
		assert.ErrorIs(t, err, ErrUnknownSyscall, tc.name)
		wrapped := fmt.Errorf("rule: %w", err)
		assert.True(t, errors.Is(wrapped, ErrNotOnArch) && errors.Is(wrapped, ErrUnknownSyscall))
	}
}

// TestReplacements checks the hint table: every entry names a syscall that
// some architecture lacks, and its replacement exists on each of those.
func TestReplacements(t *testing.T) {
	for name, repl := range replacements {
		var lacking int
		for _, a := range Arches() {
			if _, err := a.Number(name); err == nil {
				continue
			}
			lacking++
			_, err := a.Number(repl)
			assert.NoError(t, err, "%s -> %s on %s", name, repl, a)
		}
		assert.NotZero(t, lacking, "%s exists everywhere; drop it from replacements", name)
	}
}

func TestArchByName(t *testing.T) {
	for name, want := range map[string]*Arch{
		"x86_64": X86_64, "amd64": X86_64,
		"aarch64": AArch64, "arm64": AArch64,
		"riscv64": RISCV64,
	} {
		got, err := ArchByName(name)
		require.NoError(t, err, name)
		assert.Same(t, want, got, name)
	}
	for _, name := range []string{"", "x86", "i386", "arm", "X86_64", "mips64"} {
		a, err := ArchByName(name)
		assert.Nil(t, a)
		assert.ErrorIs(t, err, ErrUnknownArch, name)
		assert.NotErrorIs(t, err, ErrUnknownSyscall)
	}
	_, err := ArchByName("mips")
	assert.EqualError(t, err, `unknown architecture "mips" (want x86_64, aarch64 or riscv64)`)
}

func TestArchByAudit(t *testing.T) {
	for _, a := range Arches() {
		got, ok := ArchByAudit(a.AuditArch())
		assert.True(t, ok)
		assert.Same(t, a, got)
	}
	_, ok := ArchByAudit(unix.AUDIT_ARCH_I386)
	assert.False(t, ok)
	_, ok = ArchByAudit(0)
	assert.False(t, ok)
}

func TestArches(t *testing.T) {
	all := Arches()
	assert.Equal(t, []*Arch{X86_64, AArch64, RISCV64}, all)
	all[0] = nil
	assert.Same(t, X86_64, Arches()[0], "Arches returns a copy")
}

func TestNative(t *testing.T) {
	want := map[string]*Arch{"amd64": X86_64, "arm64": AArch64, "riscv64": RISCV64}[runtime.GOARCH]
	assert.Same(t, want, Native())
	if want == nil {
		t.Skipf("no table for GOARCH %s", runtime.GOARCH)
	}
	nr, err := Number("getppid")
	require.NoError(t, err)
	assert.Equal(t, unix.SYS_GETPPID, nr)
	assert.Equal(t, "getppid", Name(unix.SYS_GETPPID))
	assert.Equal(t, "syscall_100000", Name(100000))
	assert.Equal(t, "syscall_-1", Name(-1))
}

func TestNilArch(t *testing.T) {
	var a *Arch
	assert.Equal(t, "unknown", a.String())
	assert.Equal(t, "", a.GOARCH())
	assert.Zero(t, a.AuditArch())
	assert.Nil(t, a.Syscalls())
	assert.Equal(t, -1, a.MaxNumber())
	_, ok := a.Name(0)
	assert.False(t, ok)
	_, err := a.Number("read")
	assert.ErrorIs(t, err, ErrUnknownArch)
}
