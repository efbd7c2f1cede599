package main

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Generalization turns what one learning run saw into rules that still
// hold on the next run of the same command, without reaching anything the
// program did not touch outside the places it may create names in. The
// rules (docs/cli.md, "How learn generalizes"):
//
//   - tempRule: a path under a temporary root (/tmp, /var/tmp, /dev/shm,
//     $TMPDIR, /run/user/UID) whose entry in the root did not exist when
//     the run started becomes a glob of the entry's fixed prefix ("cc*",
//     "sem.*") or, without one, of its shape (tempGlob), unless the glob
//     matches an entry that existed before the run, in which case it
//     stays the entry's exact name;
//   - createdRule: a path beneath a directory the run created becomes
//     that directory (which covers everything beneath it), for opens and
//     for execs (a program the run built there);
//   - procRule: /proc/PID/... and /proc/PID/task/TID/... become
//     /proc/*/... (the open policy refuses the /proc of processes outside
//     the run whatever the rules say);
//   - toolRule: programs executed from a toolchain's private directory
//     (/usr/lib/X/..., /usr/libexec/...) allow that directory's programs
//     (exec rules only);
//   - libRule: a directory of the system's code and data trees (/usr,
//     /lib*, /opt: world-readable, no secrets), or of the library
//     directory of the installation prefix of a program the run executed
//     (P/lib of P/bin/python3, when that tree is open to everyone and
//     has no dot-names beneath P/lib), from which the run read libDirFiles
//     or more files (those of its __pycache__ count as its own) becomes a
//     directory rule, so that the same program with other arguments finds
//     its other modules, headers and data;
//     /etc, homes and everything else stay exact;
//   - processes.max doubles (at least +2), as fork timing varies.
//
// Nothing else changes: other paths stay exact.

