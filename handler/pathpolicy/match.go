package pathpolicy

import (
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

func newMatcher(patterns []string) (matcher, error) {
	var m matcher
	for _, p := range patterns {
		if p == "" {
			return m, fmt.Errorf("empty path pattern")
		}
		if !filepath.IsAbs(p) {
			return m, fmt.Errorf("path pattern %q is not absolute", p)
		}
		if strings.ContainsAny(p, "*?[") {
			if _, err := filepath.Match(p, "/"); err != nil {
				return m, fmt.Errorf("path pattern %q: %w", p, err)
			}
			m.globs = append(m.globs, filepath.Clean(p))
			continue
		}
		m.prefixes = append(m.prefixes, filepath.Clean(p))
	}
	return m, nil
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
