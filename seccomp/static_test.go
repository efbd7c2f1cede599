package seccomp_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	elastic "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

const tiocstiPolicy = `
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

func nrOf(t testing.TB, name string) int32 {
	t.Helper()
	nr, err := syscalls.X86_64.Number(name)
	if err != nil {
		t.Fatal(err)
	}
	return int32(nr)
}

func compileStatic(t testing.TB, src string) (*elastic.Policy, seccomp.Program) {
	t.Helper()
	p, err := seccomp.ParseStaticPolicy([]byte(src), syscalls.X86_64)
	if err != nil {
		t.Fatalf("ParseStaticPolicy: %v", err)
	}
	prog, err := seccomp.CompileStatic(p, syscalls.X86_64)
	if err != nil {
		t.Fatalf("CompileStatic: %v", err)
	}
	return p, prog
}

func requireAmd64(t *testing.T) {
	t.Helper()
	if syscalls.Native() != syscalls.X86_64 {
		t.Skip("go-seccomp-bpf compiles for the running architecture; these tables are x86_64's")
	}
}

func evalRet(t testing.TB, prog seccomp.Program, d seccomp.Data) uint32 {
	t.Helper()
	ret, err := prog.Evaluate(d)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return ret
}

var eperm = seccomp.Errno(unix.EPERM).Ret()

// TestStaticArgumentWidth: a rule on ioctl's request (an unsigned int in
// the kernel) also matches the request with high bits set, which the
// kernel drops (CVE-2019-10063); a rule on a 64-bit argument does not.
func TestStaticArgumentWidth(t *testing.T) {
	requireAmd64(t)
	_, prog := compileStatic(t, tiocstiPolicy)
	audit := syscalls.X86_64.AuditArch()
	ioctl := nrOf(t, "ioctl")
	for _, tc := range []struct {
		req  uint64
		want uint32
	}{
		{unix.TIOCSTI, eperm},
		{1<<32 | unix.TIOCSTI, eperm},
		{0xffffffff00000000 | unix.TIOCSTI, eperm},
		{unix.TIOCGWINSZ, unix.SECCOMP_RET_ALLOW},
		{unix.TIOCSTI | 0x10000, unix.SECCOMP_RET_ALLOW},
		{unix.TIOCSTI &^ 2, unix.SECCOMP_RET_ALLOW},
	} {
		if got := evalRet(t, prog, seccomp.Data{Nr: ioctl, Arch: audit, Args: [6]uint64{0, tc.req}}); got != tc.want {
			t.Errorf("ioctl(0, %#x): got %#x, want %#x\n%s", tc.req, got, tc.want, prog.Disassemble())
		}
	}
	if got := evalRet(t, prog, seccomp.Data{Nr: nrOf(t, "getppid"), Arch: audit}); got != eperm {
		t.Errorf("getppid: got %#x, want EPERM", got)
	}

	// mmap's length is 64 bits: no narrowing.
	_, prog = compileStatic(t, `
default_action: allow
syscalls:
  - action: errno
    names_with_args:
      - name: mmap
        arguments: [{position: 1, operation: Equal, value: 4096}]
`)
	mmap := nrOf(t, "mmap")
	if got := evalRet(t, prog, seccomp.Data{Nr: mmap, Arch: audit, Args: [6]uint64{0, 4096}}); got != eperm {
		t.Errorf("mmap len 4096: got %#x, want EPERM", got)
	}
	if got := evalRet(t, prog, seccomp.Data{Nr: mmap, Arch: audit, Args: [6]uint64{0, 1<<32 | 4096}}); got != unix.SECCOMP_RET_ALLOW {
		t.Errorf("mmap len 2^32+4096: got %#x, want allow", got)
	}
}

// TestStaticNarrowedOperations compares the compiled program with the
// reference model on random arguments, for every operation the 32-bit
// rewrite handles, on a 32-bit argument and on a 64-bit one.
func TestStaticNarrowedOperations(t *testing.T) {
	requireAmd64(t)
	rng := rand.New(rand.NewPCG(15, 15))
	audit := syscalls.X86_64.AuditArch()
	for _, op := range []string{"Equal", "NotEqual", "BitsSet", "BitsNotSet"} {
		for _, v := range []string{"0", "0x5412", "0xffffffff", "-100", "1"} {
			src := `
default_action: allow
syscalls:
  - action: errno
    names_with_args:
      - name: fcntl
        arguments:
          - {position: 1, operation: ` + op + `, value: ` + v + `}
          - {position: 2, operation: NotEqual, value: 7}
  - action: kill_process
    names_with_args:
      - name: fcntl
        arguments: [{position: 2, operation: Equal, value: 7}]
