package seccomp_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// allowedCost returns the largest and the mean number of instructions the
// program executes for a syscall of the table that the filter allows, and
// the largest for any allowed number (gaps in the table, numbers beyond it).
func allowedCost(t *testing.T, f *seccomp.Filter, p seccomp.Program) (maxSteps int, mean float64, maxAny int) {
	t.Helper()
	arch := f.Arch
	n, sum := 0, 0
	inTable := map[int]bool{}
	for _, s := range arch.Syscalls() {
		inTable[s.Number] = true
	}
	for nr := 0; nr <= arch.MaxNumber()+16; nr++ {
		d := seccomp.Data{Nr: int32(nr), Arch: arch.AuditArch()}
		if f.Decide(d) != seccomp.Allow {
			continue
		}
		ret, steps, err := p.EvaluateSteps(d)
		if err != nil || ret != seccomp.Allow.Ret() {
			t.Fatalf("nr %d: ret %#x, err %v", nr, ret, err)
		}
		maxAny = max(maxAny, steps)
		if inTable[nr] {
			maxSteps = max(maxSteps, steps)
			sum += steps
			n++
		}
	}
	return maxSteps, float64(sum) / float64(n), maxAny
}

// TestAllowedPathCost checks that the cost of a syscall no rule traps grows
// with the logarithm of the number of rules: with 300 rules, on syscalls
// spread over the whole table and alternating actions so that no two
// neighbours merge (the worst case), at most twice the cost with 1 rule.
func TestAllowedPathCost(t *testing.T) {
	for _, a := range allArches {
		getppid := nr(t, a, "getppid")
		one := &seccomp.Filter{Arch: a, Rules: []seccomp.Rule{{Syscall: getppid, Action: seccomp.Notify}}}
		max1, mean1, any1 := allowedCost(t, one, mustCompile(t, one))
		t.Logf("%-8v   1 rule:  %4d instructions, allowed syscall executes max %2d, mean %4.1f; any number max %2d",
			a, len(mustCompile(t, one)), max1, mean1, any1)
		for _, n := range []int{50, 300} {
			f := &seccomp.Filter{Arch: a, Rules: rulesOn(a, n)}
			p := mustCompile(t, f)
			maxN, meanN, anyN := allowedCost(t, f, p)
			t.Logf("%-8v %3d rules: %4d instructions, allowed syscall executes max %2d, mean %4.1f; any number max %2d (%.2fx the 1-rule max)",
				a, n, len(p), maxN, meanN, anyN, float64(maxN)/float64(max1))
			assert.LessOrEqual(t, maxN, 2*max1, "%v, %d rules", a, n)
		}
	}
}

// TestArgumentPathCost logs what conditions cost: a syscall with a few
// conditional rules among 300 rules.
func TestArgumentPathCost(t *testing.T) {
	a := syscalls.X86_64
	openat := nr(t, a, "openat")
	f := &seccomp.Filter{Arch: a, Rules: rulesOn(a, 300)}
	var rules []seccomp.Rule
	for _, r := range f.Rules {
		if r.Syscall != openat {
			rules = append(rules, r)
		}
	}
	f.Rules = append(rules,
		seccomp.Rule{Syscall: openat, Action: seccomp.Errno(1), Conds: []seccomp.Cond{seccomp.ArgEq(0, 5)}},
		seccomp.Rule{Syscall: openat, Action: seccomp.Notify, Conds: []seccomp.Cond{seccomp.ArgMaskedEq(2, 3, 1), seccomp.ArgGe(3, 1<<32)}},
	)
	p := mustCompile(t, f)
	for _, args := range [][6]uint64{{5}, {0, 0, 1, 1 << 32}, {0}} {
		d := seccomp.Data{Nr: int32(openat), Arch: a.AuditArch(), Args: args}
		ret, steps, err := p.EvaluateSteps(d)
		assert.NoError(t, err)
		assert.Equal(t, f.Decide(d).Ret(), ret)
		t.Logf("openat args %#x: %v after %d instructions", args[:4], f.Decide(d), steps)
	}
}
