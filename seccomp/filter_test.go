package seccomp_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

func nr(t testing.TB, arch *syscalls.Arch, name string) int {
	t.Helper()
	n, err := arch.Number(name)
	require.NoError(t, err)
	return n
}

func TestActions(t *testing.T) {
	tests := []struct {
		a    seccomp.Action
		ret  uint32
		name string
	}{
		{seccomp.Allow, unix.SECCOMP_RET_ALLOW, "allow"},
		{seccomp.Action{}, unix.SECCOMP_RET_ALLOW, "allow"},
		{seccomp.Notify, unix.SECCOMP_RET_USER_NOTIF, "notify"},
		{seccomp.KillProcess, unix.SECCOMP_RET_KILL_PROCESS, "kill-process"},
		{seccomp.KillThread, unix.SECCOMP_RET_KILL_THREAD, "kill-thread"},
		{seccomp.Log, unix.SECCOMP_RET_LOG, "log"},
		{seccomp.Trap, unix.SECCOMP_RET_TRAP, "trap"},
		{seccomp.Errno(unix.EPERM), unix.SECCOMP_RET_ERRNO | 1, "errno(EPERM)"},
		{seccomp.Errno(0), unix.SECCOMP_RET_ERRNO, "errno(0)"},
		{seccomp.Errno(4095), unix.SECCOMP_RET_ERRNO | 4095, "errno(4095)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.ret, tt.a.Ret(), tt.name)
		assert.Equal(t, tt.name, tt.a.String())
		back, ok := seccomp.ActionFromRet(tt.ret)
		assert.True(t, ok, tt.name)
		assert.Equal(t, tt.a, back, tt.name)
	}
	assert.Equal(t, seccomp.Allow, seccomp.Action{}, "the zero Action is Allow")
	assert.NotEqual(t, seccomp.Errno(1), seccomp.Errno(2))
	for _, ret := range []uint32{unix.SECCOMP_RET_TRACE, unix.SECCOMP_RET_ALLOW | 1, unix.SECCOMP_RET_ERRNO | 4096, 0x12340000} {
		_, ok := seccomp.ActionFromRet(ret)
		assert.False(t, ok, "%#x", ret)
	}
}

func TestCondString(t *testing.T) {
	assert.Equal(t, "arg0 == 0x1", seccomp.ArgEq(0, 1).String())
	assert.Equal(t, "arg5 != 0x100000000", seccomp.ArgNe(5, 1<<32).String())
	assert.Equal(t, "arg1 < 0x2", seccomp.ArgLt(1, 2).String())
	assert.Equal(t, "arg1 <= 0x2", seccomp.ArgLe(1, 2).String())
	assert.Equal(t, "arg1 > 0x2", seccomp.ArgGt(1, 2).String())
	assert.Equal(t, "arg1 >= 0x2", seccomp.ArgGe(1, 2).String())
	assert.Equal(t, "arg2 & 0x3 == 0x1", seccomp.ArgMaskedEq(2, 3, 1).String())
	r := seccomp.Rule{Syscall: 110, Action: seccomp.Notify, Conds: []seccomp.Cond{seccomp.ArgEq(0, 1), seccomp.ArgGt(1, 2)}}
	assert.Equal(t, "nr 110 if arg0 == 0x1 && arg1 > 0x2: notify", r.String())
}

// TestFixedDecisions checks hand-written expectations, independent of the
// reference model, and the model agrees on them.
func TestFixedDecisions(t *testing.T) {
	a := syscalls.X86_64
	getppid, getpid, openat := nr(t, a, "getppid"), nr(t, a, "getpid"), nr(t, a, "openat")
	f := &seccomp.Filter{
		Arch: a,
		Rules: []seccomp.Rule{
			{Syscall: getppid, Action: seccomp.Errno(unix.EPERM)},
			{Syscall: openat, Action: seccomp.Errno(unix.EACCES), Conds: []seccomp.Cond{seccomp.ArgEq(1, 5)}},
			{Syscall: openat, Action: seccomp.Notify, Conds: []seccomp.Cond{seccomp.ArgGe(1, 3)}},
			{Syscall: openat, Action: seccomp.Log},
		},
	}
	p := mustCompile(t, f)
	native := a.AuditArch()
	tests := []struct {
		name string
		d    seccomp.Data
		want seccomp.Action
	}{
		{"getppid", seccomp.Data{Nr: int32(getppid), Arch: native}, seccomp.Errno(unix.EPERM)},
		{"getpid", seccomp.Data{Nr: int32(getpid), Arch: native}, seccomp.Allow},
		{"i386 ABI", seccomp.Data{Nr: int32(getpid), Arch: auditI386}, seccomp.KillProcess},
		{"aarch64 ABI", seccomp.Data{Nr: int32(getppid), Arch: syscalls.AArch64.AuditArch()}, seccomp.KillProcess},
		{"x32 getppid", seccomp.Data{Nr: int32(getppid) | syscalls.X32SyscallBit, Arch: native}, seccomp.Errno(unix.ENOSYS)},
		{"x32 bit alone", seccomp.Data{Nr: syscalls.X32SyscallBit, Arch: native}, seccomp.Errno(unix.ENOSYS)},
		{"nr -1", seccomp.Data{Nr: -1, Arch: native}, seccomp.Errno(unix.ENOSYS)},
		{"beyond table", seccomp.Data{Nr: int32(a.MaxNumber() + 1), Arch: native}, seccomp.Allow},
		{"openat first rule", seccomp.Data{Nr: int32(openat), Arch: native, Args: [6]uint64{0, 5}}, seccomp.Errno(unix.EACCES)},
		{"openat hi word differs", seccomp.Data{Nr: int32(openat), Arch: native, Args: [6]uint64{0, 1<<32 | 5}}, seccomp.Notify},
		{"openat second rule", seccomp.Data{Nr: int32(openat), Arch: native, Args: [6]uint64{0, 4}}, seccomp.Notify},
		{"openat last rule", seccomp.Data{Nr: int32(openat), Arch: native, Args: [6]uint64{0, 2}}, seccomp.Log},
	}
	for _, tt := range tests {
		got, err := p.Evaluate(tt.d)
		require.NoError(t, err)
		assert.Equal(t, tt.want.Ret(), got, "%s\n%s", tt.name, p.Disassemble())
		assert.Equal(t, tt.want, f.Decide(tt.d), "model: %s", tt.name)
	}
}

// TestConds checks every condition type at the 32-bit word edges, on every
// argument slot, against fixed expectations and the model.
func TestConds(t *testing.T) {
	const (
		v5  = 0x0000000100000005
		hi1 = 1 << 32
		lo  = 0xffffffff
	)
	tests := []struct {
		c    func(i int) seccomp.Cond
		arg  uint64
		want bool
	}{
		{func(i int) seccomp.Cond { return seccomp.ArgEq(i, hi1) }, hi1, true},
		{func(i int) seccomp.Cond { return seccomp.ArgEq(i, hi1) }, 0, false},
		{func(i int) seccomp.Cond { return seccomp.ArgEq(i, hi1) }, 1, false},
		{func(i int) seccomp.Cond { return seccomp.ArgEq(i, hi1) }, hi1 + 1, false},
		{func(i int) seccomp.Cond { return seccomp.ArgEq(i, lo) }, lo, true},
		{func(i int) seccomp.Cond { return seccomp.ArgEq(i, lo) }, lo | hi1, false},
		{func(i int) seccomp.Cond { return seccomp.ArgEq(i, 0) }, hi1, false},
		{func(i int) seccomp.Cond { return seccomp.ArgNe(i, hi1) }, hi1, false},
		{func(i int) seccomp.Cond { return seccomp.ArgNe(i, hi1) }, 0, true},
		{func(i int) seccomp.Cond { return seccomp.ArgNe(i, hi1) }, hi1 + 1, true},
		{func(i int) seccomp.Cond { return seccomp.ArgNe(i, lo) }, lo | hi1, true},
		{func(i int) seccomp.Cond { return seccomp.ArgLt(i, hi1) }, lo, true},
		{func(i int) seccomp.Cond { return seccomp.ArgLt(i, hi1) }, hi1, false},
		{func(i int) seccomp.Cond { return seccomp.ArgLt(i, hi1) }, hi1 + 1, false},
		{func(i int) seccomp.Cond { return seccomp.ArgLt(i, v5) }, v5 - 1, true},
		{func(i int) seccomp.Cond { return seccomp.ArgLt(i, v5) }, v5, false},
		{func(i int) seccomp.Cond { return seccomp.ArgLt(i, v5) }, 6, true},        // lo above, hi below
		{func(i int) seccomp.Cond { return seccomp.ArgLt(i, v5) }, 2 << 32, false}, // lo below, hi above
		{func(i int) seccomp.Cond { return seccomp.ArgLe(i, v5) }, v5, true},
		{func(i int) seccomp.Cond { return seccomp.ArgLe(i, v5) }, v5 + 1, false},
		{func(i int) seccomp.Cond { return seccomp.ArgLe(i, v5) }, 2 << 32, false},
		{func(i int) seccomp.Cond { return seccomp.ArgLe(i, lo) }, lo, true},
		{func(i int) seccomp.Cond { return seccomp.ArgLe(i, lo) }, hi1, false},
		{func(i int) seccomp.Cond { return seccomp.ArgGt(i, lo) }, hi1, true},
		{func(i int) seccomp.Cond { return seccomp.ArgGt(i, lo) }, lo, false},
		{func(i int) seccomp.Cond { return seccomp.ArgGt(i, v5) }, v5 + 1, true},
		{func(i int) seccomp.Cond { return seccomp.ArgGt(i, v5) }, v5, false},
		{func(i int) seccomp.Cond { return seccomp.ArgGt(i, v5) }, 6, false},      // lo above, hi below
		{func(i int) seccomp.Cond { return seccomp.ArgGt(i, v5) }, 2 << 32, true}, // lo below, hi above
		{func(i int) seccomp.Cond { return seccomp.ArgGe(i, hi1) }, hi1, true},
		{func(i int) seccomp.Cond { return seccomp.ArgGe(i, hi1) }, lo, false},
		{func(i int) seccomp.Cond { return seccomp.ArgGe(i, v5) }, 5, false},
		{func(i int) seccomp.Cond { return seccomp.ArgGe(i, v5) }, 2<<32 | 4, true},
		{func(i int) seccomp.Cond { return seccomp.ArgMaskedEq(i, 3, 1) }, 5, true},
		{func(i int) seccomp.Cond { return seccomp.ArgMaskedEq(i, 3, 1) }, hi1 | 1, true},
		{func(i int) seccomp.Cond { return seccomp.ArgMaskedEq(i, 3, 1) }, 2, false},
		{func(i int) seccomp.Cond { return seccomp.ArgMaskedEq(i, 0xff000000ff, 0x1200000034) }, 0x12abcdef34, true},
		{func(i int) seccomp.Cond { return seccomp.ArgMaskedEq(i, 0xff000000ff, 0x1200000034) }, 0x13abcdef34, false},
		{func(i int) seccomp.Cond { return seccomp.ArgMaskedEq(i, 0xff000000ff, 0x1200000034) }, 0x12abcdef35, false},
		{func(i int) seccomp.Cond { return seccomp.ArgMaskedEq(i, 0xffffffff00000000, hi1) }, hi1 | 0xdeadbeef, true},
		{func(i int) seccomp.Cond { return seccomp.ArgMaskedEq(i, 0xffffffff00000000, hi1) }, 2 << 32, false},
		{func(i int) seccomp.Cond { return seccomp.ArgMaskedEq(i, 0xffffffff, 7) }, 0xffffffff00000007, true},
		// Conditions that always or never hold.
		{func(i int) seccomp.Cond { return seccomp.ArgGe(i, 0) }, 0, true},
		{func(i int) seccomp.Cond { return seccomp.ArgLe(i, ^uint64(0)) }, ^uint64(0), true},
		{func(i int) seccomp.Cond { return seccomp.ArgLt(i, 0) }, 0, false},
		{func(i int) seccomp.Cond { return seccomp.ArgGt(i, ^uint64(0)) }, ^uint64(0), false},
		{func(i int) seccomp.Cond { return seccomp.ArgMaskedEq(i, 0, 0) }, 1234, true},
		{func(i int) seccomp.Cond { return seccomp.ArgMaskedEq(i, 1, 2) }, 2, false},
	}
	a := syscalls.X86_64
	getppid := nr(t, a, "getppid")
	for _, tt := range tests {
		for i := range 6 {
			c := tt.c(i)
			f := &seccomp.Filter{Arch: a, Rules: []seccomp.Rule{
				{Syscall: getppid, Action: seccomp.Errno(unix.EPERM), Conds: []seccomp.Cond{c}},
			}}
			p := mustCompile(t, f)
			d := seccomp.Data{Nr: int32(getppid), Arch: a.AuditArch()}
			d.Args[i] = tt.arg
			for j := range d.Args {
				if j != i {
					d.Args[j] = ^tt.arg // other arguments must not matter
				}
			}
			want := seccomp.Allow
			if tt.want {
				want = seccomp.Errno(unix.EPERM)
			}
			got, err := p.Evaluate(d)
			require.NoError(t, err)
			require.Equal(t, want.Ret(), got, "%v with arg%d = %#x\n%s", c, i, tt.arg, p.Disassemble())
			require.Equal(t, want, f.Decide(d), "model: %v with arg%d = %#x", c, i, tt.arg)
			check(t, f, p, inputs(f, rand.New(rand.NewPCG(1, uint64(i)))))
		}
	}
}

// TestSeveralRulesPerSyscall: first matching rule wins, in order; no match
// falls to the default.
func TestSeveralRulesPerSyscall(t *testing.T) {
	for _, a := range allArches {
		t.Run(a.String(), func(t *testing.T) {
			ioctl := nr(t, a, "ioctl")
			f := &seccomp.Filter{
				Arch:    a,
				Default: seccomp.Errno(unix.EPERM),
				Rules: []seccomp.Rule{
					{Syscall: ioctl, Action: seccomp.Notify, Conds: []seccomp.Cond{seccomp.ArgEq(1, unix.TIOCSTI)}},
					{Syscall: ioctl, Action: seccomp.Allow, Conds: []seccomp.Cond{seccomp.ArgLt(0, 3), seccomp.ArgMaskedEq(1, 0xffffffff, unix.TCGETS)}},
					{Syscall: ioctl, Action: seccomp.Errno(unix.ENOTTY), Conds: []seccomp.Cond{seccomp.ArgGe(0, 1000)}},
					{Syscall: ioctl, Action: seccomp.Log, Conds: []seccomp.Cond{seccomp.ArgGe(0, 1000), seccomp.ArgEq(2, 0)}}, // shadowed by the previous rule
				},
			}
			_, err := f.Compile()
			require.ErrorIs(t, err, seccomp.ErrConflictingRules)
			f.Rules = f.Rules[:3]
			p := mustCompile(t, f)
			d := seccomp.Data{Nr: int32(ioctl), Arch: a.AuditArch()}
			for _, tc := range []struct {
				args [6]uint64
				want seccomp.Action
			}{
				{[6]uint64{1, unix.TIOCSTI}, seccomp.Notify},
				{[6]uint64{2000, unix.TIOCSTI}, seccomp.Notify},
				{[6]uint64{1, unix.TCGETS}, seccomp.Allow},
				{[6]uint64{1, 1<<32 | unix.TCGETS}, seccomp.Allow},
				{[6]uint64{3, unix.TCGETS}, seccomp.Errno(unix.EPERM)},
				{[6]uint64{2000, unix.TCGETS}, seccomp.Errno(unix.ENOTTY)},
				{[6]uint64{1 << 32, 0}, seccomp.Errno(unix.ENOTTY)},
				{[6]uint64{999, 0}, seccomp.Errno(unix.EPERM)},
			} {
				d.Args = tc.args
				got, err := p.Evaluate(d)
				require.NoError(t, err)
				assert.Equal(t, tc.want.Ret(), got, "args %#x\n%s", tc.args, p.Disassemble())
			}
			check(t, f, p, inputs(f, rand.New(rand.NewPCG(2, 2))))
		})
	}
}

func TestCompileErrors(t *testing.T) {
	a := syscalls.X86_64
	getppid := nr(t, a, "getppid")
	rule := func(action seccomp.Action, conds ...seccomp.Cond) seccomp.Rule {
		return seccomp.Rule{Syscall: getppid, Action: action, Conds: conds}
	}
	tests := []struct {
		name  string
		rules []seccomp.Rule
		def   seccomp.Action
		err   error
	}{
		{"negative syscall", []seccomp.Rule{{Syscall: -1}}, seccomp.Allow, seccomp.ErrInvalidRule},
		{"syscall beyond table", []seccomp.Rule{{Syscall: a.MaxNumber() + 1}}, seccomp.Allow, seccomp.ErrInvalidRule},
		{"x32 number", []seccomp.Rule{{Syscall: syscalls.X32SyscallBit | getppid}}, seccomp.Allow, seccomp.ErrInvalidRule},
		{"arg index 6", []seccomp.Rule{rule(seccomp.Notify, seccomp.ArgEq(6, 0))}, seccomp.Allow, seccomp.ErrInvalidRule},
		{"arg index -1", []seccomp.Rule{rule(seccomp.Notify, seccomp.ArgEq(-1, 0))}, seccomp.Allow, seccomp.ErrInvalidRule},
		{"zero Cond", []seccomp.Rule{rule(seccomp.Notify, seccomp.Cond{})}, seccomp.Allow, seccomp.ErrInvalidRule},
		{"errno too big", []seccomp.Rule{rule(seccomp.Errno(4096))}, seccomp.Allow, seccomp.ErrInvalidRule},
		{"default errno too big", nil, seccomp.Errno(70000), seccomp.ErrInvalidRule},
		{"unconditional then other action", []seccomp.Rule{rule(seccomp.Notify), rule(seccomp.Allow, seccomp.ArgEq(0, 1))}, seccomp.Allow, seccomp.ErrConflictingRules},
		{"same conditions, other action", []seccomp.Rule{rule(seccomp.Notify, seccomp.ArgEq(0, 1)), rule(seccomp.Log, seccomp.ArgEq(0, 1))}, seccomp.Allow, seccomp.ErrConflictingRules},
		{"subset of conditions first", []seccomp.Rule{rule(seccomp.Notify, seccomp.ArgEq(0, 1)), rule(seccomp.Log, seccomp.ArgEq(2, 3), seccomp.ArgEq(0, 1))}, seccomp.Allow, seccomp.ErrConflictingRules},
		{"duplicate", []seccomp.Rule{rule(seccomp.Notify), rule(seccomp.Notify)}, seccomp.Allow, nil},
		{"superset first", []seccomp.Rule{rule(seccomp.Notify, seccomp.ArgEq(0, 1), seccomp.ArgEq(2, 3)), rule(seccomp.Log, seccomp.ArgEq(0, 1))}, seccomp.Allow, nil},
		{"zero rules", nil, seccomp.Allow, nil},
		{"max syscall", []seccomp.Rule{{Syscall: a.MaxNumber(), Action: seccomp.Notify}, {Syscall: 0, Action: seccomp.Notify}}, seccomp.Allow, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &seccomp.Filter{Arch: a, Default: tt.def, Rules: tt.rules}
			p, err := f.Compile()
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				t.Log(err)
				return
			}
			require.NoError(t, err)
			check(t, f, p, inputs(f, rand.New(rand.NewPCG(3, 3))))
		})
	}
}

