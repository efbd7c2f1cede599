package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// OnRule is one --on SYSCALL=ACTION: Syscall is the canonical name.
type OnRule struct {
	Syscall string
	Action  handler.Action
}

// String returns the rule in the form ParseOn accepts, with the canonical
// syscall name and action: "getppid=ret:777", "openat=errno:EACCES".
func (r OnRule) String() string {
	return r.Syscall + "=" + formatAction(r.Action)
}

// ParseOn parses SYSCALL=ACTION, where ACTION is continue, kill,
// errno:NAME, errno:NUMBER (1..4095) or ret:N (return:N, the form of
// handler.Action.String, is accepted too).
func ParseOn(s string, arch *syscalls.Arch) (OnRule, error) {
	name, act, ok := strings.Cut(s, "=")
	if !ok {
		return OnRule{}, errors.New("want SYSCALL=ACTION")
	}
	canon, err := canonicalSyscall(name, arch)
	if err != nil {
		return OnRule{}, err
	}
	a, err := parseAction(act)
	if err != nil {
		return OnRule{}, err
	}
	return OnRule{Syscall: canon, Action: a}, nil
}

const actionForms = "continue, errno:NAME, errno:NUMBER, ret:N or kill"

func parseAction(s string) (handler.Action, error) {
	switch s {
	case "continue":
		return handler.Continue(), nil
	case "kill":
		return handler.Kill(), nil
	}
	kind, arg, _ := strings.Cut(s, ":")
	switch kind {
	case "errno":
		e, err := parseErrno(arg)
		if err != nil {
			return handler.Action{}, err
		}
		return handler.Errno(e), nil
	case "ret", "return":
		v, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			return handler.Action{}, fmt.Errorf("return value %q is not a 64-bit integer", arg)
		}
		return handler.ReturnValue(v), nil
	}
	return handler.Action{}, fmt.Errorf("unknown action %q (want %s)", s, actionForms)
}

// formatAction is the inverse of parseAction.
func formatAction(a handler.Action) string {
	switch a.Kind() {
	case handler.KindReturnValue:
		return "ret:" + strconv.FormatInt(a.Value(), 10)
	case handler.KindErrno:
		return "errno:" + formatErrno(a.Errno())
	}
	return a.String()
}

// maxErrno is the largest errno a syscall can return (MAX_ERRNO).
const maxErrno = 4095

// errnoAliases are second names of a number; unix.ErrnoName gives the
// first.
var errnoAliases = map[string]unix.Errno{
	"EWOULDBLOCK": unix.EWOULDBLOCK,
	"EDEADLOCK":   unix.EDEADLOCK,
	"EOPNOTSUPP":  unix.EOPNOTSUPP,
	"EUCLEAN":     unix.EUCLEAN,
}

// errnoByName inverts unix.ErrnoName (x/sys has no name-to-number lookup).
var errnoByName = func() map[string]unix.Errno {
	m := make(map[string]unix.Errno)
	for e := unix.Errno(1); e <= maxErrno; e++ {
		if name := unix.ErrnoName(e); name != "" {
			m[name] = e
		}
	}
	for name, e := range errnoAliases {
		m[name] = e
	}
	return m
}()

// parseErrno parses an errno name (EACCES, case-insensitive) or number.
func parseErrno(s string) (unix.Errno, error) {
	if s == "" {
		return 0, errors.New("errno: missing NAME or NUMBER (e.g. errno:EACCES)")
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("errno %q is not a number", s)
		}
		if n < 1 || n > maxErrno {
			return 0, fmt.Errorf("errno %d out of range 1..%d", n, maxErrno)
		}
		return unix.Errno(n), nil
	}
	if e, ok := errnoByName[asciiUpper(s)]; ok {
		return e, nil
	}
	return 0, fmt.Errorf("unknown errno %q (want a name such as EACCES or a number)", s)
}

// asciiUpper upper-cases ASCII letters only (strings.ToUpper would turn
// some non-ASCII letters into ASCII ones).
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// formatErrno returns the name of e, or its number when it has none.
func formatErrno(e unix.Errno) string {
	if name := unix.ErrnoName(e); name != "" {
		return name
	}
	return strconv.Itoa(int(e))
}

// ParseDeny parses SYSCALL[,SYSCALL...] into canonical names, in order,
// without repeats.
func ParseDeny(s string, arch *syscalls.Arch) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	for _, n := range strings.Split(s, ",") {
		canon, err := canonicalSyscall(strings.TrimSpace(n), arch)
		if err != nil {
			return nil, err
		}
		if !seen[canon] {
			seen[canon] = true
			names = append(names, canon)
		}
	}
	return names, nil
}

// canonicalSyscall checks name on arch and returns its canonical form
// ("newfstatat" for the alias "fstatat").
func canonicalSyscall(name string, arch *syscalls.Arch) (string, error) {
	if name == "" {
		return "", errors.New("empty syscall name")
	}
	nr, err := arch.Number(name)
	if err != nil {
		return "", err
	}
	canon, _ := arch.Name(nr)
	return canon, nil
}
