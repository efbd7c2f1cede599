package sandbox

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/notif"
)

// landlockNetABI added the TCP bind and connect rights (Linux 6.7).
const landlockNetABI = 4

// maxInterpreters is how many #! interpreters the kernel follows before
// ELOOP (fs/exec.c: exec_binprm).
const maxInterpreters = 5

// policyLayer is the kernel layer under the handlers' network and exec
// policies (Policy.TCPConnectPorts, TCPBindPorts, ExecPaths): one Landlock
// layer, on the command and on the confined threads that act for it.
type policyLayer struct {
	RestrictConnect bool     `json:",omitempty"`
	ConnectPorts    []uint16 `json:",omitempty"`
	RestrictBind    bool     `json:",omitempty"`
	BindPorts       []uint16 `json:",omitempty"`
	RestrictExec    bool     `json:",omitempty"`
	// ExecPaths are granted the execute right: Policy.ExecPaths, the
	// command and the interpreters it needs to start.
	ExecPaths []string `json:",omitempty"`
}

// policyLayer returns the layer of p for the command at path, nil when p
// restricts neither TCP ports nor exec.
func (p *Policy) policyLayer(path string) *policyLayer {
	l := &policyLayer{
		RestrictConnect: p.TCPConnectPorts != nil, ConnectPorts: p.TCPConnectPorts,
		RestrictBind: p.TCPBindPorts != nil, BindPorts: p.TCPBindPorts,
		RestrictExec: p.ExecPaths != nil,
	}
	if l.RestrictExec {
		l.ExecPaths = append(l.ExecPaths, p.ExecPaths...)
		for _, e := range p.ExecPaths {
			if interp := elfInterpreter(e); interp != "" {
				l.ExecPaths = append(l.ExecPaths, interp)
			}
		}
		// The command the caller named starts whatever the policy
		// says, as under the supervisor's exec policy, and so do the
		// interpreters that make it run.
		l.ExecPaths = append(l.ExecPaths, path)
		l.ExecPaths = append(l.ExecPaths, startInterpreters(path)...)
	}
	if !l.RestrictConnect && !l.RestrictBind && !l.RestrictExec {
		return nil
	}
	return l
}

// startInterpreters returns what the kernel executes to start path: the
// #! interpreters (up to the kernel's depth) and the ELF interpreter (the
// dynamic loader) of the last one.
func startInterpreters(path string) []string {
	var out []string
	for range maxInterpreters {
		head := make([]byte, 256)
		f, err := os.Open(path)
		if err != nil {
			break
		}
		n, _ := f.Read(head)
		f.Close()
		interp, ok := pathpolicy.ParseShebang(head[:n])
		if !ok {
			break
		}
		if !filepath.IsAbs(interp) {
			break // relative to the command's directory: not granted
		}
		out = append(out, interp)
		path = interp
	}
	if interp := elfInterpreter(path); interp != "" {
		out = append(out, interp)
	}
	return out
}

// elfInterpreter returns the PT_INTERP of the ELF file at path, "" when
// it is not one or has none.
func elfInterpreter(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, min(prog.Filesz, unix.PathMax))
		if _, err := prog.ReadAt(b, 0); err != nil {
			return ""
		}
		return string(bytes.TrimRight(b, "\x00"))
	}
	return ""
}

// restrictThread adds the layer to the calling (locked) thread, which has
// no_new_privs; a nil layer adds nothing. Rights the kernel lacks are left
// out (TCP rules need ABI 4, Linux 6.7).
func (l *policyLayer) restrictThread() error {
	if l == nil {
		return nil
	}
	abi, err := notif.LandlockABI()
	if err != nil && !errors.Is(err, notif.ErrNotSupported) {
		return err
	}
	var fs, net uint64
	if l.RestrictExec && abi >= 1 {
		fs = unix.LANDLOCK_ACCESS_FS_EXECUTE
	}
	if abi >= landlockNetABI {
		if l.RestrictConnect {
			net |= unix.LANDLOCK_ACCESS_NET_CONNECT_TCP
		}
		if l.RestrictBind {
			net |= unix.LANDLOCK_ACCESS_NET_BIND_TCP
		}
	}
	if fs == 0 && net == 0 {
		return nil
	}
	ruleset, err := landlockCreateRuleset(fs, net, 0)
	if err != nil {
		return fmt.Errorf("landlock_create_ruleset (policy layer): %w", err)
	}
	defer unix.Close(ruleset)
	for _, r := range []struct {
		on     bool
		right  uint64
		ports  []uint16
		action string
	}{
		{net&unix.LANDLOCK_ACCESS_NET_CONNECT_TCP != 0, unix.LANDLOCK_ACCESS_NET_CONNECT_TCP, l.ConnectPorts, "connect"},
		{net&unix.LANDLOCK_ACCESS_NET_BIND_TCP != 0, unix.LANDLOCK_ACCESS_NET_BIND_TCP, l.BindPorts, "bind"},
	} {
		if !r.on {
			continue
		}
		for _, port := range r.ports {
			if err := landlockAddNetRule(ruleset, r.right, port); err != nil {
				return fmt.Errorf("landlock_add_rule TCP %s port %d: %w", r.action, port, err)
			}
		}
	}
	if fs != 0 {
		for _, p := range l.ExecPaths {
			err := addPathRule(ruleset, landlockRule{path: p, rights: fs})
			if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.ENOTDIR) {
				return fmt.Errorf("exec rule: %w", err)
			}
		}
	}
	if err := landlockRestrictSelf(ruleset); err != nil {
		return fmt.Errorf("landlock_restrict_self (policy layer): %w", err)
	}
	return nil
}
