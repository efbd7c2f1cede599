package main

import (
	"flag"
	"os"
	"strings"
)

// envOp is one of --clearenv, --setenv VAR VALUE and --unsetenv VAR, which
// apply in command-line order (bubblewrap's spelling).
type envOp struct {
	op    string // "clearenv", "setenv" or "unsetenv"
	name  string
	value string
}

// envFlagsHelp is the help text of the environment flags.
const envFlagsHelp = `  --clearenv
        Start PROGRAM's environment empty instead of sandlock-go's; later
        --setenv add to it. PROGRAM is still looked up in sandlock-go's PATH.
        e.g. --clearenv --setenv PATH /usr/bin
  --setenv VAR VALUE
        Set VAR to VALUE in PROGRAM's environment (two arguments). Repeatable.
        e.g. --setenv LANG C.UTF-8
  --unsetenv VAR
        Remove VAR from PROGRAM's environment. Repeatable.
        e.g. --unsetenv SSH_AUTH_SOCK
`

// splitEnvFlags takes the environment flags out of args, which fs parses
// next: the flag package cannot parse --setenv, whose value is two
// arguments. It walks the flags as fs would (up to "--" or the first
// argument that is not a flag, the value of each non-boolean flag of fs
// skipped), so that PROGRAM's arguments and other flags' values are never
// taken. Errors are *usageError.
func splitEnvFlags(fs *flag.FlagSet, args []string) (rest []string, ops []envOp, err error) {
	rest = make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return append(rest, args[i:]...), ops, nil
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, value, hasValue := strings.Cut(name, "=")
		// next returns the argument after the flag's own.
		next := func(what string) (string, error) {
			if hasValue {
				v := value
				hasValue = false
				return v, nil
			}
			if i+1 >= len(args) {
				return "", usagef("--%s: want %s", name, what)
			}
			i++
			return args[i], nil
		}
		switch name {
		case "clearenv":
			if hasValue {
				return nil, nil, usagef("--clearenv takes no value")
			}
			ops = append(ops, envOp{op: name})
		case "setenv":
			v, err := next("VAR VALUE")
			if err != nil {
				return nil, nil, err
			}
			if err := checkEnvName(name, v); err != nil {
				return nil, nil, err
			}
			if i+1 >= len(args) {
				return nil, nil, usagef("--setenv %s: want a VALUE after VAR (--setenv VAR VALUE)", escapeControl(v))
			}
			i++
			ops = append(ops, envOp{op: name, name: v, value: args[i]})
		case "unsetenv":
			v, err := next("VAR")
			if err != nil {
				return nil, nil, err
			}
			if err := checkEnvName(name, v); err != nil {
				return nil, nil, err
			}
			ops = append(ops, envOp{op: name, name: v})
		default:
			rest = append(rest, a)
			f := fs.Lookup(name)
			if f == nil || hasValue || isBoolFlag(f) || i+1 >= len(args) {
				continue // fs reports what is wrong, if anything
			}
			i++
			rest = append(rest, args[i])
		}
	}
	return rest, ops, nil
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func checkEnvName(flagName, v string) error {
	if v == "" || strings.ContainsAny(v, "=\x00") {
		return usagef("--%s %q: want a variable name, without '='", flagName, v)
	}
	return nil
}

// environ applies ops to base and returns the environment; nil when there
// are no ops (the command gets sandlock-go's). With --clearenv and nothing
// set after it, the result is empty but not nil.
func environ(base []string, ops []envOp) []string {
	if len(ops) == 0 {
		return nil
	}
	env := append([]string{}, base...)
	unset := func(name string) {
		out := env[:0]
		for _, kv := range env {
			if k, _, _ := strings.Cut(kv, "="); k != name {
				out = append(out, kv)
			}
		}
		env = out
	}
	for _, o := range ops {
		switch o.op {
		case "clearenv":
			env = []string{}
		case "setenv":
			unset(o.name)
			env = append(env, o.name+"="+o.value)
		case "unsetenv":
			unset(o.name)
		}
	}
	return env
}

// commandEnv is the environment of a run's command: sandlock-go's with ops
// applied, or nil when there are none.
func commandEnv(ops []envOp) []string { return environ(os.Environ(), ops) }
