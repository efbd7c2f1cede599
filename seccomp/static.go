package seccomp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	elastic "github.com/elastic/go-seccomp-bpf"
	elasticarch "github.com/elastic/go-seccomp-bpf/arch"
	"go.yaml.in/yaml/v3"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// This file reads and compiles static policies: allow and deny lists with
// argument conditions in the format of elastic/go-seccomp-bpf (the one
// Beats users write), installed as a filter of their own next to the
// notification filter. The notification filter is compiled by Filter
// (asm.go says why not by go-seccomp-bpf); a static policy is what
// go-seccomp-bpf is made for, and it compiles it, with three additions:
//
//   - names are checked against our tables, with our error messages;
//   - a condition on an argument the kernel reads as 32 bits is rewritten
//     into masked tests of the low 32 bits (see argWidth32), since
//     go-seccomp-bpf compares all 64 and a value with high bits set would
//     slip past a rule on the low ones (the TIOCSTI bypass, CVE-2019-10063);
//   - the compiled program is run in our interpreter against a reference
//     model of the policy before it is accepted.

// ErrStaticPolicy matches every error of ParseStaticPolicy and
// CompileStatic about the policy itself (as opposed to an unsupported
// architecture or a bug).
var ErrStaticPolicy = errors.New("seccomp policy")

// staticError is a problem in a static policy, at a line of its file when
// known.
type staticError struct {
	line int
	msg  string
}

func (e *staticError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d: %s", e.line, e.msg)
	}
	return e.msg
}

func (e *staticError) Is(target error) bool { return target == ErrStaticPolicy }

func staticErrorf(line int, format string, args ...any) error {
	return &staticError{line: line, msg: escapeControl(fmt.Sprintf(format, args...))}
}

// escapeControl escapes the control characters of s (Go syntax: \n,
// \x1b), which a message quoting the policy's own text may hold: an error
// is one line and cannot drive a terminal.
func escapeControl(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// The file format, decoded strictly: every key must be known.
type (
	staticFile struct {
		Seccomp   *staticDoc `yaml:"seccomp"` // Beats' wrapper, optional
		staticDoc `yaml:",inline"`
	}
	staticDoc struct {
		DefaultAction *staticAction  `yaml:"default_action"`
		Syscalls      []*staticGroup `yaml:"syscalls"`
	}
	staticGroup struct {
		Action        *staticAction  `yaml:"action"`
		Names         []staticName   `yaml:"names"`
		NamesWithArgs []*staticNamed `yaml:"names_with_args"`
		line          int
	}
	staticNamed struct {
		Name      *staticName  `yaml:"name"`
		Arguments []*staticArg `yaml:"arguments"`
		line      int
	}
	staticArg struct {
		Position  *staticNumber `yaml:"position"`
		Argument  *staticNumber `yaml:"argument"` // Beats' config spelling
		Operation *staticOp     `yaml:"operation"`
		Value     *staticNumber `yaml:"value"`
		line      int
	}
	staticAction struct {
		a    elastic.Action
		line int
	}
	staticOp struct {
		op   elastic.Operation
		line int
	}
	staticName struct {
		name string
		line int
	}
	staticNumber struct {
		v    uint64
		line int
	}
)

// The decoder's KnownFields does not reach values with their own
// UnmarshalYAML (they decode through yaml.Node), so those check their keys.

func (g *staticGroup) UnmarshalYAML(n *yaml.Node) error {
	type plain staticGroup
	g.line = n.Line
	if err := checkKeys(n, "syscall group", "action", "names", "names_with_args"); err != nil {
		return err
	}
	return n.Decode((*plain)(g))
}

func (s *staticNamed) UnmarshalYAML(n *yaml.Node) error {
	type plain staticNamed
	s.line = n.Line
	if err := checkKeys(n, "names_with_args entry", "name", "arguments"); err != nil {
		return err
	}
	return n.Decode((*plain)(s))
}

func (a *staticArg) UnmarshalYAML(n *yaml.Node) error {
	type plain staticArg
	a.line = n.Line
	if err := checkKeys(n, "argument condition", "position", "argument", "operation", "value"); err != nil {
		return err
	}
	return n.Decode((*plain)(a))
}

// checkKeys checks that n is a mapping with only the given keys.
func checkKeys(n *yaml.Node, what string, keys ...string) error {
	if n.Kind != yaml.MappingNode {
		return staticErrorf(n.Line, "%s: want a mapping with keys %s", what, strings.Join(keys, ", "))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(keys, k.Value) {
			return staticErrorf(k.Line, "%s: unknown key %q (want %s)", what, k.Value, strings.Join(keys, ", "))
		}
	}
	return nil
}

func (a *staticAction) UnmarshalYAML(n *yaml.Node) error {
	a.line = n.Line
	if n.Kind != yaml.ScalarNode || a.a.Unpack(n.Value) != nil || n.Value == "" {
		return staticErrorf(n.Line, "action %q: want one of %s", n.Value, staticActionNames)
	}
	return nil
}

// staticActionNames are go-seccomp-bpf's actions; "errno" fails the call
// with EPERM.
const staticActionNames = "allow, log, errno, trap, trace, kill_thread, kill_process"

func (o *staticOp) UnmarshalYAML(n *yaml.Node) error {
	o.line = n.Line
	if n.Kind != yaml.ScalarNode || o.op.Unpack(n.Value) != nil {
		names := make([]string, len(elastic.Operations))
		for i, op := range elastic.Operations {
			names[i] = string(op)
		}
		return staticErrorf(n.Line, "operation %q: want one of %s", n.Value, strings.Join(names, ", "))
	}
	return nil
}

func (s *staticName) UnmarshalYAML(n *yaml.Node) error {
	s.line = n.Line
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		return staticErrorf(n.Line, "want a syscall name")
	}
	s.name = n.Value
	return nil
}

