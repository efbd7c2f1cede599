// Command mksyscalls generates the syscall tables of package syscalls from
// the zsysnum_linux_<goarch>.go files of golang.org/x/sys/unix.
//
// It finds x/sys with `go list -m golang.org/x/sys`, so the tables follow the
// version pinned in go.mod. For every architecture it writes:
//
//   - zsysnum_<arch>_table.go: the table, by number and by name (with aliases);
//   - zsysnum_check_linux_<goarch>_test.go: every unix.SYS_* constant of that
//     GOARCH, referenced by identifier, so the compiler checks the table
//     against x/sys on a native build.
//
// Usage, from the syscalls directory (see the go:generate line in doc.go):
//
//	go run ./internal/mksyscalls [-o dir]
package main

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// arch describes one generated table.
type arch struct {
	name   string // kernel/audit name, used in identifiers and file names
	goarch string // GOARCH whose x/sys file is the source
}

var arches = []arch{
	{name: "x86_64", goarch: "amd64"},
	{name: "aarch64", goarch: "arm64"},
	{name: "riscv64", goarch: "riscv64"},
}

// skip lists x/sys constants that are not system calls.
var skip = map[string]string{
	"arch_specific_syscall": "base of the arch-specific range (__NR_arch_specific_syscall), not a syscall",
}

// extraAliases are other names for a syscall, resolved by Number when the
// canonical name exists on the architecture. Name never returns them.
var extraAliases = map[string]string{
	"fstatat": "newfstatat", // glibc and man-page name of the 64-bit fstatat
}

// preferred picks the canonical name when x/sys defines several constants
// with the same number on one architecture. None do in v0.50.0; a new
// duplicate makes the generator fail until it is listed here.
var preferred = map[string]bool{}

type entry struct {
	name   string // kernel name: "openat"
	ident  string // x/sys identifier: "SYS_OPENAT"
	number int
}

type table struct {
	arch     arch
	entries  []entry // every SYS_* constant in source order, skipped ones included
	byNumber []entry // canonical names, sorted by number
	aliases  []alias
}

type alias struct {
	name, canonical string
	number          int
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("mksyscalls: ")
	out := flag.String("o", ".", "output `directory`")
	flag.Parse()
	if flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}

	dir, version, err := locateXSys()
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range arches {
		src := filepath.Join(dir, "unix", "zsysnum_linux_"+a.goarch+".go")
		t, err := parseTable(a, src)
		if err != nil {
			log.Fatal(err)
		}
		files := map[string]func(*table, string) ([]byte, error){
			"zsysnum_" + a.name + "_table.go":              genTable,
			"zsysnum_check_linux_" + a.goarch + "_test.go": genCheck,
		}
		for name, gen := range files {
			b, err := gen(t, version)
			if err != nil {
				log.Fatalf("%s: %v", name, err)
			}
			if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
				log.Fatal(err)
			}
		}
	}
}

// locateXSys returns the module directory and version of golang.org/x/sys as
// selected by the enclosing module's go.mod.
func locateXSys() (dir, version string, err error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}\n{{.Version}}", "golang.org/x/sys")
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", "", fmt.Errorf("go list golang.org/x/sys: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] == "" {
		return "", "", fmt.Errorf("go list golang.org/x/sys: unexpected output %q (module not downloaded?)", b)
	}
	return lines[0], lines[1], nil
}