func TestProgramTooLong(t *testing.T) {
	a := syscalls.X86_64
	getppid := nr(t, a, "getppid")
	f := &seccomp.Filter{Arch: a}
	for i := range 1000 {
		f.Rules = append(f.Rules, seccomp.Rule{Syscall: getppid, Action: seccomp.Errno(unix.Errno(1 + i%2)),
			Conds: []seccomp.Cond{seccomp.ArgEq(0, uint64(i))}})
	}
	_, err := f.Compile()
	require.ErrorIs(t, err, seccomp.ErrProgramTooLong)
	assert.Regexp(t, `program too long: \d+ instructions, the kernel accepts at most 4096`, err.Error())
	t.Log(err)

	// Just under the limit still compiles, and far jumps work.
	f.Rules = f.Rules[:800]
	p := mustCompile(t, f)
	t.Logf("800 conditional rules on one syscall: %d instructions", len(p))
	assert.LessOrEqual(t, len(p), seccomp.MaxInstructions)
	check(t, f, p, inputs(f, rand.New(rand.NewPCG(4, 4))))
}

func TestRuleByName(t *testing.T) {
	r, err := seccomp.RuleByName(syscalls.AArch64, "openat", seccomp.Notify, seccomp.ArgEq(0, 1))
	require.NoError(t, err)
	assert.Equal(t, nr(t, syscalls.AArch64, "openat"), r.Syscall)
	assert.Equal(t, seccomp.Notify, r.Action)
	assert.Len(t, r.Conds, 1)

	_, err = seccomp.RuleByName(syscalls.AArch64, "open", seccomp.Notify)
	require.ErrorIs(t, err, syscalls.ErrUnknownSyscall)
	assert.Contains(t, err.Error(), `"open"`)

	r, err = seccomp.RuleByName(nil, "getppid", seccomp.Allow)
	require.NoError(t, err)
	want, err := syscalls.Number("getppid")
	require.NoError(t, err)
	assert.Equal(t, want, r.Syscall)
}