// UnmarshalYAML takes a number in decimal, hex (0x), octal (0o or 0) or
// binary (0b); a negative one is its 64-bit two's complement, as a C int
// argument arrives in a register (AT_FDCWD is -100).
func (v *staticNumber) UnmarshalYAML(n *yaml.Node) error {
	v.line = n.Line
	if n.Kind != yaml.ScalarNode {
		return staticErrorf(n.Line, "want a number")
	}
	s := strings.ReplaceAll(n.Value, "_", "")
	if u, err := strconv.ParseUint(s, 0, 64); err == nil {
		v.v = u
		return nil
	}
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		v.v = uint64(i)
		return nil
	}
	return staticErrorf(n.Line, "value %q: want a number from -2^63 to 2^64-1", n.Value)
}

// Messages of the YAML decoder that name our Go types, rewritten.
var (
	unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)
	wrongKind    = regexp.MustCompile("cannot unmarshal !!(\\w+) (`[^`]*` )?into (\\S+)")
)

// ParseStaticPolicy reads a static policy in go-seccomp-bpf's format, YAML
// or JSON:
//
//	default_action: allow
//	syscalls:
//	  - action: errno
//	    names: [getppid]
//	  - action: errno
//	    names_with_args:
//	      - name: ioctl
//	        arguments:
//	          - {position: 1, operation: Equal, value: 0x5412}
//
// optionally wrapped in a top-level "seccomp:" key as in a Beats config;
// "argument" is accepted for "position". Every key, action (allow, log,
// errno, trap, trace, kill_thread, kill_process) and operation (Equal,
// NotEqual, GreaterThan, LessThan, GreaterOrEqual, LessOrEqual, BitsSet:
// any of the bits, BitsNotSet: none of them) is checked, and every syscall
// name against arch's table (nil means syscalls.Native()). The errors match
// ErrStaticPolicy and name the line.
func ParseStaticPolicy(data []byte, arch *syscalls.Arch) (*elastic.Policy, error) {
	if arch == nil {
		if arch = syscalls.Native(); arch == nil {
			return nil, ErrUnknownArch
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f staticFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, staticErrorf(0, "empty policy: want default_action and syscalls")
		}
		var se *staticError
		if errors.As(err, &se) {
			return nil, se
		}
		msg := strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\n ", ""), "yaml: ")
		msg = strings.TrimPrefix(msg, "unmarshal errors:")
		msg = unknownField.ReplaceAllString(msg, `unknown key "$1"`)
		msg = wrongKind.ReplaceAllStringFunc(msg, func(m string) string {
			sub := wrongKind.FindStringSubmatch(m)
			want := "a mapping"
			if strings.HasPrefix(sub[3], "[]") {
				want = "a list"
			}
			got := strings.TrimSuffix(sub[2], " ")
			if got == "" {
				got = map[string]string{"map": "a mapping", "seq": "a list", "str": "a string", "int": "a number", "bool": "a boolean"}[sub[1]]
			}
			if got == "" {
				got = "!!" + sub[1]
			}
			return fmt.Sprintf("want %s, not %s", want, got)
		})
		return nil, staticErrorf(0, "%s", strings.TrimSpace(msg))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, staticErrorf(extra.Line, "more than one document")
	}
	doc := &f.staticDoc
	if f.Seccomp != nil {
		if f.DefaultAction != nil || f.Syscalls != nil {
			return nil, staticErrorf(0, "both a seccomp: section and top-level keys")
		}
		doc = f.Seccomp
	}
	return doc.policy(arch)
}

