package main

import (
	"fmt"
	"strings"
	"sync"

	"github.com/sandlock-go/sandlock-go/handler/netpolicy"
	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
)

// maxNamedDenials is how many denials the note names.
const maxNamedDenials = 3

// denials collects what the policy flags denied during a run, for the
// note run prints at the end (off with --quiet). It is safe for
// concurrent use.
type denials struct {
	mu    sync.Mutex
	n     int
	named []string
	// unseen names the flag whose denials the kernel makes alone
	// (Landlock, no trap): they cannot be counted, only hinted at.
	unseen string
}

// kernelDecides records that flag's denials of opens are the kernel's
// alone, unseen by the supervisor.
func (d *denials) kernelDecides(flag string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unseen = flag
}

// hint is the line to print when the command failed and some denials may
// have gone uncounted, "" otherwise.
func (d *denials) hint(status int) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if status == 0 || d.unseen == "" {
		return ""
	}
	return "sandlock-go: opens outside " + d.unseen + " are refused by the kernel (Landlock) and not counted; --trace - lists them"
}

// add records one denial: what was denied and the rule responsible.
func (d *denials) add(what, rule string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := what + " (" + rule + ")"
	for _, x := range d.named {
		if x == s {
			return // the same denial again (a retry) counts once
		}
	}
	d.n++
	if len(d.named) < maxNamedDenials {
		d.named = append(d.named, s)
	}
}

// note is the line to print, "" when nothing was denied:
// "sandlock-go: denied open /etc/shadow (--deny-path /etc/shadow); 3 more denials".
func (d *denials) note() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == 0 {
		return ""
	}
	s := "sandlock-go: denied " + strings.Join(d.named, ", ")
	switch more := d.n - len(d.named); more {
	case 0:
	case 1:
		s += "; 1 more denial"
	default:
		s += fmt.Sprintf("; %d more denials", more)
	}
	return s
}

// opName is how the note names a path syscall: open for the open family.
func opName(syscall string) string {
	switch syscall {
	case "open", "openat", "openat2", "creat":
		return "open"
	case "execve", "execveat":
		return "exec"
	}
	return syscall
}

// openRule names the rule that denied path: the --deny-path pattern that
// covers it, else the allow list it is missing from.
func (f *policyFlags) openRule(path string) string {
	for _, d := range f.denyPath {
		if p, err := pathpolicy.NewOpenPolicy(pathpolicy.Rules{Allow: []string{d}}); err == nil && p.Allowed(path) {
			return "--deny-path " + d
		}
	}
	if f.profile != "" {
		return "not in --profile " + f.profile
	}
	return "not under --allow-path"
}

// onOpen returns the OnDecision of a files policy of f.
func (f *policyFlags) onOpen() func(pathpolicy.Decision) {
	if f.denied == nil {
		return nil
	}
	return func(d pathpolicy.Decision) {
		if !d.Allowed {
			f.denied.add(opName(d.Syscall)+" "+d.Path, f.openRule(d.Path))
		}
	}
}

// onExec returns the OnDecision of the exec policy of f.
func (f *policyFlags) onExec() func(pathpolicy.Decision) {
	if f.denied == nil {
		return nil
	}
	return func(d pathpolicy.Decision) {
		if d.Allowed {
			return
		}
		rule := "not under --allow-exec"
		if f.profile != "" {
			rule = "not in --profile " + f.profile
		}
		f.denied.add("exec "+d.Path, rule)
	}
}

// onNet returns the OnDecision of the network policy of f.
func (f *policyFlags) onNet() func(netpolicy.Decision) {
	if f.denied == nil {
		return nil
	}
	return func(d netpolicy.Decision) {
		if d.Allowed {
			return
		}
		rule := "not in --allow-connect"
		if d.Syscall == "bind" {
			rule = "not in --allow-bind"
		}
		if f.profile != "" {
			rule = "not in --profile " + f.profile
		}
		f.denied.add(d.Syscall+" "+d.Address, rule)
	}
}
