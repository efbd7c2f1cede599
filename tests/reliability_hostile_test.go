package tests

// Scenario 5: hostile pointer and length arguments from a real child.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/mem"
)

// hostileCase is one argument case of the hostile victim's "args"
// (tests/victims/hostile, caseX and pathX constants).
type hostileCase struct {
	id   uint64
	name string
	op   string // cstring, read, write (getppid: addr, n) or path (openat)
	want error  // nil: success
	// On success: the string read, or the number of bytes.
	str string
	n   int
}

var hostileCases = []hostileCase{
	{1, "NULL string", "cstring", mem.ErrFault, "", 0},
	{2, "NULL read", "read", mem.ErrFault, "", 0},
	{3, "unmapped string", "cstring", mem.ErrFault, "", 0},
	{4, "unmapped read", "read", mem.ErrFault, "", 0},
	{5, "kernel-half string", "cstring", mem.ErrFault, "", 0},
	{6, "kernel-half read", "read", mem.ErrFault, "", 0},
	{7, "string running into an unmapped page, no NUL", "cstring", mem.ErrFault, "", 0},
	{8, "string ending with a NUL just before an unmapped page", "cstring", nil, strings.Repeat("A", 15), 0},
	{9, "read ending just before an unmapped page", "read", nil, "", 16},
	{10, "read one byte into an unmapped page", "read", mem.ErrFault, "", 0},
	{11, "unterminated string longer than max (8192 > 4096)", "cstring", mem.ErrTooLong, "", 0},
	{12, "string of exactly max bytes", "cstring", nil, strings.Repeat("B", 4096), 0},
	{13, "read of 1<<40 bytes", "read", mem.ErrTooLarge, "", 0},
	{14, "read of -1 bytes", "read", mem.ErrTooLarge, "", 0},
	{15, "string with max 1<<40", "cstring", mem.ErrTooLarge, "", 0},
	{16, "read wrapping around the address space", "read", mem.ErrFault, "", 0},
	{17, "write to a read-only page", "write", mem.ErrFault, "", 0},
	{18, "write to an unmapped page", "write", mem.ErrFault, "", 0},
	{19, "read of MaxTransfer+1 bytes", "read", mem.ErrTooLarge, "", 0},
	{100, "NULL path", "path", mem.ErrFault, "", 0},
	{101, "unmapped path", "path", mem.ErrFault, "", 0},
	{102, "kernel-half path", "path", mem.ErrFault, "", 0},
	{103, "path running into an unmapped page", "path", mem.ErrFault, "", 0},
	{104, "path ending just before an unmapped page", "path", nil, "AAAAAAAAAAAAAAA", 0}, // made absolute below
	{105, "path longer than PATH_MAX", "path", mem.ErrTooLong, "", 0},
}

// classCode is what the handler answers for an outcome, so that the victim
// prints it too.
func classCode(err error) int64 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, mem.ErrFault):
		return 1
	case errors.Is(err, mem.ErrTooLong):
		return 2
	case errors.Is(err, mem.ErrTooLarge):
		return 3
	}
	return 9
}

var classErrno = map[int64]unix.Errno{0: unix.EXDEV, 1: unix.EFAULT, 2: unix.ENAMETOOLONG, 3: unix.E2BIG, 9: unix.EIO}

// TestReliabilityHostileArgs: a real child passes NULL, unmapped,
// kernel-half, page-straddling, unterminated, over-long and huge arguments;
// the handler calls ReadCString, Read, Write and ReadPath on them. Each
// fails with its error class (mem.ErrFault, ErrTooLong, ErrTooLarge) and no
// panic; the string that ends with a NUL just before an unmapped page is
// read whole (no read past the NUL), a read up to the boundary succeeds
// and one byte more fails whole; the read-only page is not written.
func TestReliabilityHostileArgs(t *testing.T) {
	cwd, err := os.Getwd()
	require.NoError(t, err)
	rounds := pick(1, 100)
	for round := range rounds {
		hostileArgs(t, cwd, round)
	}
	if rounds > 1 {
		figure(t, "%d rounds", rounds)
	}
}

type hostileResult struct {
	err error
	str string
	n   int
}

func hostileArgs(t *testing.T, cwd string, round int) {
	byID := map[uint64]hostileCase{}
	for _, c := range hostileCases {
		byID[c.id] = c
	}
	r := newRunContext(t, t.Context(), hostile(t), "args")
	var errs errorLog
	r.ServeOptions = &handler.Options{OnError: errs.add}
	var mu sync.Mutex
	results := map[uint64]hostileResult{}
	record := func(id uint64, res hostileResult) int64 {
		mu.Lock()
		defer mu.Unlock()
		results[id] = res
		return classCode(res.err)
	}
	r.handle(t, "getppid", func(c *handler.Ctx) handler.Action {
		if c.Arg(0) != magicArgs {
			return handler.Continue()
		}
		id, addr, n := c.Arg(1), c.Arg(2), int(c.Arg(3))
		var res hostileResult
		switch byID[id].op {
		case "cstring":
			res.str, res.err = c.ReadCString(addr, n)
		case "read":
			var b []byte
			b, res.err = c.Read(addr, n)
			res.n, res.str = len(b), string(b)
		case "write":
			res.err = c.Write(addr, []byte("WRITTEN!")[:n])
		default:
			res.err = fmt.Errorf("unknown case %d", id)
		}
		return handler.ReturnValue(record(id, res))
	})
	r.handle(t, "openat", func(c *handler.Ctx) handler.Action {
		if c.Arg(3)&0xffffffff != magicPathArg {
			return handler.Continue()
		}
		var res hostileResult
		res.str, res.err = c.ReadPath(1)
		return handler.Errno(classErrno[record(c.Arg(3)>>32, res)])
	})
	out := r.mustRun(t)
	require.True(t, strings.HasSuffix(out, "args done\n"), "stdout:\n%s", out)
	require.Empty(t, errs.all(), "OnError")

	mu.Lock()
	defer mu.Unlock()
	for _, tc := range hostileCases {
		res, ok := results[tc.id]
		require.True(t, ok, "case %d %s: no handler call", tc.id, tc.name)
		code := classCode(tc.want)
		if tc.op == "path" {
			require.Contains(t, out, fmt.Sprintf("case id=%d ret=-1 errno=%s\n", tc.id, unix.ErrnoName(classErrno[code])), tc.name)
		} else {
			require.Contains(t, out, fmt.Sprintf("case id=%d ret=%d errno=0\n", tc.id, code), tc.name)
		}
		if tc.want != nil {
			require.ErrorIs(t, res.err, tc.want, "case %d %s", tc.id, tc.name)
			require.Empty(t, res.str, "case %d %s", tc.id, tc.name)
			require.Zero(t, res.n, "case %d %s", tc.id, tc.name)
			continue
		}
		require.NoError(t, res.err, "case %d %s", tc.id, tc.name)
		switch {
		case tc.op == "path":
			require.Equal(t, filepath.Join(cwd, tc.str), res.str, tc.name)
		case tc.n > 0:
			require.Equal(t, tc.n, res.n, tc.name)
		default:
			require.Equal(t, tc.str, res.str, tc.name)
		}
	}
	require.Len(t, results, len(hostileCases))
	if round > 0 {
		return
	}
	figure(t, "%d hostile argument cases, each with its error class, no panic, OnError empty", len(hostileCases))
}