func (d *staticDoc) policy(arch *syscalls.Arch) (*elastic.Policy, error) {
	if d.DefaultAction == nil {
		return nil, staticErrorf(0, "default_action missing: want one of %s", staticActionNames)
	}
	if len(d.Syscalls) == 0 {
		return nil, staticErrorf(d.DefaultAction.line, "syscalls missing or empty: want a list of {action, names, names_with_args}")
	}
	p := &elastic.Policy{DefaultAction: d.DefaultAction.a}
	for _, g := range d.Syscalls {
		if g == nil {
			return nil, staticErrorf(0, "empty entry in syscalls")
		}
		if g.Action == nil {
			return nil, staticErrorf(g.line, "syscall group without action: want one of %s", staticActionNames)
		}
		if len(g.Names)+len(g.NamesWithArgs) == 0 {
			return nil, staticErrorf(g.line, "syscall group without names or names_with_args")
		}
		eg := elastic.SyscallGroup{Action: g.Action.a}
		plain := map[int]string{} // nr -> name, unconditional in this group
		for _, n := range g.Names {
			nr, err := arch.Number(n.name)
			if err != nil {
				return nil, staticErrorf(n.line, "%v", err)
			}
			if prev, dup := plain[nr]; dup {
				return nil, staticErrorf(n.line, "%s listed twice in one group (as %s before)", n.name, prev)
			}
			plain[nr] = n.name
			eg.Names = append(eg.Names, n.name)
		}
		for _, nw := range g.NamesWithArgs {
			if nw == nil || nw.Name == nil {
				return nil, staticErrorf(g.line, "names_with_args entry without name")
			}
			nr, err := arch.Number(nw.Name.name)
			if err != nil {
				return nil, staticErrorf(nw.Name.line, "%v", err)
			}
			if _, dup := plain[nr]; dup {
				return nil, staticErrorf(nw.line, "%s is in names and names_with_args of one group: the unconditional entry makes the conditions pointless", nw.Name.name)
			}
			if len(nw.Arguments) == 0 {
				return nil, staticErrorf(nw.line, "%s: names_with_args entry without arguments (list it in names instead)", nw.Name.name)
			}
			nc := elastic.NameWithConditions{Name: nw.Name.name}
			for _, a := range nw.Arguments {
				c, err := a.condition(nw.Name.name)
				if err != nil {
					return nil, err
				}
				nc.Conditions = append(nc.Conditions, c)
			}
			eg.NamesWithCondtions = append(eg.NamesWithCondtions, nc)
		}
		p.Syscalls = append(p.Syscalls, eg)
	}
	return p, nil
}

func (a *staticArg) condition(name string) (elastic.Condition, error) {
	if a == nil {
		return elastic.Condition{}, staticErrorf(0, "%s: empty argument condition", name)
	}
	pos := a.Position
	if pos == nil {
		pos = a.Argument
	} else if a.Argument != nil {
		return elastic.Condition{}, staticErrorf(a.line, "%s: both position and argument given", name)
	}
	switch {
	case pos == nil:
		return elastic.Condition{}, staticErrorf(a.line, "%s: argument condition without position (0..5)", name)
	case pos.v > maxArgs-1:
		return elastic.Condition{}, staticErrorf(pos.line, "%s: position %d out of range 0..5", name, pos.v)
	case a.Operation == nil:
		return elastic.Condition{}, staticErrorf(a.line, "%s: argument condition without operation", name)
	case a.Value == nil:
		return elastic.Condition{}, staticErrorf(a.line, "%s: argument condition without value", name)
	}
	return elastic.Condition{Argument: uint32(pos.v), Operation: a.Operation.op, Value: a.Value.v}, nil
}

