package audit

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
	"github.com/sandlock-go/sandlock-go/syscalls/args"
)

// goldenArgs are the raw arguments of testdata/decode-golden.txt: zeros,
// small numbers (bad pointers), and all-ones patterns.
var goldenArgs = [][6]uint64{
	{0, 0, 0, 0, 0, 0},
	{3, 8, 0x241, 0o644, 16, 2},
	{0xffffffffffffff9c, 0x80000, 0xffffffff, 0x1ff, 0xffffffffffffffff, 1 << 63},
}

// TestDecodeSameAsBeforeModel: every syscall the decoder handled before it
// read the syscall-argument model (testdata/decode-golden.txt, written by
// the old hand-written signatures on x86_64) is in the model, decodes to
// the same text, and has the same path argument. Lines whose text is "-"
// were raw before (only their path was known) and are decoded now.
func TestDecodeSameAsBeforeModel(t *testing.T) {
	if syscalls.Native() != syscalls.X86_64 {
		t.Skip("the golden file was written on x86_64")
	}
	f, err := os.Open("testdata/decode-golden.txt")
	require.NoError(t, err)
	defer f.Close()
	pidText := "pid " + strconv.Itoa(os.Getpid())
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		require.Len(t, cols, 4, sc.Text())
		name := cols[0]
		var want [3]string
		for i := range want {
			want[i], err = strconv.Unquote(cols[i+1])
			require.NoError(t, err, sc.Text())
		}
		_, inModel := args.Of(syscalls.X86_64, name)
		require.True(t, inModel, "%s is not in the syscall-argument model", name)
		require.True(t, Decoded(name), name)
		r := NewRecord(time.Unix(1, 0), selfCtx(t, name, goldenArgs[seen[name]]), handler.Continue(), 0)
		r.Pid = 7
		seen[name]++
		if want[0] != "-" {
			require.Equal(t, want[0], strings.TrimSuffix(string(r.AppendText(nil)), "\n"), name)
		}
		require.Equal(t, want[1], r.Path, name)
		require.Equal(t, want[2], strings.ReplaceAll(r.PathError, pidText, "pid PID"), name)
	}
	require.NoError(t, sc.Err())
	require.Greater(t, len(seen), 90)
}

// TestDecodeArch: the decoder reads clone's arguments in the order of the
// notification's arch, and knows the model's syscalls on every arch.
func TestDecodeArch(t *testing.T) {
	x86, ok := signature("clone", syscalls.X86_64)
	require.True(t, ok)
	arm, ok := signature("clone", syscalls.AArch64)
	require.True(t, ok)
	require.Equal(t, "child_tid", x86[3].name)
	require.Equal(t, "tls", arm[3].name)
	require.Equal(t, "child_tid", arm[4].name)
	for _, arch := range syscalls.Arches() {
		for _, name := range args.Names(arch) {
			_, ok := signature(name, arch)
			require.True(t, ok, "%s on %s", name, arch)
		}
		_, ok := signature("open", syscalls.AArch64)
		require.False(t, ok)
	}
	// Newly decoded: the *xattrat family and a symlink target.
	for _, name := range []string{"setxattrat", "utimes", "fanotify_mark", "sendmmsg", "mount"} {
		require.True(t, Decoded(name), name)
	}
	i, ok := PathArg("fanotify_mark")
	require.True(t, ok)
	require.Equal(t, 4, i)
	fam, err := Family("file", syscalls.X86_64)
	require.NoError(t, err)
	require.Subset(t, fam, []string{"setxattr", "inotify_add_watch", "utime", "openat"})
	require.NotContains(t, fam, "execve")
}
