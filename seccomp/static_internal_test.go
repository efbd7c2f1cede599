package seccomp

import (
	"strings"
	"testing"

	elastic "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// TestVerifyStaticCatchesMiscompilation: go-seccomp-bpf v1.6.0 compiling a
// whole policy in which a group follows one with argument conditions
// compares an argument word with the next syscall number; verifyStatic,
// which CompileStatic runs on every program, must refuse that program
// (CompileStatic avoids the bug by compiling piece by piece).
func TestVerifyStaticCatchesMiscompilation(t *testing.T) {
	if syscalls.Native() != syscalls.X86_64 {
		t.Skip("x86_64 policy")
	}
	p := &elastic.Policy{
		DefaultAction: elastic.ActionAllow,
		Syscalls: []elastic.SyscallGroup{
			{Action: elastic.ActionErrno, NamesWithCondtions: []elastic.NameWithConditions{
				{Name: "getppid", Conditions: elastic.ArgumentConditions{{Argument: 0, Operation: elastic.Equal, Value: 1}}},
			}},
			{Action: elastic.ActionKillProcess, Names: []string{"getppid"}},
		},
	}
	insns, err := p.Assemble()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		t.Fatal(err)
	}
	whole := make(Program, len(raw))
	for i, r := range raw {
		whole[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if err := verifyStatic(whole, p, syscalls.X86_64); err == nil || !strings.Contains(err.Error(), "the policy says") {
		t.Fatalf("verifyStatic accepted go-seccomp-bpf's whole-policy program: %v\n%s", err, whole.Disassemble())
	}
	if _, err := CompileStatic(p, syscalls.X86_64); err != nil {
		t.Fatalf("CompileStatic: %v", err)
	}
}