// argWidth32 lists, per syscall, the arguments the kernel reads as 32-bit
// integers (int, unsigned int, pid_t, uid_t, umode_t...; the same on every
// 64-bit architecture): the upper half of their register is ignored by
// the kernel but not by a 64-bit comparison. A condition on one of them
// is compiled on the low 32 bits only. Arguments not listed are compared
// on all 64 bits, as go-seccomp-bpf does.
var argWidth32 = map[string][]int{
	"ioctl": {0, 1}, "fcntl": {0, 1}, "close": {0}, "dup": {0}, "dup2": {0, 1}, "dup3": {0, 1, 2},
	"read": {0}, "write": {0}, "pread64": {0}, "pwrite64": {0}, "readv": {0}, "writev": {0},
	"lseek": {0, 2}, "fsync": {0}, "fdatasync": {0}, "ftruncate": {0}, "fchdir": {0},
	"open": {1, 2}, "openat": {0, 2, 3}, "creat": {1},
	"chmod": {1}, "fchmod": {0, 1}, "fchmodat": {0, 2}, "fchmodat2": {0, 2, 3},
	"mknod": {1, 2}, "mknodat": {0, 2, 3}, "mkdir": {1}, "mkdirat": {0, 2},
	"chown": {1, 2}, "lchown": {1, 2}, "fchown": {0, 1, 2}, "fchownat": {0, 2, 3, 4},
	"unlinkat": {0, 2}, "renameat2": {0, 2, 4}, "linkat": {0, 2, 4}, "symlinkat": {1},
	"faccessat": {0, 2}, "faccessat2": {0, 2, 3}, "access": {1}, "newfstatat": {0, 3},
	"socket": {0, 1, 2}, "socketpair": {0, 1, 2}, "connect": {0, 2}, "bind": {0, 2},
	"listen": {0, 1}, "accept": {0}, "accept4": {0, 3}, "shutdown": {0, 1},
	"setsockopt": {0, 1, 2, 4}, "getsockopt": {0, 1, 2},
	"sendto": {0, 3, 5}, "recvfrom": {0, 3}, "sendmsg": {0, 2}, "recvmsg": {0, 2},
	"sendmmsg": {0, 2, 3}, "recvmmsg": {0, 2, 3},
	"kill": {0, 1}, "tkill": {0, 1}, "tgkill": {0, 1, 2}, "rt_sigqueueinfo": {0, 1},
	"rt_tgsigqueueinfo": {0, 1, 2}, "rt_sigaction": {0}, "rt_sigprocmask": {0},
	"pidfd_open": {0, 1}, "pidfd_send_signal": {0, 1, 3}, "pidfd_getfd": {0, 1, 2},
	"prctl": {0}, "personality": {0}, "setns": {0, 1}, "madvise": {2},
	"setuid": {0}, "setgid": {0}, "setreuid": {0, 1}, "setregid": {0, 1},
	"setresuid": {0, 1, 2}, "setresgid": {0, 1, 2}, "setfsuid": {0}, "setfsgid": {0},
	"setpgid": {0, 1}, "getpgid": {0}, "getsid": {0}, "setpriority": {0, 1, 2}, "getpriority": {0, 1},
	"sched_setscheduler": {0, 1}, "sched_setparam": {0}, "sched_setaffinity": {0, 1},
	"sched_getaffinity": {0, 1}, "sched_setattr": {0, 2}, "prlimit64": {0, 1},
	"wait4": {0, 2}, "waitid": {0, 1, 3}, "exit": {0}, "exit_group": {0},
	"memfd_create": {1}, "eventfd2": {0, 1}, "pipe2": {1}, "epoll_create1": {0},
	"epoll_ctl": {0, 1, 2}, "flock": {0, 1}, "futex": {1, 2, 5},
	"mount_setattr": {0, 2}, "open_tree": {0, 2}, "move_mount": {0, 2, 4},
	"bpf": {0, 2}, "perf_event_open": {1, 2, 3}, "ptrace": {1}, "keyctl": {0}, "seccomp": {0, 1},
	"landlock_create_ruleset": {2}, "landlock_add_rule": {0, 1, 3}, "landlock_restrict_self": {0, 1},
	"io_uring_setup": {0}, "io_uring_enter": {0, 1, 2, 3}, "io_uring_register": {0, 1, 3},
	"timerfd_create": {0, 1}, "inotify_add_watch": {0, 2}, "fanotify_init": {0, 1},
	"getrandom": {2}, "umask": {0}, "statx": {0, 2, 3}, "close_range": {0, 1, 2},
}

// Arg32 reports whether the kernel reads argument i (0..5) of the syscall
// called name as a 32-bit integer, as far as this package knows: then a
// static policy's conditions on it are compiled on its low 32 bits.
func Arg32(name string, i int) bool { return slices.Contains(argWidth32[name], i) }

// maxExpanded bounds the conditions one names_with_args entry may become
// once its 32-bit NotEqual conditions are split into alternatives.
const maxExpanded = 256

// lowWord32 normalizes v for a 32-bit argument: a value that fits in 32
// bits, or a negative int sign-extended to 64 (AT_FDCWD as -100), gives
// its low 32 bits.
func lowWord32(v uint64) (uint32, bool) {
	if v>>32 == 0 || (v>>32 == 0xffffffff && v&(1<<31) != 0) {
		return uint32(v), true
	}
	return 0, false
}

