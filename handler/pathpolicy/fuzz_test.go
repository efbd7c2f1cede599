package pathpolicy

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// FuzzPatterns compiles a path pattern (--allow-path, --deny-path,
// --allow-exec, a profile's lists) and matches a path against it: no
// panic; a bad pattern is a *PatternError of one line naming it; an
// accepted pattern covers what it names: a plain path itself and what is
// beneath it, a glob every path filepath.Match matches and what is beneath
// those.
func FuzzPatterns(f *testing.F) {
	f.Fuzz(func(t *testing.T, pattern, path string) {
		if len(pattern) > 4096 || len(path) > 4096 { // PATH_MAX
			return
		}
		r, err := compile(Rules{Allow: []string{pattern}})
		if err != nil {
			var pe *PatternError
			if !errors.As(err, &pe) || pe.Pattern != pattern {
				t.Fatalf("compile(%q): %v, not a *PatternError naming it", pattern, err)
			}
			if msg := err.Error(); strings.ContainsFunc(msg, unicode.IsControl) {
				t.Fatalf("compile(%q) error %q: want one line without control characters", pattern, msg)
			}
			return
		}
		m := r.allow
		if m.empty() {
			t.Fatalf("pattern %q compiled to nothing", pattern)
		}
		clean := filepath.Clean(pattern)
		p := filepath.Clean("/" + path)
		if strings.ContainsAny(pattern, "*?[") {
			if ok, _ := filepath.Match(clean, p); ok && !m.match(p) {
				t.Fatalf("glob %q matches %q but the rule does not", pattern, p)
			}
			if ok, _ := filepath.Match(clean, p); ok && !m.match(filepath.Join(p, "child")) {
				t.Fatalf("glob %q matches %q but the rule does not cover beneath it", pattern, p)
			}
		} else {
			if !m.match(clean) || !m.match(filepath.Join(clean, "x")) {
				t.Fatalf("pattern %q does not cover %q and beneath", pattern, clean)
			}
			if !r.allowed(clean) {
				t.Fatalf("allow %q does not allow %q", pattern, clean)
			}
		}
		_ = m.match(p)
		_ = m.beneath(p)
		_ = m.beneath("/")
	})
}

// FuzzParseShebang reads the first bytes of a file a child asks to exec:
// no panic; an interpreter is found only after "#!" in the first 256
// bytes, is not empty, holds no blank, NUL or newline, and the bytes past
// 256 do not change the answer.
func FuzzParseShebang(f *testing.F) {
	f.Fuzz(func(t *testing.T, head []byte) {
		interp, ok := ParseShebang(head)
		if !ok {
			if interp != "" {
				t.Fatalf("ParseShebang(%q) = %q, false", head, interp)
			}
		} else {
			if interp == "" || strings.ContainsAny(interp, " \t\x00\n") || !bytes.HasPrefix(head, []byte("#!")) {
				t.Fatalf("ParseShebang(%q) = %q", head, interp)
			}
			if len(interp) > binprmBufSize-3 || !bytes.Contains(head[:min(len(head), binprmBufSize)], []byte(interp)) {
				t.Fatalf("ParseShebang(%q) = %q, not from the first %d bytes", head, interp, binprmBufSize)
			}
		}
		if len(head) > binprmBufSize {
			if i2, ok2 := ParseShebang(head[:binprmBufSize]); i2 != interp || ok2 != ok {
				t.Fatalf("ParseShebang of %d bytes = %q, %v; of the first %d = %q, %v", len(head), interp, ok, binprmBufSize, i2, ok2)
			}
		}
	})
}