func TestNativeArchDefault(t *testing.T) {
	getppid, err := syscalls.Number("getppid")
	require.NoError(t, err)
	f := &seccomp.Filter{Rules: []seccomp.Rule{{Syscall: getppid, Action: seccomp.Notify}}}
	p := mustCompile(t, f)
	got, err := p.Evaluate(seccomp.Data{Nr: int32(getppid), Arch: syscalls.Native().AuditArch()})
	require.NoError(t, err)
	assert.Equal(t, seccomp.Notify.Ret(), got)
}

// rulesOn returns n unconditional rules on distinct syscalls of arch,
// spread over its table, with alternating actions so that no two
// neighbours merge: the worst case for the search.
func rulesOn(arch *syscalls.Arch, n int) []seccomp.Rule {
	all := arch.Syscalls()
	var rules []seccomp.Rule
	seen := map[int]bool{}
	for i := 0; len(rules) < n && i < len(all)*n; i++ {
		s := all[(i*len(all)/n+i/n)%len(all)]
		if seen[s.Number] {
			continue
		}
		seen[s.Number] = true
		action := seccomp.Notify
		if len(rules)%2 == 1 {
			action = seccomp.Errno(unix.EPERM)
		}
		rules = append(rules, seccomp.Rule{Syscall: s.Number, Action: action})
	}
	return rules
}

