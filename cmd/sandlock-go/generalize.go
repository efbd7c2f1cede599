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
//     "sem.*"), unless the glob matches an entry that existed before
//     the run, in which case it stays the entry's exact name;
//   - createdRule: a path beneath a directory the run created becomes
//     that directory (which covers everything beneath it);
//   - procRule: /proc/PID/... and /proc/PID/task/TID/... become
//     /proc/*/... (the open policy refuses the /proc of processes outside
//     the run whatever the rules say);
//   - toolRule: programs executed from a toolchain's private directory
//     (/usr/lib/X/..., /usr/libexec/...) allow that directory's programs
//     (exec rules only);
//   - libRule: a directory of the system's code and data trees (/usr,
//     /lib*, /opt: world-readable, no secrets) from which the run read
//     libDirFiles or more files becomes a directory rule, so that the same
//     program with other arguments finds its other modules, headers and
//     data; /etc, homes and everything else stay exact;
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
	prefix := namePrefix(entry)
	if len(prefix) < 2 || prefix == entry {
		return root + "/" + entry, true
	}
	glob := root + "/" + globEscape(prefix) + "*"
	for _, old := range g.before[root] {
		if ok, _ := filepath.Match(globEscape(prefix)+"*", old); ok {
			g.kept = append(g.kept, root+"/"+entry+" (a glob would cover "+root+"/"+old+")")
			return root + "/" + entry, true
		}
	}
	return glob, true
}

// namePrefix is the part of a temporary name that is the same on every
// run: a short lowercase word before a separator ("sem." of
// sem.mp-x8k2, "pymp-", "go-build"'s "go-"), else the lowercase letters
// in front of mkstemp's six random characters ("cc" of ccQ6jPfA.s), or
// "tmp" of Python's tmpXXXXXXXX.
func namePrefix(name string) string {
	if i := strings.IndexAny(name, ".-_"); i > 0 && i <= 6 && isLower(name[:i]) {
		return name[:i+1]
	}
	lower := 0
	for lower < len(name) && name[lower] >= 'a' && name[lower] <= 'z' {
		lower++
	}
	if strings.HasPrefix(name, "tmp") {
		return "tmp"
	}
	base, _, _ := strings.Cut(name, ".")
	if n := len(base) - 6; n < lower {
		lower = max(n, 0)
	}
	return name[:lower]
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
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

// execs applies toolRule: a program executed from beneath a toolDirs
// entry allows the programs of its directory.
func (g *generalizer) execs(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
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
	// glob) covers the same in dirs.
	for _, s := range p.Open.Files {
		_, _, temp := g.tempRoot(s)
		if (g.created[s] || temp && strings.ContainsAny(s, "*?[")) && !slices.Contains(p.Open.Dirs, s) {
			p.Open.Dirs = append(p.Open.Dirs, s)
		}
	}
	for _, d := range libDirs(p.Open.Files) {
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
// beneath libRoots (not a root itself) holding libDirFiles or more of them.
func libDirs(files []string) []string {
	count := map[string]int{}
	for _, f := range files {
		if strings.ContainsAny(f, "*?[") {
			continue
		}
		dir := filepath.Dir(f)
		for _, root := range libRoots {
			if strings.HasPrefix(dir+"/", root) && len(dir)+1 > len(root) {
				count[dir]++
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
