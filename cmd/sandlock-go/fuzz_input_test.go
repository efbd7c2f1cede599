package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"unicode"

	elastic "github.com/elastic/go-seccomp-bpf"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// maxProfileInput bounds the fuzzed profiles: the reader's cost is linear
// in its input, and longer ones only slow the fuzzer down.
const maxProfileInput = 1 << 16

// FuzzReadProfile reads a --profile file: no panic; bad input fails with
// one line naming the problem (no control characters: it is printed on a
// terminal); an accepted profile, written back as learn writes it, reads
// back as the same profile.
func FuzzReadProfile(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxProfileInput {
			return
		}
		p, err := readProfile(bytes.NewReader(data))
		if err != nil {
			if p != nil {
				t.Fatalf("readProfile failed with %v but returned a profile", err)
			}
			checkMessage(t, "readProfile", err)
			return
		}
		profileRoundTrip(t, p)
	})
}

// FuzzProfileRoundTrip: what learn records (paths a child opened and
// executed, its endpoints, its command line) is written and read back as
// the same profile, or refused by writeProfile with an error; never
// changed on the way. Lists are the fuzzed strings split at '|'.
func FuzzProfileRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, program, files, dirs, exec, connect, bind string, max uint16) {
		if len(program)+len(files)+len(dirs)+len(exec)+len(connect)+len(bind) > maxProfileInput {
			return
		}
		split := func(s string) pathList {
			if s == "" {
				return nil
			}
			return strings.Split(s, "|")
		}
		p := &Profile{Version: profileVersion, Program: strings.Split(program, "|")}
		p.Open.Files, p.Open.Dirs, p.Exec.Paths = split(files), split(dirs), split(exec)
		p.Network.Connect, p.Network.Bind = split(connect), split(bind)
		p.Processes.Max = int(max)
		profileRoundTrip(t, p)
	})
}

// profileRoundTrip writes p as learn does and checks that readProfile
// gives it back (writeProfile sorts and compacts the lists of p).
func profileRoundTrip(t *testing.T, p *Profile) {
	t.Helper()
	var buf bytes.Buffer
	if err := writeProfile(&buf, p); err != nil {
		checkMessage(t, "writeProfile", err)
		return
	}
	q, err := readProfile(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("the written profile does not read back: %v\n%s", err, buf.Bytes())
	}
	same := slices.Equal(p.Program, q.Program) &&
		slices.Equal(p.Open.Files, q.Open.Files) && slices.Equal(p.Open.Dirs, q.Open.Dirs) &&
		slices.Equal(p.Exec.Paths, q.Exec.Paths) &&
		slices.Equal(p.Network.Connect, q.Network.Connect) && slices.Equal(p.Network.Bind, q.Network.Bind) &&
		p.Version == q.Version && p.Processes.Max == q.Processes.Max
	if !same {
		t.Fatalf("profile changed on the way:\nwrote %+v\nread  %+v\n%s", *p, *q, buf.Bytes())
	}
}

// checkMessage fails unless err is one line without control characters.
func checkMessage(t *testing.T, what string, err error) {
	t.Helper()
	if msg := err.Error(); msg == "" || strings.ContainsFunc(msg, unicode.IsControl) {
		t.Fatalf("%s error %q: want one line without control characters", what, msg)
	}
}

// FuzzSplitEnvFlags splits --clearenv/--setenv/--unsetenv out of a run
// command line (arguments separated by NUL, which no argument holds): no
// panic; errors are usage errors of one line; every argument is either in
// rest, in that order, or taken by an environment flag; PROGRAM and its
// arguments are never taken; and the environment built from the ops has
// each name set or unset as its last op says.
func FuzzSplitEnvFlags(f *testing.F) {
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		if len(args) > 256 {
			return
		}
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Bool("no-pty", false, "")
		fs.String("trace", "", "")
		rest, ops, err := splitEnvFlags(fs, args)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) || rest != nil || ops != nil {
				t.Fatalf("splitEnvFlags(%q) = %q, %v, %v: want a *usageError alone", args, rest, ops, err)
			}
			checkMessage(t, "splitEnvFlags", err)
			return
		}
		taken := 0
		for _, o := range ops {
			switch o.op {
			case "clearenv":
				taken++
			case "setenv", "unsetenv":
				if o.name == "" || strings.ContainsAny(o.name, "=\x00") {
					t.Fatalf("splitEnvFlags(%q): op %+v with a bad name", args, o)
				}
				taken += 2
				if o.op == "setenv" {
					taken++
				}
			default:
				t.Fatalf("splitEnvFlags(%q): unknown op %+v", args, o)
			}
		}
		// --setenv=VAR VALUE and --unsetenv=VAR take one argument less.
		joined := 0
		for _, a := range args {
			if slices.ContainsFunc([]string{"setenv=", "unsetenv="}, func(p string) bool {
				return strings.HasPrefix(a, "-"+p) || strings.HasPrefix(a, "--"+p)
			}) {
				joined++
			}
		}
		if len(rest)+taken-joined > len(args) || len(rest)+taken < len(args) {
			t.Fatalf("splitEnvFlags(%q) = rest %q, ops %+v: arguments lost or invented", args, rest, ops)
		}
		// rest is a subsequence of args.
		j := 0
		for _, a := range args {
			if j < len(rest) && rest[j] == a {
				j++
			}
		}
		if j != len(rest) {
			t.Fatalf("splitEnvFlags(%q): rest %q is not a subsequence", args, rest)
		}
		// A command line that starts with "--" or the program is PROGRAM's
		// own: nothing is taken from it.
		if len(args) > 0 && (args[0] == "--" || len(args[0]) < 2 || args[0][0] != '-') && !slices.Equal(rest, args) {
			t.Fatalf("splitEnvFlags(%q): rest %q, ops %+v taken from the program's arguments", args, rest, ops)
		}
		env := environ([]string{"HOME=/root", "A=1", "A=2"}, ops)
		if len(ops) == 0 {
			if env != nil {
				t.Fatalf("environ without ops = %q, want nil", env)
			}
			return
		}
		last := map[string]envOp{}
		for _, o := range ops {
			if o.op == "clearenv" {
				for name := range last {
					last[name] = envOp{op: "unsetenv", name: name}
				}
				continue
			}
			last[o.name] = o
		}
		for name, o := range last {
			var vals []string
			for _, kv := range env {
				if k, v, _ := strings.Cut(kv, "="); k == name {
					vals = append(vals, v)
				}
			}
			want := 0
			if o.op == "setenv" {
				want = 1
			}
			if len(vals) != want || (want == 1 && vals[0] != o.value) {
				t.Fatalf("ops %+v: environment %q has %s = %q", ops, env, name, vals)
			}
		}
	})
}