`
			if op == "BitsSet" && v == "0" {
				continue // rejected: never holds
			}
			p, prog := compileStatic(t, src)
			for range 2000 {
				d := seccomp.Data{Nr: nrOf(t, "fcntl"), Arch: audit}
				for i := range d.Args {
					switch rng.IntN(4) {
					case 0:
						d.Args[i] = rng.Uint64()
					case 1:
						d.Args[i] = uint64(rng.Uint32())
					case 2:
						d.Args[i] = 0x5412 | uint64(rng.Uint32())<<32
					default:
						d.Args[i] = 7
					}
				}
				if got, want := evalRet(t, prog, d), seccomp.StaticDecide(p, syscalls.X86_64, d); got != want {
					t.Fatalf("%s %s, args %#x: got %#x, want %#x\n%s", op, v, d.Args, got, want, prog.Disassemble())
				}
			}
		}
	}
}

// TestStaticForeignArch: go-seccomp-bpf's program lets a call from another
// ABI through to its default action (allow, in a deny-list policy); stacked
// with a notification filter, which kills foreign ABIs, the kernel's most
// restrictive answer kills it. An x32 call gets ENOSYS from both.
func TestStaticForeignArch(t *testing.T) {
	requireAmd64(t)
	_, static := compileStatic(t, tiocstiPolicy)
	notify := mustCompile(t, &seccomp.Filter{Arch: syscalls.X86_64, Rules: []seccomp.Rule{{Syscall: int(nrOf(t, "execve")), Action: seccomp.Notify}}})
	i386 := seccomp.Data{Nr: 64, Arch: auditI386} // getppid on i386, ioctl (54) below
	if got := evalRet(t, static, i386); got != unix.SECCOMP_RET_ALLOW {
		t.Fatalf("static program alone on i386: got %#x; this test expects go-seccomp-bpf's default action (allow)", got)
	}
	for _, d := range []seccomp.Data{i386, {Nr: 54, Arch: auditI386, Args: [6]uint64{0, unix.TIOCSTI}}} {
		got := seccomp.MostRestrictive(evalRet(t, static, d), evalRet(t, notify, d))
		if got != unix.SECCOMP_RET_KILL_PROCESS {
			t.Errorf("i386 nr %d stacked: got %#x, want kill-process", d.Nr, got)
		}
	}
	x32 := seccomp.Data{Nr: int32(syscalls.X32SyscallBit) | nrOf(t, "getppid"), Arch: syscalls.X86_64.AuditArch()}
	enosys := seccomp.Errno(unix.ENOSYS).Ret()
	if got := seccomp.MostRestrictive(evalRet(t, static, x32), evalRet(t, notify, x32)); got != enosys {
		t.Errorf("x32 getppid stacked: got %#x, want ENOSYS", got)
	}
	if got := evalRet(t, static, x32); got != enosys {
		t.Errorf("x32 getppid, static alone: got %#x, want ENOSYS", got)
	}
}

// TestStaticParseErrors: every malformed policy is refused with a message
// naming the problem (and the line, when there is one).
func TestStaticParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"empty", "", "empty policy"},
		{"unknown syscall", "default_action: allow\nsyscalls:\n  - action: errno\n    names: [opne]\n", `line 4: unknown syscall "opne" on x86_64`},
		{"not on arch", "default_action: allow\nsyscalls:\n  - action: errno\n    names: [riscv_flush_icache]\n", `line 4: syscall "riscv_flush_icache" does not exist on x86_64`},
		{"unknown syscall with args", "default_action: allow\nsyscalls:\n  - action: errno\n    names_with_args:\n      - name: ioctll\n        arguments: [{position: 1, operation: Equal, value: 1}]\n", `line 5: unknown syscall "ioctll"`},
		{"no default", "syscalls:\n  - action: errno\n    names: [getppid]\n", "default_action missing"},
		{"bad default", "default_action: deny\nsyscalls:\n  - action: errno\n    names: [getppid]\n", `line 1: action "deny": want one of`},
		{"no syscalls", "default_action: allow\n", "syscalls missing or empty"},
		{"group without action", "default_action: allow\nsyscalls:\n  - names: [getppid]\n", "line 3: syscall group without action"},
		{"unknown top key", "default_action: allow\nsyscall:\n  - action: errno\n", `unknown key "syscall"`},
		{"unknown group key", "default_action: allow\nsyscalls:\n  - action: errno\n    name: [getppid]\n", `line 4: syscall group: unknown key "name"`},
		{"bad operation", "default_action: allow\nsyscalls:\n  - action: errno\n    names_with_args:\n      - name: ioctl\n        arguments: [{position: 1, operation: Equals, value: 1}]\n", `line 6: operation "Equals": want one of`},
		{"position range", "default_action: allow\nsyscalls:\n  - action: errno\n    names_with_args:\n      - name: ioctl\n        arguments: [{position: 6, operation: Equal, value: 1}]\n", "position 6 out of range 0..5"},
		{"no position", "default_action: allow\nsyscalls:\n  - action: errno\n    names_with_args:\n      - name: ioctl\n        arguments: [{operation: Equal, value: 1}]\n", "without position"},
		{"bad value", "default_action: allow\nsyscalls:\n  - action: errno\n    names_with_args:\n      - name: ioctl\n        arguments: [{position: 1, operation: Equal, value: TIOCSTI}]\n", `line 6: value "TIOCSTI": want a number`},
		{"duplicate", "default_action: allow\nsyscalls:\n  - action: errno\n    names: [getppid, getppid]\n", "line 4: getppid listed twice"},
		{"names not a list", "default_action: allow\nsyscalls:\n  - action: errno\n    names: getppid\n", "line 4: want a list, not `getppid`"},
		{"syscalls a mapping", "default_action: allow\nsyscalls:\n  getppid: 1\n", "line 3: want a list, not a mapping"},
		{"not yaml", "default_action: [allow\n", "did not find expected"},
		{"json unknown", `{"default_action": "allow", "syscalls": [{"action": "errno", "names": ["opne"]}]}`, `unknown syscall "opne"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := seccomp.ParseStaticPolicy([]byte(tc.src), syscalls.X86_64)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if !errors.Is(err, seccomp.ErrStaticPolicy) {
				t.Errorf("%v does not match ErrStaticPolicy", err)
			}
		})
	}
}

