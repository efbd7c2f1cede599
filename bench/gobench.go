package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// goBench is the result of go test -bench on the handler package.
type goBench struct {
	skipped string // why it did not run, "" when it did
	lines   []benchLine
}

type benchLine struct {
	name        string
	nsPerOp     float64
	bytesPerOp  int64
	allocsPerOp int64
}

var benchLineRE = regexp.MustCompile(`^(Benchmark\S+)\s+\d+\s+([\d.]+) ns/op(?:\s+(\d+) B/op)?(?:\s+(\d+) allocs/op)?`)

// runGoBench runs the handler package's Go benchmarks when
// BenchmarkDispatch exists.
func runGoBench(set settings, root string) *goBench {
	files, _ := filepath.Glob(filepath.Join(root, "handler", "*_test.go"))
	found := false
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte("func BenchmarkDispatch(")) {
			found = true
		}
	}
	if !found {
		return &goBench{skipped: "handler has no BenchmarkDispatch"}
	}
	cmd := exec.Command("go", "test", "-run=^$", "-bench=.", "-benchmem", "-benchtime="+set.benchtime, "./handler/")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return &goBench{skipped: fmt.Sprintf("go test failed: %v: %s", err, lastLine(string(out)))}
	}
	res := &goBench{}
	for line := range strings.SplitSeq(string(out), "\n") {
		m := benchLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		l := benchLine{name: m[1]}
		l.nsPerOp, _ = strconv.ParseFloat(m[2], 64)
		l.bytesPerOp, _ = strconv.ParseInt(m[3], 10, 64)
		l.allocsPerOp, _ = strconv.ParseInt(m[4], 10, 64)
		res.lines = append(res.lines, l)
	}
	if len(res.lines) == 0 {
		res.skipped = "go test printed no benchmark line"
	}
	return res
}