// FuzzSeccompPolicyRoundTrip: the policy learn --seccomp-out writes (the
// syscalls a run made, the command line in a comment) reads back with
// --seccomp-policy as the same allow list, whatever the command line
// holds (newlines, quotes, escapes). pick selects syscalls of the native
// table, two bytes a syscall.
func FuzzSeccompPolicyRoundTrip(f *testing.F) {
	arch := syscalls.Native()
	all := arch.Syscalls()
	f.Fuzz(func(t *testing.T, pick []byte, program string) {
		if len(pick) > 1024 || len(program) > 1<<14 {
			return
		}
		var names []string
		for i := 0; i+1 < len(pick); i += 2 {
			names = append(names, all[(int(pick[i])<<8|int(pick[i+1]))%len(all)].Name)
		}
		slices.Sort(names)
		names = slices.Compact(names)
		if len(names) == 0 {
			names = []string{"execve"}
		}
		var buf bytes.Buffer
		if err := writeSeccompPolicy(&buf, names, strings.Split(program, "\x00")); err != nil {
			t.Fatal(err)
		}
		p, err := seccomp.ParseStaticPolicy(buf.Bytes(), arch)
		if err != nil {
			t.Fatalf("the written policy does not read back: %v\n%s", err, buf.Bytes())
		}
		if p.DefaultAction != elastic.ActionErrno || len(p.Syscalls) != 1 ||
			p.Syscalls[0].Action != elastic.ActionAllow || !slices.Equal(p.Syscalls[0].Names, names) ||
			len(p.Syscalls[0].NamesWithCondtions) != 0 {
			t.Fatalf("policy changed on the way: wrote %q, read %+v\n%s", names, p, buf.Bytes())
		}
	})
}

// FuzzParseTrace parses a trace command line (arguments separated by
// NUL), --syscalls lists of names and families included: no panic; errors
// are usage errors (or help); an accepted command traces canonical,
// distinct syscalls of the arch, and has a program.
func FuzzParseTrace(f *testing.F) {
	arch := syscalls.Native()
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		if len(args) > 256 {
			return
		}
		cfg, err := parseTrace(args, arch)
		if err != nil {
			var ue *usageError
			if cfg != nil || (!errors.As(err, &ue) && !errors.Is(err, errHelp)) {
				t.Fatalf("parseTrace(%q) = %v, %v: want a *usageError or errHelp alone", args, cfg, err)
			}
			return
		}
		if len(cfg.Program) == 0 || len(cfg.Syscalls) == 0 {
			t.Fatalf("parseTrace(%q) accepted %+v", args, cfg)
		}
		seen := map[string]bool{}
		for _, n := range cfg.Syscalls {
			nr, err := arch.Number(n)
			if canon, _ := arch.Name(nr); err != nil || canon != n || seen[n] {
				t.Fatalf("parseTrace(%q): syscall %q not canonical or repeated (%v)", args, n, cfg.Syscalls)
			}
			seen[n] = true
		}
		again, err := parseSyscallList(strings.Join(cfg.Syscalls, ","), arch)
		if err != nil || !slices.Equal(again, cfg.Syscalls) {
			t.Fatalf("parseTrace(%q): syscalls %v read back as %v, %v", args, cfg.Syscalls, again, err)
		}
	})
}

// TestProfileLimits: the shapes that make the TOML decoder quadratic are
// refused before it sees them, in a line; dots and brackets in strings
// and comments do not count.
func TestProfileLimits(t *testing.T) {
	for _, bad := range []string{
		"version = 1\n" + strings.Repeat("a.", 20000) + "b = 1\n",
		"version = 1\n[" + strings.Repeat("a.", 20000) + "b]\n",
		"version = 1\na = " + strings.Repeat("{b=", 5000) + "\n",
	} {
		_, err := readProfile(strings.NewReader(bad))
		if err == nil || !strings.Contains(err.Error(), "line 2: more than 32 dotted key parts") {
			t.Errorf("readProfile of %.20q...: %v", bad, err)
		}
	}
	good := "version = 1\nprogram = [\"" + strings.Repeat(".", 100) + "\", '" + strings.Repeat("[", 100) +
		"', \"\"\"\n" + strings.Repeat(".{\n", 50) + "\"\"\"]\n# " + strings.Repeat(".", 100) +
		"\n[open]\nfiles = [\"/a\\\"" + strings.Repeat(".", 100) + "\"]\n"
	p, err := readProfile(strings.NewReader(good))
	if err != nil || len(p.Program) != 3 || len(p.Open.Files) != 1 {
		t.Fatalf("readProfile(%q) = %+v, %v", good, p, err)
	}
}