// tempRoots returns the temporary and runtime directories, canonical and
// existing: /tmp, /var/tmp, /dev/shm, $TMPDIR and /run/user/UID.
func tempRoots() []string {
	cands := []string{"/tmp", "/var/tmp", "/dev/shm", os.Getenv("TMPDIR"), "/run/user/" + strconv.Itoa(os.Getuid())}
	var out []string
	for _, c := range cands {
		if c == "" || !filepath.IsAbs(c) {
			continue
		}
		real, err := filepath.EvalSymlinks(c)
		if err != nil {
			continue
		}
		if st, err := os.Stat(real); err != nil || !st.IsDir() || real == "/" {
			continue
		}
		for _, p := range []string{filepath.Clean(c), real} {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// tempSnapshot is the entries of each temporary root before the run.
type tempSnapshot map[string][]string

// snapshotTemp lists the entries of roots.
func snapshotTemp(roots []string) tempSnapshot {
	s := tempSnapshot{}
	for _, r := range roots {
		ents, err := os.ReadDir(r)
		if err != nil {
			s[r] = nil
			continue
		}
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			names = append(names, e.Name())
		}
		s[r] = names
	}
	return s
}

// generalizer holds what generalization needs besides the recorded paths.
type generalizer struct {
	before tempSnapshot
	// created are the directories the run created (lexical and
	// canonical names).
	created map[string]bool
	// kept are notes on names left exact where a rule would have widened
	// to something that existed before the run.
	kept []string
}

// tempRoot returns the temporary root p lies strictly beneath, the
// longest one, and the first component beneath it.
func (g *generalizer) tempRoot(p string) (root, entry string, ok bool) {
	for r := range g.before {
		if strings.HasPrefix(p, r+"/") && len(r) > len(root) {
			root = r
		}
	}
	if root == "" {
		return "", "", false
	}
	rest := p[len(root)+1:]
	entry, _, _ = strings.Cut(rest, "/")
	return root, entry, entry != ""
}

// tempPattern is tempRule for p; ok is false when it does not apply.
func (g *generalizer) tempPattern(p string) (string, bool) {
	root, entry, ok := g.tempRoot(p)
	if !ok || slices.Contains(g.before[root], entry) {
		return "", false
	}
	pat, ok := tempGlob(entry)
	if !ok {
		return root + "/" + entry, true
	}
	for _, old := range g.before[root] {
		if ok, _ := filepath.Match(pat, old); ok {
			g.kept = append(g.kept, root+"/"+entry+" (a glob would cover "+root+"/"+old+")")
			return root + "/" + entry, true
		}
	}
	return root + "/" + pat, true
}

// wordClass is what a character of a random name may be: mkstemp draws
// from letters and digits, Python's tempfile from lowercase letters,
// digits and "_".
const wordClass = "[A-Za-z0-9_]"

// tempGlob is the glob of the temporary name of an entry that varies
// between runs; ok is false when the name shows nothing that varies (it
// stays exact). In order:
//
//   - "tmp" and more (Python's tmpXXXXXXXX): tmp*;
//   - a short lowercase word before "." or "-" (sem.mp-x8k2, pymp-3k2j,
//     go-build123): that word and its separator, then *;
//   - a name of six or more letters, digits and "_" (before its first
//     "."), with an uppercase letter (mkstemp's alphabet) and two or more
//     lowercase letters before its last six characters (ccQ6jPfA.s): those
//     letters, then *;
//   - any other such name (Python's test name c6o3qjhl, or mkstemp's
//     without a prefix): its shape, each of those characters a wordClass,
//     the rest as is, since its first letters may be random as well.
func tempGlob(name string) (string, bool) {
	if strings.HasPrefix(name, "tmp") && len(name) > 3 {
		return "tmp*", true
	}
	if i := strings.IndexAny(name, ".-"); i > 0 && i <= 6 && isLower(name[:i]) {
		return name[:i+1] + "*", true
	}
	base, suffix, dot := strings.Cut(name, ".")
	if len(base) < 6 || !isWord(base) {
		return "", false
	}
	if strings.ContainsAny(base, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
		lower := 0
		for lower < len(base)-6 && base[lower] >= 'a' && base[lower] <= 'z' {
			lower++
		}
		if lower >= 2 {
			return base[:lower] + "*", true
		}
	}
	pat := strings.Repeat(wordClass, len(base))
	if dot {
		pat += "." + globEscape(suffix)
	}
	return pat, true
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

// isWord reports whether s is letters, digits and "_" only.
func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// globEscape quotes the glob characters of s.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// createdDir returns the outermost directory the run created that p is
// or lies beneath.
func (g *generalizer) createdDir(p string) (string, bool) {
	best := ""
	for d := range g.created {
		if (p == d || strings.HasPrefix(p, d+"/")) && (best == "" || len(d) < len(best)) {
			best = d
		}
	}
	return best, best != ""
}

// procPattern is procRule: /proc/PID/x becomes /proc/*/x and
// /proc/PID/task/TID/x /proc/*/task/*/x.
func procPattern(p string) (string, bool) {
	parts := strings.Split(p, "/") // "", "proc", PID, ...
	if len(parts) < 3 || parts[1] != "proc" || !isNumber(parts[2]) {
		return "", false
	}
	parts[2] = "*"
	if len(parts) >= 5 && parts[3] == "task" && isNumber(parts[4]) {
		parts[4] = "*"
	}
	return strings.Join(parts, "/"), true
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// path applies tempRule, createdRule and procRule to one open path.
func (g *generalizer) path(p string) string {
	if pat, ok := g.tempPattern(p); ok {
		return pat
	}
	if d, ok := g.createdDir(p); ok {
		return d
	}
	if pat, ok := procPattern(p); ok {
		return pat
	}
	return p
}

// toolDirs are where toolchains keep the programs they run
// (gcc's cc1 and collect2, go's compile and link).
var toolDirs = []string{"/usr/lib/", "/usr/libexec/", "/usr/local/lib/", "/usr/local/libexec/", "/usr/local/go/pkg/tool/"}

// execs applies createdRule and toolRule: a program executed from
// beneath a directory the run created allows that directory (the run made
// what is in it), and one executed from beneath a toolDirs entry the
// programs of its directory.
func (g *generalizer) execs(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if d, ok := g.createdDir(p); ok {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
			continue
		}
		dir := filepath.Dir(p)
		tool := false
		for _, t := range toolDirs {
			// Not the tool directory itself: /usr/lib/gcc/..., not /usr/lib.
			if strings.HasPrefix(dir+"/", t) && len(dir)+1 > len(t) {
				tool = true
			}
		}
		if st, err := os.Stat(p); tool && err == nil && st.Mode().IsRegular() {
			out = append(out, dir)
			continue
		}
		out = append(out, p)
	}
	return out
}

// generalize rewrites a learned profile in place by the rules above.
func (g *generalizer) generalize(p *Profile) {
	for _, l := range []*pathList{&p.Open.Files, &p.Open.Dirs} {
		for i, s := range *l {
			(*l)[i] = g.path(s)
		}
	}
	// A directory rule in files (a created directory, a temporary
	// glob) covers the same in dirs, and a created directory in dirs
	// (made by mkdir, listed, nothing opened beneath it) the same in
	// files, where mkdir, rmdir and the rest are decided.
	for _, s := range p.Open.Files {
		_, _, temp := g.tempRoot(s)
		if (g.created[s] || temp && strings.ContainsAny(s, "*?[")) && !slices.Contains(p.Open.Dirs, s) {
			p.Open.Dirs = append(p.Open.Dirs, s)
		}
	}
	for _, s := range p.Open.Dirs {
		if g.created[s] && !slices.Contains(p.Open.Files, s) {
			p.Open.Files = append(p.Open.Files, s)
		}
	}
	for _, d := range libDirs(p.Open.Files, p.Exec.Paths) {
		for _, l := range []*pathList{&p.Open.Files, &p.Open.Dirs} {
			if !slices.Contains(*l, d) {
				*l = append(*l, d)
			}
		}
	}
	p.Exec.Paths = g.execs(p.Exec.Paths)
	if p.Processes.Max > 0 {
		p.Processes.Max = max(2*p.Processes.Max, p.Processes.Max+2)
	}
}

// libRoots are the system's code and data trees libRule widens in.
var libRoots = []string{"/usr/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/opt/"}

// libDirFiles is how many files read in one directory make it "read
// extensively".
const libDirFiles = 3

// libDirs applies libRule to the exact files of a profile: the directories
// beneath libRoots (not a root itself), or beneath the library directory
// of an installation prefix (prefixLibRoots of execs), holding libDirFiles
// or more of them.
func libDirs(files, execs []string) []string {
	roots := append(slices.Clone(libRoots), prefixLibRoots(execs)...)
	count := map[string]int{}
	for _, f := range files {
		if strings.ContainsAny(f, "*?[") {
			continue
		}
		dir := filepath.Dir(f)
		if filepath.Base(dir) == "__pycache__" {
			// Python's compiled modules of the directory above.
			dir = filepath.Dir(dir)
		}
		for _, root := range roots {
			if strings.HasPrefix(dir+"/", root) && len(dir)+1 > len(root) && openTree(root, dir) {
				count[dir]++
				break
			}
		}
	}
	var out []string
	for d, n := range count {
		if n >= libDirFiles {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// prefixLibRoots returns the library directories ("P/lib/", "P/lib64/")
// of the installation prefixes of the programs the run executed: P of a
// regular file P/bin/NAME or P/sbin/NAME outside libRoots (a Python under
// ~/.pyenv/versions/3.11.7, a Node under ~/.nvm/versions/node/v20), P
// not "/".
func prefixLibRoots(execs []string) []string {
	var out []string
	for _, e := range execs {
		bin := filepath.Dir(e)
		if b := filepath.Base(bin); b != "bin" && b != "sbin" {
			continue
		}
		prefix := filepath.Dir(bin)
		if prefix == "/" || strings.ContainsAny(e, "*?[") {
			continue
		}
		if st, err := os.Stat(e); err != nil || !st.Mode().IsRegular() {
			continue
		}
		for _, lib := range []string{"/lib/", "/lib64/"} {
			r := prefix + lib
			covered := false
			for _, root := range libRoots {
				covered = covered || strings.HasPrefix(r, root)
			}
			if !covered && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// openTree reports whether dir, beneath root, is part of a tree meant to
// be shared: no component beneath root begins with "." (a prefix's
// ~/.local/lib/.secrets), and root and every directory down to dir are
// readable and searchable by everyone (a private directory, such as
// ~/.ssh's 0700, is never widened). The roots of libRoots are system
// trees and are not checked.
func openTree(root, dir string) bool {
	if slices.Contains(libRoots, root) {
		return true
	}
	rel := strings.TrimPrefix(dir+"/", root)
	for _, c := range strings.Split(rel, "/") {
		if strings.HasPrefix(c, ".") {
			return false
		}
	}
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || !st.IsDir() || st.Mode().Perm()&0o005 != 0o005 {
			return false
		}
		if d+"/" == root || len(d) < len(root) || d == "/" {
			return true
		}
	}
}