// parseTable reads every `SYS_FOO = N` constant of one x/sys file.
func parseTable(a arch, path string) (*table, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	t := &table{arch: a}
	seen := map[string]bool{}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if !strings.HasPrefix(id.Name, "SYS_") {
					continue
				}
				if i >= len(vs.Values) {
					return nil, fmt.Errorf("%s: %s has no value", path, id.Name)
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.INT {
					return nil, fmt.Errorf("%s: %s is not an integer literal", path, id.Name)
				}
				n, err := strconv.ParseInt(lit.Value, 0, 32)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("%s: %s = %s: bad number", path, id.Name, lit.Value)
				}
				name := strings.ToLower(strings.TrimPrefix(id.Name, "SYS_"))
				if seen[name] {
					return nil, fmt.Errorf("%s: %s defined twice", path, id.Name)
				}
				seen[name] = true
				t.entries = append(t.entries, entry{name: name, ident: id.Name, number: int(n)})
			}
		}
	}
	if len(t.entries) < 200 {
		return nil, fmt.Errorf("%s: only %d SYS_ constants; wrong file?", path, len(t.entries))
	}

	byNumber := map[int][]entry{}
	for _, e := range t.entries {
		if _, ok := skip[e.name]; ok {
			continue
		}
		byNumber[e.number] = append(byNumber[e.number], e)
	}
	for nr, es := range byNumber {
		canon := es[0]
		if len(es) > 1 {
			var picks []entry
			for _, e := range es {
				if preferred[e.name] {
					picks = append(picks, e)
				}
			}
			if len(picks) != 1 {
				var names []string
				for _, e := range es {
					names = append(names, e.ident)
				}
				return nil, fmt.Errorf("%s: %s share number %d; list exactly one in preferred",
					path, strings.Join(names, ", "), nr)
			}
			canon = picks[0]
			for _, e := range es {
				if e.name != canon.name {
					t.aliases = append(t.aliases, alias{name: e.name, canonical: canon.name, number: nr})
				}
			}
		}
		t.byNumber = append(t.byNumber, canon)
	}
	slices.SortFunc(t.byNumber, func(x, y entry) int { return cmp.Compare(x.number, y.number) })

	for name, canon := range extraAliases {
		if seen[name] {
			return nil, fmt.Errorf("%s: alias %q is a real syscall here; fix extraAliases", path, name)
		}
		if i := slices.IndexFunc(t.byNumber, func(e entry) bool { return e.name == canon }); i >= 0 {
			t.aliases = append(t.aliases, alias{name: name, canonical: canon, number: t.byNumber[i].number})
		}
	}
	return t, nil
}

func header(b *bytes.Buffer, t *table, version string) {
	fmt.Fprintf(b, "// Code generated by go run ./internal/mksyscalls; DO NOT EDIT.\n")
	fmt.Fprintf(b, "// Source: golang.org/x/sys %s, unix/zsysnum_linux_%s.go.\n\n", version, t.arch.goarch)
}

func genTable(t *table, version string) ([]byte, error) {
	var b bytes.Buffer
	header(&b, t, version)
	b.WriteString("package syscalls\n\n")

	type named struct {
		name, comment string
		number        int
	}
	var byName []named
	for _, e := range t.byNumber {
		byName = append(byName, named{name: e.name, number: e.number})
	}
	for _, a := range t.aliases {
		byName = append(byName, named{name: a.name, number: a.number, comment: " // alias of " + a.canonical})
	}
	slices.SortFunc(byName, func(x, y named) int { return strings.Compare(x.name, y.name) })

	id := strings.ReplaceAll(t.arch.name, "-", "_") + "Table"
	fmt.Fprintf(&b, "// %s is the %s syscall table: %d syscalls, %d aliases.\n",
		id, t.arch.name, len(t.byNumber), len(t.aliases))
	var skipped []string
	for _, e := range t.entries {
		if why, ok := skip[e.name]; ok {
			skipped = append(skipped, fmt.Sprintf("%s (%d): %s", e.ident, e.number, why))
		}
	}
	if len(skipped) > 0 {
		b.WriteString("// Left out of the x/sys constants:\n")
		for _, s := range skipped {
			fmt.Fprintf(&b, "//   - %s\n", s)
		}
	}
	fmt.Fprintf(&b, "var %s = table{\n\tbyNumber: []Syscall{\n", id)
	for _, e := range t.byNumber {
		fmt.Fprintf(&b, "\t\t{%q, %d},\n", e.name, e.number)
	}
	b.WriteString("\t},\n\tbyName: []Syscall{\n")
	for _, n := range byName {
		fmt.Fprintf(&b, "\t\t{%q, %d},%s\n", n.name, n.number, n.comment)
	}
	b.WriteString("\t},\n}\n")
	return format.Source(b.Bytes())
}

func genCheck(t *table, version string) ([]byte, error) {
	var b bytes.Buffer
	header(&b, t, version)
	fmt.Fprintf(&b, "//go:build linux && %s\n\npackage syscalls\n\n", t.arch.goarch)
	b.WriteString("import \"golang.org/x/sys/unix\"\n\n")
	fmt.Fprintf(&b, "// xsysArch is the table that native_linux_test.go checks against xsysConstants.\n")
	fmt.Fprintf(&b, "var xsysArch = %s\n\n", archVar(t.arch.name))
	b.WriteString("// xsysConstants is every SYS_* constant of golang.org/x/sys/unix on this GOARCH.\n")
	b.WriteString("var xsysConstants = []xsysConstant{\n")
	for _, e := range t.entries {
		_, skipped := skip[e.name]
		fmt.Fprintf(&b, "\t{%q, unix.%s, %t},\n", e.name, e.ident, skipped)
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

func archVar(name string) string {
	switch name {
	case "x86_64":
		return "X86_64"
	case "aarch64":
		return "AArch64"
	case "riscv64":
		return "RISCV64"
	}
	panic("no Arch variable for " + name)
}
