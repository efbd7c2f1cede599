package sandbox

import (
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

func TestMain(m *testing.M) {
	Init()
	os.Exit(m.Run())
}

func nr(t *testing.T, name string) int {
	n, err := syscalls.Native().Number(name)
	require.NoError(t, err)
	return n
}

func decide(t *testing.T, prog seccomp.Program, name string) uint32 {
	ret, err := prog.Evaluate(seccomp.Data{Nr: int32(nr(t, name)), Arch: syscalls.Native().AuditArch()})
	require.NoError(t, err)
	return ret
}

func TestBuildFilter(t *testing.T) {
	prog, err := buildFilter(syscalls.Native(), []int{nr(t, "getppid")}, &Policy{Deny: []string{"mkdirat"}})
	require.NoError(t, err)
	require.Equal(t, seccomp.Notify.Ret(), decide(t, prog, "getppid"))
	require.Equal(t, seccomp.Notify.Ret(), decide(t, prog, "execve"), "execve is always trapped: it marks the start of the command")
	require.Equal(t, seccomp.Errno(unix.EPERM).Ret(), decide(t, prog, "mkdirat"))
	require.Equal(t, seccomp.Errno(unix.EPERM).Ret(), decide(t, prog, "setsid"), "setsid is denied by default")
	require.Equal(t, seccomp.Allow.Ret(), decide(t, prog, "read"))

	prog, err = buildFilter(syscalls.Native(), nil, &Policy{AllowProcessGroups: true, Deny: []string{"mkdirat"}, DenyErrno: unix.EACCES})
	require.NoError(t, err)
	require.Equal(t, seccomp.Allow.Ret(), decide(t, prog, "setsid"))
	require.Equal(t, seccomp.Errno(unix.EACCES).Ret(), decide(t, prog, "mkdirat"))
}

func TestBuildFilterErrors(t *testing.T) {
	_, err := buildFilter(syscalls.Native(), []int{nr(t, "getppid")}, &Policy{Deny: []string{"getppid"}})
	require.ErrorIs(t, err, ErrHandlerOnDenied)
	_, err = buildFilter(syscalls.Native(), nil, &Policy{Deny: []string{"execve"}})
	require.ErrorContains(t, err, "execve cannot be denied")
	_, err = buildFilter(syscalls.Native(), nil, &Policy{Deny: []string{"opnat"}})
	require.ErrorIs(t, err, syscalls.ErrUnknownSyscall)
}

func TestDefaultDenyListKnownNames(t *testing.T) {
	list := DefaultDenyList()
	require.Contains(t, list, "ptrace")
	require.Contains(t, list, "io_uring_setup")
	_, err := buildFilter(syscalls.Native(), nil, &Policy{Deny: list})
	require.NoError(t, err)
}

func TestStartWithoutInit(t *testing.T) {
	initCalled = false
	defer func() { initCalled = true }()
	err := Command("/bin/true").Run()
	require.ErrorIs(t, err, ErrNoInit)
}

func TestStartErrors(t *testing.T) {
	err := Command("/nonexistent/program").Run()
	require.ErrorIs(t, err, os.ErrNotExist)
	err = Command("no-such-program-in-path").Run()
	require.Error(t, err)
	err = Command("/etc").Run()
	require.ErrorIs(t, err, os.ErrPermission)

	c := Command("/bin/true")
	require.NoError(t, c.Handle("getppid", handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() })))
	c.Policy.Deny = []string{"getppid"}
	require.ErrorIs(t, c.Run(), ErrHandlerOnDenied)

	c = Command("/bin/true")
	require.ErrorIs(t, c.Handle("opnat", handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() })), syscalls.ErrUnknownSyscall)

	c = Command("/bin/true")
	c.Policy.ReadOnlyPaths = []string{"/nonexistent"}
	require.True(t, errors.Is(c.Run(), os.ErrNotExist))
}

func TestHelperError(t *testing.T) {
	require.ErrorIs(t, helperError("127 exec /x: no such file"), os.ErrNotExist)
	require.ErrorIs(t, helperError("126 exec /x: permission denied"), os.ErrPermission)
	require.EqualError(t, helperError("125 landlock: boom"), "landlock: boom")
}

func TestRunTwice(t *testing.T) {
	c := Command("/bin/true")
	require.NoError(t, c.Run())
	require.ErrorIs(t, c.Start(), ErrStarted)
}
