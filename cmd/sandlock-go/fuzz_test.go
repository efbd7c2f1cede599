package main

import (
	"strings"
	"testing"

	"github.com/sandlock-go/sandlock-go/syscalls"
)

// FuzzParseOn: no panic; an accepted rule names a syscall of the arch and
// has a valid action; its String is accepted again as the same rule and
// is a fixed point.
func FuzzParseOn(f *testing.F) {
	for _, s := range []string{
		"getppid=ret:777", "openat=errno:EACCES", "openat=errno:13", "execve=kill",
		"fstatat=continue", "getppid=return:-1", "getppid=errno:eacces", "x=y", "=", "",
		"getppid=errno:4096", "getppid=ret:9223372036854775808",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, arch := range syscalls.Arches() {
			r, err := ParseOn(s, arch)
			if err != nil {
				if r != (OnRule{}) {
					t.Fatalf("ParseOn(%q) failed with %v but returned %v", s, err, r)
				}
				continue
			}
			if err := r.Action.Valid(); err != nil {
				t.Fatalf("ParseOn(%q) accepted an invalid action: %v", s, err)
			}
			if _, err := arch.Number(r.Syscall); err != nil {
				t.Fatalf("ParseOn(%q) returned syscall %q: %v", s, r.Syscall, err)
			}
			canon := r.String()
			r2, err := ParseOn(canon, arch)
			if err != nil {
				t.Fatalf("ParseOn(%q) = %q, which does not parse: %v", s, canon, err)
			}
			if r2 != r {
				t.Fatalf("ParseOn(%q) = %v, but its String %q parses as %v", s, r, canon, r2)
			}
			if r2.String() != canon {
				t.Fatalf("String of %q is not a fixed point: %q, then %q", s, canon, r2.String())
			}
		}
	})
}

// FuzzParseDeny: no panic; accepted names are canonical, distinct syscalls
// of the arch, and joining them parses back to the same list.
func FuzzParseDeny(f *testing.F) {
	for _, s := range []string{
		"getppid", "mkdir,mkdirat", "mkdir, mkdirat", "fstatat,newfstatat", "", ",", "mkdir,,rmdir", "open",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, arch := range syscalls.Arches() {
			names, err := ParseDeny(s, arch)
			if err != nil {
				if names != nil {
					t.Fatalf("ParseDeny(%q) failed with %v but returned %v", s, err, names)
				}
				continue
			}
			if len(names) == 0 {
				t.Fatalf("ParseDeny(%q) accepted no syscall", s)
			}
			seen := map[int]bool{}
			for _, n := range names {
				nr, err := arch.Number(n)
				if err != nil {
					t.Fatalf("ParseDeny(%q) returned %q: %v", s, n, err)
				}
				if canon, _ := arch.Name(nr); canon != n {
					t.Fatalf("ParseDeny(%q) returned %q, not its canonical name %q", s, n, canon)
				}
				if seen[nr] {
					t.Fatalf("ParseDeny(%q) returned syscall %d twice: %v", s, nr, names)
				}
				seen[nr] = true
			}
			joined := strings.Join(names, ",")
			again, err := ParseDeny(joined, arch)
			if err != nil || strings.Join(again, ",") != joined {
				t.Fatalf("ParseDeny(%q) = %v; ParseDeny(%q) = %v, %v", s, names, joined, again, err)
			}
		}
	})
}