// narrow rewrites the conditions of one names_with_args entry of syscall
// name into alternatives (any may hold; all conditions of one must) that
// test 32-bit arguments on their low word only, with go-seccomp-bpf's own
// operations: low32 == v is "every bit of v set (one BitsSet per bit) and
// no other bit of the low word (BitsNotSet)"; NotEqual is its negation,
// one alternative per bit.
func narrow(name string, conds elastic.ArgumentConditions) ([]elastic.ArgumentConditions, error) {
	alts := []elastic.ArgumentConditions{nil}
	and := func(more ...elastic.ArgumentConditions) error {
		var out []elastic.ArgumentConditions
		for _, a := range alts {
			for _, m := range more {
				out = append(out, append(slices.Clone(a), m...))
			}
		}
		if len(out) > maxExpanded {
			return staticErrorf(0, "%s: too many NotEqual conditions on 32-bit arguments in one entry (%d alternatives, at most %d)", name, len(out), maxExpanded)
		}
		alts = out
		return nil
	}
	for _, c := range conds {
		if !Arg32(name, int(c.Argument)) {
			if err := and(elastic.ArgumentConditions{c}); err != nil {
				return nil, err
			}
			continue
		}
		at := func(op elastic.Operation, v uint32) elastic.Condition {
			return elastic.Condition{Argument: c.Argument, Operation: op, Value: uint64(v)}
		}
		switch c.Operation {
		case elastic.Equal, elastic.NotEqual:
			v, ok := lowWord32(c.Value)
			if !ok {
				return nil, staticErrorf(0, "%s: %s %#x on argument %d, which the kernel reads as 32 bits: the value does not fit", name, c.Operation, c.Value, c.Argument)
			}
			var set []elastic.Condition
			for w := v; w != 0; w &= w - 1 {
				set = append(set, at(elastic.BitsSet, 1<<bits.TrailingZeros32(w)))
			}
			if c.Operation == elastic.Equal {
				eq := elastic.ArgumentConditions(set)
				if v != 0xffffffff {
					eq = append(eq, at(elastic.BitsNotSet, ^v))
				}
				if err := and(eq); err != nil {
					return nil, err
				}
				continue
			}
			var ne []elastic.ArgumentConditions
			for _, s := range set {
				ne = append(ne, elastic.ArgumentConditions{at(elastic.BitsNotSet, uint32(s.Value))})
			}
			if v != 0xffffffff {
				ne = append(ne, elastic.ArgumentConditions{at(elastic.BitsSet, ^v)})
			}
			if err := and(ne...); err != nil {
				return nil, err
			}
		case elastic.BitsSet, elastic.BitsNotSet:
			m := uint32(c.Value)
			if m == 0 && c.Operation == elastic.BitsSet {
				return nil, staticErrorf(0, "%s: BitsSet %#x on argument %d, which the kernel reads as 32 bits: no bit in the low 32, the condition never holds", name, c.Value, c.Argument)
			}
			if m == 0 {
				continue // no bit to test: always holds
			}
			if err := and(elastic.ArgumentConditions{at(c.Operation, m)}); err != nil {
				return nil, err
			}
		default:
			return nil, staticErrorf(0, "%s: %s on argument %d, which the kernel reads as 32 bits: go-seccomp-bpf would compare all 64 bits of the register, whose upper half the caller chooses; use Equal, NotEqual, BitsSet or BitsNotSet", name, c.Operation, c.Argument)
		}
	}
	return alts, nil
}

// elasticArch returns go-seccomp-bpf's table for arch, which must be the
// one it compiles for (the running GOARCH), extended once with the
// syscalls ours has and its lacks (newer ones), at the same numbers.
func elasticArch(arch *syscalls.Arch) (*elasticarch.Info, error) {
	if arch != syscalls.Native() {
		return nil, fmt.Errorf("seccomp: static policy for %v: go-seccomp-bpf compiles for the running architecture only (%s)", arch, runtime.GOARCH)
	}
	info, err := elasticarch.GetInfo("")
	if err != nil || uint32(info.ID) != arch.AuditArch() || info.SyscallNames == nil {
		return nil, fmt.Errorf("seccomp: static policy: go-seccomp-bpf has no syscall table for %v", arch)
	}
	extendOnce.Do(func() {
		for _, s := range arch.Syscalls() {
			if _, ok := info.SyscallNames[s.Name]; !ok {
				info.SyscallNames[s.Name] = s.Number
				info.SyscallNumbers[s.Number] = s.Name
			}
		}
	})
	return info, nil
}