func TestManyRules(t *testing.T) {
	for _, a := range allArches {
		for _, n := range []int{1, 50, 300} {
			rules := rulesOn(a, n)
			require.Len(t, rules, n)
			f := &seccomp.Filter{Arch: a, Rules: rules}
			p := mustCompile(t, f)
			t.Logf("%v, %d rules: %d instructions", a, n, len(p))
			var ds []seccomp.Data
			for nr := -2; nr <= a.MaxNumber()+64; nr++ {
				ds = append(ds, seccomp.Data{Nr: int32(nr), Arch: a.AuditArch()})
				ds = append(ds, seccomp.Data{Nr: int32(nr) | syscalls.X32SyscallBit, Arch: a.AuditArch()})
			}
			check(t, f, p, ds)
			// And with the default flipped, so every rule matters.
			f.Default = seccomp.KillProcess
			check(t, f, mustCompile(t, f), ds)
		}
	}
}

func TestMarshal(t *testing.T) {
	f := &seccomp.Filter{Arch: syscalls.X86_64, Rules: rulesOn(syscalls.X86_64, 20)}
	f.Rules = append(f.Rules, seccomp.Rule{Syscall: nr(t, syscalls.X86_64, "getppid"), Action: seccomp.Log,
		Conds: []seccomp.Cond{seccomp.ArgMaskedEq(0, 0xf0, 0x10)}})
	p := mustCompile(t, f)
	b := p.Marshal()
	require.Len(t, b, 8*len(p))
	q, err := seccomp.UnmarshalProgram(b)
	require.NoError(t, err)
	assert.Equal(t, p, q)

	for _, bad := range [][]byte{nil, b[:len(b)-1], b[:8], {0xff, 0xff, 0, 0, 0, 0, 0, 0}} {
		_, err := seccomp.UnmarshalProgram(bad)
		assert.ErrorIs(t, err, seccomp.ErrInvalidProgram, "%x", bad)
	}
}

