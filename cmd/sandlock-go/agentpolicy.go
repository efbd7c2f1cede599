package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/sandbox/agent"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// registerContainerPolicies registers on t the path policies of one
// container: the profile its listenerMetadata names (profile=NAME, from
// --profiles DIR), or else the agent's --allow-path, --deny-path and
// --allow-exec; each resolves the container's paths in its root. A
// profile that cannot be used (a bad name, a missing or invalid file) is
// logged, and t is replaced by a table that answers every syscall of the
// container that reaches the agent with the --on-exception policy, the
// --on rules included (fail closed).
func registerContainerPolicies(t *handler.Table, cfg *agentConfig, st agent.State, arch *syscalls.Arch, logf func(string, ...any)) (*handler.Table, error) {
	flags := &cfg.Paths
	var prof *Profile
	if name, ok := st.MetadataValue("profile"); ok && cfg.Profiles != "" {
		p, err := loadContainerProfile(cfg.Profiles, name)
		if err != nil {
			logf("%s: profile: %v: answering every call with --on-exception %s", st, err, cfg.OnException)
			t = handler.NewTable(arch)
			return t, registerAll(t, exceptionHandler(cfg.OnException))
		}
		prof = p
		flags = &policyFlags{profile: name, traced: true}
		if len(p.Network.Connect)+len(p.Network.Bind) > 0 || p.Processes.Max > 0 {
			logf("%s: profile %s: its network and processes sections are not enforced in agent mode", st, name)
		}
	}
	regs, err := buildPolicies(flags, prof, arch)
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	for _, reg := range regs {
		h, ok, err := inContainerRoot(reg.h, st.Root())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", reg.flag, err)
		}
		if !ok {
			continue // a profile's network or processes policy
		}
		for _, name := range reg.syscalls {
			if err := t.RegisterName(name, h); err != nil {
				return nil, fmt.Errorf("%s: %w", reg.flag, err)
			}
		}
	}
	return t, nil
}

// inContainerRoot returns the path policy h resolving paths in root; ok
// is false for a handler that is not a path policy.
func inContainerRoot(h handler.Handler, root *pathpolicy.Root) (handler.Handler, bool, error) {
	switch h.(type) {
	case *pathpolicy.OpenPolicy, *pathpolicy.ExecPolicy, *dirFallback:
	default:
		return nil, false, nil
	}
	if root == nil {
		return nil, false, errors.New("the container's root cannot be opened: no path policy")
	}
	switch p := h.(type) {
	case *pathpolicy.OpenPolicy:
		q, err := p.WithRoot(root)
		return q, err == nil, err
	case *pathpolicy.ExecPolicy:
		q, err := p.WithRoot(root)
		return q, err == nil, err
	case *dirFallback:
		files, err := p.files.WithRoot(root)
		if err != nil {
			return nil, false, err
		}
		dirs, err := p.dirs.WithRoot(root)
		if err != nil {
			return nil, false, err
		}
		return newDirFallback(files, dirs), true, nil
	}
	return nil, false, nil
}

// maxProfileName bounds a profile name (a file name, with ".toml").
const maxProfileName = 250

// profileName checks the NAME of profile=NAME: a plain file name, no path
// separator, not "." or "..", no leading dot, no control character.
func profileName(name string) error {
	switch {
	case name == "":
		return errors.New("empty profile name")
	case len(name) > maxProfileName:
		return fmt.Errorf("profile name of %d bytes: at most %d", len(name), maxProfileName)
	case strings.ContainsRune(name, '/') || strings.ContainsRune(name, '\\'):
		return fmt.Errorf("profile name %q has a path separator", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("profile name %q starts with a dot", name)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }):
		return fmt.Errorf("profile name %q has a control character", name)
	}
	return nil
}

// loadContainerProfile reads DIR/NAME.toml, opened beneath dir (a symlink
// in dir cannot lead out of it).
func loadContainerProfile(dir, name string) (*Profile, error) {
	if err := profileName(name); err != nil {
		return nil, err
	}
	f, err := os.OpenInRoot(dir, name+".toml")
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, unwrapPath(err))
	}
	defer f.Close()
	p, err := readProfile(f)
	if err != nil {
		return nil, fmt.Errorf("%s/%s.toml: %w", dir, name, err)
	}
	return p, nil
}

// exceptionHandler answers every call as the exception policy p does.
func exceptionHandler(p handler.ExceptionPolicy) handler.Handler {
	a := handler.Kill()
	switch p {
	case handler.ExceptionDenyEPERM:
		a = handler.Errno(unix.EPERM)
	case handler.ExceptionDenyEIO:
		a = handler.Errno(unix.EIO)
	case handler.ExceptionContinue:
		a = handler.Continue()
	}
	return handler.WithExceptionPolicy(handler.Func(func(*handler.Ctx) handler.Action { return a }), p)
}

// registerAll registers h on every syscall of t's architecture, after
// what is there already.
func registerAll(t *handler.Table, h handler.Handler) error {
	for _, sc := range t.Arch().Syscalls() {
		if err := t.RegisterName(sc.Name, h); err != nil {
			return err
		}
	}
	return nil
}