// TestStaticCompileErrors: conditions that cannot be compiled safely on a
// 32-bit argument are refused with the reason.
func TestStaticCompileErrors(t *testing.T) {
	requireAmd64(t)
	for _, tc := range []struct{ cond, want string }{
		{"{position: 1, operation: LessThan, value: 0x5412}", "LessThan on argument 1, which the kernel reads as 32 bits"},
		{"{position: 1, operation: Equal, value: 0x100005412}", "the value does not fit"},
		{"{position: 1, operation: BitsSet, value: 0x100000000}", "never holds"},
	} {
		p, err := seccomp.ParseStaticPolicy([]byte("default_action: allow\nsyscalls:\n  - action: errno\n    names_with_args:\n      - name: ioctl\n        arguments: ["+tc.cond+"]\n"), syscalls.X86_64)
		if err != nil {
			t.Fatal(err)
		}
		_, err = seccomp.CompileStatic(p, syscalls.X86_64)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, seccomp.ErrStaticPolicy) {
			t.Errorf("%s: got %v, want an ErrStaticPolicy containing %q", tc.cond, err, tc.want)
		}
	}
}

// TestStaticFormats: the Beats wrapper, "argument" for "position", JSON,
// aliases, and syscalls newer than go-seccomp-bpf's table.
func TestStaticFormats(t *testing.T) {
	requireAmd64(t)
	audit := syscalls.X86_64.AuditArch()
	for _, src := range []string{
		"seccomp:\n  default_action: allow\n  syscalls:\n    - action: errno\n      names_with_args:\n        - name: ioctl\n          arguments: [{argument: 1, operation: equal, value: 21522}]\n",
		`{"default_action": "allow", "syscalls": [{"action": "errno", "names_with_args": [{"name": "ioctl", "arguments": [{"position": 1, "operation": "Equal", "value": 21522}]}]}]}`,
	} {
		_, prog := compileStatic(t, src)
		if got := evalRet(t, prog, seccomp.Data{Nr: nrOf(t, "ioctl"), Arch: audit, Args: [6]uint64{0, 1<<32 | unix.TIOCSTI}}); got != eperm {
			t.Errorf("%s: got %#x, want EPERM", src, got)
		}
	}
	_, prog := compileStatic(t, "default_action: errno\nsyscalls:\n  - action: allow\n    names: [fstatat, listns, exit_group]\n")
	for name, want := range map[string]uint32{"newfstatat": unix.SECCOMP_RET_ALLOW, "listns": unix.SECCOMP_RET_ALLOW, "getppid": eperm} {
		if got := evalRet(t, prog, seccomp.Data{Nr: nrOf(t, name), Arch: audit}); got != want {
			t.Errorf("%s: got %#x, want %#x", name, got, want)
		}
	}
}

// TestStaticAlways tells the syscalls a policy decides whatever their
// arguments from those it decides by argument.
func TestStaticAlways(t *testing.T) {
	requireAmd64(t)
	p, _ := compileStatic(t, tiocstiPolicy)
	for name, want := range map[string]struct {
		ret    uint32
		always bool
	}{
		"getppid": {eperm, true},
		"ioctl":   {0, false},
		"read":    {unix.SECCOMP_RET_ALLOW, true},
	} {
		ret, always := seccomp.StaticAlways(p, syscalls.X86_64, int(nrOf(t, name)))
		if always != want.always || (always && ret != want.ret) {
			t.Errorf("%s: got %#x %v, want %#x %v", name, ret, always, want.ret, want.always)
		}
	}
}