func TestValidate(t *testing.T) {
	ret := unix.SockFilter{Code: 0x06, K: unix.SECCOMP_RET_ALLOW}
	tests := []struct {
		name string
		p    seccomp.Program
		ok   bool
	}{
		{"ret", seccomp.Program{ret}, true},
		{"empty", nil, false},
		{"no ret at end", seccomp.Program{{Code: 0x20, K: 0}}, false},
		{"load beyond seccomp_data", seccomp.Program{{Code: 0x20, K: 64}, ret}, false},
		{"unaligned load", seccomp.Program{{Code: 0x20, K: 2}, ret}, false},
		{"byte load", seccomp.Program{{Code: 0x30, K: 0}, ret}, false},
		{"jump out", seccomp.Program{{Code: 0x15, Jt: 1}, ret}, false},
		{"ja out", seccomp.Program{{Code: 0x05, K: 1}, ret}, false},
		{"div by zero", seccomp.Program{{Code: 0x34, K: 0}, ret}, false},
		{"too long", make(seccomp.Program, 4097), false},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if tt.ok {
			assert.NoError(t, err, tt.name)
		} else {
			assert.ErrorIs(t, err, seccomp.ErrInvalidProgram, tt.name)
		}
	}
}

func TestDisassemble(t *testing.T) {
	f := &seccomp.Filter{Arch: syscalls.X86_64, Rules: []seccomp.Rule{
		{Syscall: 39, Action: seccomp.Errno(unix.EPERM), Conds: []seccomp.Cond{seccomp.ArgMaskedEq(1, 0xff, 2)}},
	}}
	s := mustCompile(t, f).Disassemble()
	t.Log("\n" + s)
	for _, want := range []string{"ld [4] ; arch", "jeq #0xc000003e", "ret #0x80000000 ; kill-process", "ld [0] ; nr",
		"jge #0x28", "ld [24] ; arg1.lo", "and #255", "ret #0x50001 ; errno(EPERM)", "ret #0x50026 ; errno(ENOSYS)"} {
		assert.Contains(t, s, want)
	}
	assert.Equal(t, len(mustCompile(t, f)), strings.Count(s, "\n"))
}

func TestErrorsWrap(t *testing.T) {
	_, err := (&seccomp.Filter{Arch: syscalls.X86_64, Rules: []seccomp.Rule{{Syscall: 100000}}}).Compile()
	assert.True(t, errors.Is(err, seccomp.ErrInvalidRule))
	assert.Contains(t, err.Error(), "100000")
}
