package pathpolicy

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// matcher holds path patterns: a plain absolute path matches itself and
// everything beneath it; a pattern with *, ? or [ is a filepath.Match glob
// that matches a path when it matches the path or one of its ancestors.
type matcher struct {
	prefixes []string
	globs    []string
}

// PatternError is a path pattern a policy cannot take, and why.
type PatternError struct {
	Pattern string
	Err     error
}

// errNotAbsolute is PatternError.Err for a relative pattern.
var errNotAbsolute = errors.New("is not absolute")

// Error says which pattern and why.
func (e *PatternError) Error() string {
	switch {
	case e.Pattern == "":
		return "empty path pattern"
	case errors.Is(e.Err, errNotAbsolute):
		return fmt.Sprintf("path pattern %q is not absolute", e.Pattern)
	}
	return fmt.Sprintf("path pattern %q: %v", e.Pattern, e.Err)
}

// Unwrap returns the cause.
func (e *PatternError) Unwrap() error { return e.Err }

func newMatcher(patterns []string) (matcher, error) {
	var m matcher
	for _, p := range patterns {
		if p == "" {
			return m, &PatternError{Pattern: p, Err: errors.New("empty")}
		}
		if !filepath.IsAbs(p) {
			return m, &PatternError{Pattern: p, Err: errNotAbsolute}
		}
		if strings.ContainsAny(p, "*?[") {
			if _, err := filepath.Match(p, "/"); err != nil {
				return m, &PatternError{Pattern: p, Err: err}
			}
			m.globs = append(m.globs, filepath.Clean(p))
			continue
		}
		m.prefixes = append(m.prefixes, filepath.Clean(p))
	}
	return m, nil
}

// canonical returns the patterns of m with the directories they name
// through symlinks resolved (see canonicalPattern), each original kept
// too, so that the rule means the real directory and still covers the
// symlink's own name.
func (m matcher) canonical(root *Root) matcher {
	var out matcher
	for _, p := range m.prefixes {
		out.prefixes = appendNew(out.prefixes, p, root.canonicalPattern(p))
	}
	for _, g := range m.globs {
		out.globs = appendNew(out.globs, g, root.canonicalPattern(g))
	}
	return out
}

func appendNew(list []string, values ...string) []string {
	for _, v := range values {
		found := false
		for _, w := range list {
			found = found || w == v
		}
		if !found {
			list = append(list, v)
		}
	}
	return list
}

// canonicalPattern resolves the symlinks in the literal leading part of a
// pattern (the components before the first one with a glob character):
// the longest prefix of them that exists is replaced by its real path
// (filepath.EvalSymlinks), the rest is kept. /var/run/x becomes /run/x
// where /var/run is a symlink to /run, also when x does not exist yet.
// The symlinks are those of root r (the host's when r is nil).
func (r *Root) canonicalPattern(p string) string {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	literal := len(parts)
	for i, part := range parts {
		if strings.ContainsAny(part, "*?[") {
			literal = i
			break
		}
	}
	for n := literal; n > 0; n-- {
		head := "/" + strings.Join(parts[:n], "/")
		real, err := r.evalSymlinks(head)
		if err != nil {
			continue
		}
		return filepath.Join(append([]string{real}, parts[n:]...)...)
	}
	return p
}

// beneath reports whether something strictly beneath the clean absolute
// directory path dir may match m: a prefix below dir, or a glob whose
// leading components match dir's. Moving dir would move that too.
func (m matcher) beneath(dir string) bool {
	for _, pre := range m.prefixes {
		if dir == "/" || strings.HasPrefix(pre, dir+"/") {
			return true
		}
	}
	dparts := splitPath(dir)
	for _, g := range m.globs {
		gparts := splitPath(g)
		if len(gparts) <= len(dparts) {
			continue
		}
		match := true
		for i, d := range dparts {
			if ok, _ := filepath.Match(gparts[i], d); !ok {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func (m matcher) empty() bool { return len(m.prefixes) == 0 && len(m.globs) == 0 }

// match reports whether the clean absolute path p is covered.
func (m matcher) match(p string) bool {
	for _, pre := range m.prefixes {
		if p == pre || pre == "/" || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	for _, g := range m.globs {
		for q := p; ; q = filepath.Dir(q) {
			if ok, _ := filepath.Match(g, q); ok {
				return true
			}
			if q == "/" {
				break
			}
		}
	}
	return false
}
