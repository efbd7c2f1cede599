package handler_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// The numeric values of the exception policies are part of the API (they
// mirror the reference system's ABI: KILL=0, DENY_EPERM=1, CONTINUE=2,
// DENY_EIO=3) and must not change.
func TestExceptionPolicyStableValues(t *testing.T) {
	for _, tc := range []struct {
		value  int
		name   string
		policy handler.ExceptionPolicy
	}{
		{0, "kill", handler.ExceptionKill},
		{1, "eperm", handler.ExceptionDenyEPERM},
		{2, "continue", handler.ExceptionContinue},
		{3, "eio", handler.ExceptionDenyEIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The number, converted to a policy, prints as the name...
			byValue := handler.ExceptionPolicy(tc.value)
			assert.Equal(t, tc.name, fmt.Sprint(byValue))
			// ...the name parses back to the same number...
			parsed, err := handler.ParseExceptionPolicy(fmt.Sprint(handler.ExceptionPolicy(tc.value)))
			require.NoError(t, err)
			assert.Equal(t, tc.value, int(parsed))
			// ...and the named constant has that number.
			assert.Equal(t, tc.value, int(tc.policy))
			assert.Equal(t, tc.name, tc.policy.String())
		})
	}
}

func TestParseExceptionPolicy(t *testing.T) {
	for _, p := range []handler.ExceptionPolicy{handler.ExceptionKill, handler.ExceptionDenyEPERM, handler.ExceptionContinue, handler.ExceptionDenyEIO} {
		got, err := handler.ParseExceptionPolicy(p.String())
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	for _, bad := range []string{"", "KILL", "Kill", " kill", "deny", "0", "3", "eperm ", "ExceptionKill"} {
		_, err := handler.ParseExceptionPolicy(bad)
		assert.Error(t, err, "%q", bad)
	}
	_, err := handler.ParseExceptionPolicy("nope")
	assert.EqualError(t, err, `unknown exception policy "nope" (want kill, eperm, continue or eio)`)
	assert.Equal(t, "ExceptionPolicy(4)", handler.ExceptionPolicy(4).String())
	assert.Equal(t, "ExceptionPolicy(-1)", handler.ExceptionPolicy(-1).String())
	var zero handler.ExceptionPolicy
	assert.Equal(t, handler.ExceptionKill, zero, "the zero policy is the fail-closed one")
}

func TestActionConstructors(t *testing.T) {
	for _, tc := range []struct {
		a     handler.Action
		kind  handler.ActionKind
		str   string
		errno unix.Errno
		value int64
		valid bool
	}{
		{handler.Continue(), handler.KindContinue, "continue", 0, 0, true},
		{handler.Errno(unix.EPERM), handler.KindErrno, "errno:EPERM", unix.EPERM, 1, true},
		{handler.Errno(unix.ENOENT), handler.KindErrno, "errno:ENOENT", unix.ENOENT, 2, true},
		{handler.Errno(4095), handler.KindErrno, "errno:4095", 4095, 4095, true},
		{handler.Errno(0), handler.KindErrno, "errno:0", 0, 0, false},
		{handler.Errno(4096), handler.KindErrno, "errno:4096", 4096, 4096, false},
		{handler.ReturnValue(777), handler.KindReturnValue, "return:777", 0, 777, true},
		{handler.ReturnValue(-1), handler.KindReturnValue, "return:-1", 0, -1, true},
		{handler.Kill(), handler.KindKill, "kill", 0, 0, true},
		{handler.InjectFD(5, 0), handler.KindInjectFD, "inject-fd:5", 0, 5, true},
		{handler.InjectFD(5, unix.O_CLOEXEC), handler.KindInjectFD, "inject-fd:5", 0, 5, true},
		{handler.InjectFD(-1, 0), handler.KindInjectFD, "inject-fd:-1", 0, -1, false},
		{handler.InjectFD(1<<31, 0), handler.KindInjectFD, "inject-fd:2147483648", 0, 1 << 31, false},
		{handler.InjectFD(5, unix.O_NONBLOCK), handler.KindInjectFD, "inject-fd:5", 0, 5, false},
		{handler.Hold(), handler.KindHold, "hold", 0, 0, true},
		{handler.Action{}, 0, "invalid", 0, 0, false},
	} {
		t.Run(tc.str, func(t *testing.T) {
			assert.Equal(t, tc.kind, tc.a.Kind())
			assert.Equal(t, tc.str, tc.a.String())
			assert.Equal(t, tc.errno, tc.a.Errno())
			assert.Equal(t, tc.value, tc.a.Value())
			if tc.valid {
				assert.NoError(t, tc.a.Valid())
			} else {
				assert.Error(t, tc.a.Valid())
			}
		})
	}
	assert.Equal(t, "ActionKind(9)", handler.ActionKind(9).String())
}

func TestTableRegister(t *testing.T) {
	tab := handler.NewTable(nil)
	assert.Equal(t, syscalls.Native(), tab.Arch())
	h := handler.Func(func(*handler.Ctx) handler.Action { return handler.Continue() })

	require.NoError(t, tab.RegisterName("openat", h))
	require.NoError(t, tab.RegisterName("getpid", h))
	require.NoError(t, tab.Register(int(nr(t, "openat")), h))
	want := []int{int(nr(t, "openat")), int(nr(t, "getpid"))}
	slices.Sort(want)
	assert.Equal(t, want, tab.Syscalls())

	err := tab.RegisterName("no_such_syscall", h)
	assert.ErrorIs(t, err, handler.ErrUnknownSyscall)
	err = tab.Register(syscalls.Native().MaxNumber()+1000, h)
	assert.ErrorIs(t, err, handler.ErrUnknownSyscall)
	assert.Error(t, tab.Register(-1, h))
	assert.Error(t, tab.RegisterName("openat", nil))
	assert.Equal(t, want, tab.Syscalls(), "failed registrations change nothing")

	// A table for another architecture uses its numbers.
	other := handler.NewTable(syscalls.AArch64)
	require.NoError(t, other.RegisterName("openat", h))
	armOpenat, err := syscalls.AArch64.Number("openat")
	require.NoError(t, err)
	assert.Equal(t, []int{armOpenat}, other.Syscalls())
	assert.ErrorIs(t, other.RegisterName("open", h), handler.ErrUnknownSyscall)
}