var extendOnce sync.Once

// CompileStatic compiles the static policy p for arch (nil means
// syscalls.Native(); go-seccomp-bpf compiles for the running architecture
// only) into a program to install as a filter of its own. Names are
// checked against our table (aliases such as fstatat are accepted);
// conditions on 32-bit arguments are compiled on the low word (see Arg32)
// or rejected with the reason. The program is go-seccomp-bpf's: a call
// from another ABI gets the default action and an x32 call ENOSYS, so it
// must be stacked with a filter that kills foreign ABIs (every Filter
// does). Errors about the policy match ErrStaticPolicy; a policy whose
// program would exceed MaxInstructions matches ErrProgramTooLong.
func CompileStatic(p *elastic.Policy, arch *syscalls.Arch) (Program, error) {
	if arch == nil {
		if arch = syscalls.Native(); arch == nil {
			return nil, ErrUnknownArch
		}
	}
	if p == nil {
		return nil, staticErrorf(0, "no policy")
	}
	info, err := elasticArch(arch)
	if err != nil {
		return nil, err
	}
	if _, err := staticRet(p.DefaultAction); err != nil {
		return nil, staticErrorf(0, "default_action: %v", err)
	}
	if len(p.Syscalls) == 0 {
		return nil, staticErrorf(0, "syscalls missing or empty")
	}
	q := elastic.Policy{DefaultAction: p.DefaultAction}
	for gi, g := range p.Syscalls {
		if _, err := staticRet(g.Action); err != nil {
			return nil, staticErrorf(0, "syscall group %d: %v", gi+1, err)
		}
		ng := elastic.SyscallGroup{Action: g.Action}
		canon := func(name string) (string, error) {
			nr, err := arch.Number(name)
			if err != nil {
				return "", staticErrorf(0, "%v", err)
			}
			c, _ := arch.Name(nr)
			if info.SyscallNames[c] != nr {
				return "", fmt.Errorf("seccomp: bug: go-seccomp-bpf numbers %s %d, ours %d", c, info.SyscallNames[c], nr)
			}
			return c, nil
		}
		for _, n := range g.Names {
			c, err := canon(n)
			if err != nil {
				return nil, err
			}
			ng.Names = append(ng.Names, c)
		}
		for _, nc := range g.NamesWithCondtions {
			c, err := canon(nc.Name)
			if err != nil {
				return nil, err
			}
			if len(nc.Conditions) == 0 {
				return nil, staticErrorf(0, "%s: names_with_args entry without arguments", nc.Name)
			}
			for _, cond := range nc.Conditions {
				if cond.Argument > maxArgs-1 {
					return nil, staticErrorf(0, "%s: position %d out of range 0..5", nc.Name, cond.Argument)
				}
				if !slices.Contains(elastic.Operations, cond.Operation) {
					return nil, staticErrorf(0, "%s: unknown operation %q", nc.Name, cond.Operation)
				}
			}
			alts, err := narrow(c, nc.Conditions)
			if err != nil {
				return nil, err
			}
			for _, a := range alts {
				if len(a) == 0 {
					// Every condition held trivially: unconditional.
					a = elastic.ArgumentConditions{{Argument: 0, Operation: elastic.BitsNotSet, Value: 0}}
				}
				ng.NamesWithCondtions = append(ng.NamesWithCondtions, elastic.NameWithConditions{Name: c, Conditions: a})
			}
		}
		q.Syscalls = append(q.Syscalls, ng)
	}
	insns, err := assembleStatic(&q)
	if err != nil {
		return nil, err
	}
	if len(insns) > MaxInstructions {
		return nil, fmt.Errorf("%w: static policy: %d instructions, the kernel accepts at most %d", ErrProgramTooLong, len(insns), MaxInstructions)
	}
	raw, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("seccomp: static policy: assemble: %w", err)
	}
	prog := make(Program, len(raw))
	for i, r := range raw {
		prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if err := verifyStatic(prog, p, arch); err != nil {
		return nil, err
	}
	return prog, nil
}

