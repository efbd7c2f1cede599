package tests

// The reliability and security suite (docs/testing.md, "Reliability
// suite"): the supervisor under a hostile or dying child, stuck and
// panicking handlers, signal storms, its own death, and long runs. Every
// test is named TestReliability*; each runs a short version by default and
// a long one with -long (or SANDLOCK_LONG=1):
//
//	go test -count=1 -run Reliability ./tests/
//	go test -count=1 -run Reliability -timeout 30m ./tests/ -long
//
// The victim is tests/victims/hostile.

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
)

var reliabilityLong = flag.Bool("long", false, "run the long versions of the reliability tests (also SANDLOCK_LONG=1)")

// long reports whether the long versions of the reliability tests run.
func long() bool {
	return *reliabilityLong || os.Getenv("SANDLOCK_LONG") == "1"
}

// pick returns short, or long with -long.
func pick[T any](short, long_ T) T {
	if long() {
		return long_
	}
	return short
}

// The magic first arguments of the hostile victim's getppid
// (tests/victims/hostile).
const (
	magicValue   = 0x5a1701
	magicPending = 0x5a1702
	magicStuck   = 0x5a1703
	magicCount   = 0x5a1704
	magicArgs    = 0x5a1705
	magicPathArg = 0x5a1706
	injectPath   = "/sandlock-go-reliability/inject"
)

// valueOf is the answer to getppid(magicValue, x).
func valueOf(x uint64) int64 { return int64(x*7 + 3) }

// hostile returns the path of tests/victims/hostile.
func hostile(t testing.TB) string {
	t.Helper()
	return buildProgram(t, "hostile")
}

// valueHandler answers getppid(magicValue, x) with valueOf(x) and lets
// every other getppid run.
func valueHandler(c *handler.Ctx) handler.Action {
	if c.Arg(0) != magicValue {
		return handler.Continue()
	}
	return handler.ReturnValue(valueOf(c.Arg(1)))
}

// rss returns the resident set size of this process (VmRSS) in bytes.
func rss(t testing.TB) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// mib formats bytes as MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// threadsInSyscall counts the threads of pid blocked in syscall nr with
// first argument arg0 (/proc/PID/task/TID/syscall).
func threadsInSyscall(pid, nr int, arg0 uint64) int {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	want := fmt.Sprintf("%d %#x ", nr, arg0)
	n := 0
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name(), "syscall"))
		if err == nil && strings.HasPrefix(string(data), want) {
			n++
		}
	}
	return n
}

// waitFor polls cond every 2 ms until it holds, failing the test with what
// after d.
func waitFor(t testing.TB, d time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fields parses the "key=value" words of the first line of out that starts
// with prefix.
func fields(t testing.TB, out, prefix string) map[string]string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		m := map[string]string{}
		for _, w := range strings.Fields(line) {
			if k, v, ok := strings.Cut(w, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	t.Fatalf("no line %q in:\n%s", prefix, out)
	return nil
}

// intField is fields(...)[key] as an int.
func intField(t testing.TB, m map[string]string, key string) int {
	t.Helper()
	v, ok := m[key]
	require.True(t, ok, "no %s= in %v", key, m)
	n, err := strconv.Atoi(v)
	require.NoError(t, err)
	return n
}

// figure logs one result line for docs/testing.md.
func figure(t testing.TB, format string, a ...any) {
	t.Helper()
	t.Logf("FIGURES %s: %s", t.Name(), fmt.Sprintf(format, a...))
}

// warmUp makes one short supervised run of the hostile victim, so that
// what the first run of a test process creates lazily (the build of the
// victim, the runtime's netpoller descriptors) is not counted as a leak.
func warmUp(t testing.TB) {
	t.Helper()
	r := newRunContext(t, context.Background(), hostile(t), "values", "1", "1")
	r.handle(t, "getppid", valueHandler)
	require.Contains(t, r.mustRun(t), "values threads=1 calls=1 ok")
	runtime.GC()
}