// assembleStatic compiles q with go-seccomp-bpf one piece at a time and
// chains the pieces. go-seccomp-bpf v1.6.0 assumes the accumulator still
// holds the syscall number after a syscall whose argument conditions
// failed, but the conditions loaded arguments into it: a group (or a
// syscall of the same group) after a conditional one compares an argument
// word with syscall numbers (verifyStatic found it: a later group's
// kill_process on fcntl became allow). So each piece is one group's
// unconditional names, or one syscall's conditions, compiled alone, where
// nothing follows a condition but the end; every piece starts by loading
// the number again. A piece is compiled with placeholder actions, allow
// for a match and errno (EPERM) for no match; the first becomes the
// group's action, the second a jump to the next piece; the last piece is
// followed by the default action.
func assembleStatic(q *elastic.Policy) ([]bpf.Instruction, error) {
	matchRet, nextRet := uint32(elastic.ActionAllow), uint32(elastic.ActionErrno)|uint32(unix.EPERM)
	enosys := Errno(unix.ENOSYS).Ret()
	var out []bpf.Instruction
	piece := func(g elastic.SyscallGroup, action uint32) error {
		g.Action = elastic.ActionAllow
		one := elastic.Policy{DefaultAction: elastic.ActionErrno, Syscalls: []elastic.SyscallGroup{g}}
		insns, err := one.Assemble()
		if err != nil {
			return staticErrorf(0, "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		for i, in := range insns {
			r, ok := in.(bpf.RetConstant)
			if !ok {
				continue
			}
			switch r.Val {
			case matchRet:
				insns[i] = bpf.RetConstant{Val: action}
			case nextRet:
				insns[i] = bpf.Jump{Skip: uint32(len(insns) - 1 - i)}
			case enosys: // x32
			default:
				return fmt.Errorf("seccomp: bug: go-seccomp-bpf piece returns %#x", r.Val)
			}
		}
		out = append(out, insns...)
		return nil
	}
	for _, g := range q.Syscalls {
		action, _ := staticRet(g.Action)
		if len(g.Names) > 0 {
			if err := piece(elastic.SyscallGroup{Names: g.Names}, action); err != nil {
				return nil, err
			}
		}
		var names []string
		byName := map[string][]elastic.NameWithConditions{}
		for _, nc := range g.NamesWithCondtions {
			if _, ok := byName[nc.Name]; !ok {
				names = append(names, nc.Name)
			}
			byName[nc.Name] = append(byName[nc.Name], nc)
		}
		for _, n := range names {
			if err := piece(elastic.SyscallGroup{NamesWithCondtions: byName[n]}, action); err != nil {
				return nil, err
			}
		}
	}
	def, _ := staticRet(q.DefaultAction)
	return append(out, bpf.RetConstant{Val: def}), nil
}

// staticRet returns the SECCOMP_RET_* value of a go-seccomp-bpf action
// ("errno" is EPERM).
func staticRet(a elastic.Action) (uint32, error) {
	switch a {
	case elastic.ActionAllow, elastic.ActionLog, elastic.ActionTrace, elastic.ActionTrap,
		elastic.ActionKillThread, elastic.ActionKillProcess:
		return uint32(a), nil
	case elastic.ActionErrno:
		return uint32(a) | uint32(unix.EPERM), nil
	}
	return 0, fmt.Errorf("unknown action %#x (want one of %s)", uint32(a), staticActionNames)
}

// StaticDecide is the reference model of a static policy: the
// SECCOMP_RET_* value the program CompileStatic makes of p returns for d,
// computed from the policy (groups in order, the first that lists the
// syscall, unconditionally or with conditions that hold, decides; then the
// default action). Conditions on 32-bit arguments (Arg32) look at the low
// word only. A call from another ABI gets the default action, an x32 call
// on x86_64 ENOSYS: go-seccomp-bpf's choices, which only a stacked filter
// that kills foreign ABIs makes safe.
func StaticDecide(p *elastic.Policy, arch *syscalls.Arch, d Data) uint32 {
	def, _ := staticRet(p.DefaultAction)
	if d.Arch != arch.AuditArch() {
		return def
	}
	if arch == syscalls.X86_64 && uint32(d.Nr) >= syscalls.X32SyscallBit {
		return Errno(unix.ENOSYS).Ret()
	}
	for _, g := range p.Syscalls {
		ret, _ := staticRet(g.Action)
		for _, n := range g.Names {
			if nr, err := arch.Number(n); err == nil && int32(nr) == d.Nr {
				return ret
			}
		}
		for _, nc := range g.NamesWithCondtions {
			nr, err := arch.Number(nc.Name)
			if err != nil || int32(nr) != d.Nr {
				continue
			}
			name, _ := arch.Name(nr)
			if staticHolds(name, nc.Conditions, &d.Args) {
				return ret
			}
		}
	}
	return def
}

func staticHolds(name string, conds elastic.ArgumentConditions, args *[maxArgs]uint64) bool {
	for _, c := range conds {
		x, v := args[c.Argument], c.Value
		if Arg32(name, int(c.Argument)) {
			x &= 0xffffffff
			if w, ok := lowWord32(v); ok {
				v = uint64(w)
			} else if c.Operation == elastic.BitsSet || c.Operation == elastic.BitsNotSet {
				v &= 0xffffffff
			}
		}
		var ok bool
		switch c.Operation {
		case elastic.Equal:
			ok = x == v
		case elastic.NotEqual:
			ok = x != v
		case elastic.GreaterThan:
			ok = x > v
		case elastic.LessThan:
			ok = x < v
		case elastic.GreaterOrEqual:
			ok = x >= v
		case elastic.LessOrEqual:
			ok = x <= v
		case elastic.BitsSet:
			ok = x&v != 0
		case elastic.BitsNotSet:
			ok = x&v == 0
		}
		if !ok {
			return false
		}
	}
	return true
}

// StaticAlways returns the SECCOMP_RET_* value the static policy p gives
// every call of syscall nr on arch whatever its arguments, and false when
// the answer depends on them (the first group that names nr does so with
// conditions).
func StaticAlways(p *elastic.Policy, arch *syscalls.Arch, nr int) (uint32, bool) {
	for _, g := range p.Syscalls {
		for _, n := range g.Names {
			if x, err := arch.Number(n); err == nil && x == nr {
				ret, _ := staticRet(g.Action)
				return ret, true
			}
		}
		for _, nc := range g.NamesWithCondtions {
			if x, err := arch.Number(nc.Name); err == nil && x == nr {
				return 0, false
			}
		}
	}
	ret, _ := staticRet(p.DefaultAction)
	return ret, true
}

// verifyStatic runs prog in the interpreter on every syscall number, on
// x32 and foreign-ABI calls, and on arguments around every value the
// policy's conditions name, and compares with StaticDecide. go-seccomp-bpf
// is trusted for the format, not blindly for the code (its long-jump
// fix-up has had bugs; see asm.go).
func verifyStatic(prog Program, p *elastic.Policy, arch *syscalls.Arch) error {
	check := func(d Data) error {
		got, err := prog.Evaluate(d)
		if err != nil {
			return fmt.Errorf("seccomp: bug: go-seccomp-bpf program rejected: %w", err)
		}
		if want := StaticDecide(p, arch, d); got != want {
			return fmt.Errorf("seccomp: bug: go-seccomp-bpf program returns %#x for %+v, the policy says %#x\n%s", got, d, want, prog.Disassemble())
		}
		return nil
	}
	audit := arch.AuditArch()
	for nr := 0; nr <= arch.MaxNumber()+1; nr++ {
		if err := check(Data{Nr: int32(nr), Arch: audit}); err != nil {
			return err
		}
	}
	for _, d := range []Data{
		{Nr: int32(syscalls.X32SyscallBit), Arch: audit},
		{Nr: int32(syscalls.X32SyscallBit | 39), Arch: audit},
		{Nr: 20, Arch: unix.AUDIT_ARCH_I386},
		{Nr: -1, Arch: audit},
	} {
		if err := check(d); err != nil {
			return err
		}
	}
	for _, g := range p.Syscalls {
		for _, nc := range g.NamesWithCondtions {
			nr, err := arch.Number(nc.Name)
			if err != nil {
				continue
			}
			// All conditions at their value, then each varied.
			var base [maxArgs]uint64
			for _, c := range nc.Conditions {
				base[c.Argument] = c.Value
			}
			probes := [][maxArgs]uint64{base}
			for _, c := range nc.Conditions {
				v := c.Value
				for _, x := range []uint64{v, v + 1, v - 1, v ^ 1, v | 1<<32, v | 1<<63, v &^ (v & -v), v | 0xffffffff00000000, v & 0xffffffff, 0, ^uint64(0)} {
					a := base
					a[c.Argument] = x
					probes = append(probes, a)
				}
			}
			for _, args := range probes {
				if err := check(Data{Nr: int32(nr), Arch: audit, Args: args}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// MostRestrictive returns what the kernel returns for a syscall when two
// stacked filters answer newer (the one installed last) and older: the
// action of higher precedence (kill-process, kill-thread, trap, errno,
// user-notif, trace, log, allow, in that order, comparing
// SECCOMP_RET_ACTION_FULL as a signed number); between two answers with
// the same action, such as two errnos, the newer filter's, with its data.
func MostRestrictive(newer, older uint32) uint32 {
	if int32(older&unix.SECCOMP_RET_ACTION_FULL) < int32(newer&unix.SECCOMP_RET_ACTION_FULL) {
		return older
	}
	return newer
}
