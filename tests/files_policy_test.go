package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// secretContent is what every guarded file holds; fileattack reports LEAK
// when it reads it.
const secretContent = "DENIED-SECRET data"

// runAttack runs tests/victims/fileattack with args under the files
// policy of rules (registered on every syscall it names) and returns its
// one-line report.
func runAttack(t *testing.T, rules pathpolicy.Rules, dir string, args ...string) string {
	t.Helper()
	return runAttackWith(t, rules, nil, dir, args...)
}

// runAttackWith is runAttack with the sandbox's isolation taking out the
// syscalls allow (openat2 is ENOSYS by default).
func runAttackWith(t *testing.T, rules pathpolicy.Rules, allow []string, dir string, args ...string) string {
	t.Helper()
	pol, err := pathpolicy.NewOpenPolicy(rules)
	require.NoError(t, err)
	cmd := sandbox.Command(buildProgram(t, "fileattack"), args...)
	cmd.Policy.AllowSyscalls = allow
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdin = strings.NewReader("in") // a pipe, for /dev/stdin
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.HandlePolicy(pol))
	require.Contains(t, cmd.Policy.Deny, "open_by_handle_at", "the policy's kernel denies")
	_ = cmd.Run()
	return strings.TrimSpace(out.String())
}

// attackTree makes DIR/secret/secret.txt (the denied tree), DIR/parent/
// secret/secret.txt (a denied tree inside a directory that is not),
// DIR/out (free), DIR/allowed/data.txt and DIR/outside/secret.txt.
func attackTree(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{"secret", "parent/secret", "out", "allowed", "outside"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	for _, f := range []string{"secret/secret.txt", "parent/secret/secret.txt", "outside/secret.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte(secretContent), 0o600))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "allowed/data.txt"), []byte("public"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "out/other.txt"), []byte("other"), 0o644))
	return dir
}

// TestFilesPolicyAttacks: every way to reach a guarded file other than
// opening it is refused, one attacker program per bypass class. Each row
// names the attack, its arguments (relative to the tree) and the rules.
func TestFilesPolicyAttacks(t *testing.T) {
	deny := func(dir string) pathpolicy.Rules {
		return pathpolicy.Rules{Deny: []string{filepath.Join(dir, "secret"), filepath.Join(dir, "parent/secret")}}
	}
	allow := func(dir string) pathpolicy.Rules {
		return pathpolicy.Rules{Allow: []string{filepath.Join(dir, "allowed")}}
	}
	for _, tc := range []struct {
		name  string
		rules func(dir string) pathpolicy.Rules
		args  []string
		// check, when set, runs after the attack on the tree.
		check func(t *testing.T, dir string)
	}{
		{"HardLinkOutOfDenied", deny, []string{"hardlink-out", "secret/secret.txt", "out/x"}, nil},
		{"LinkatFollowOutOfDenied", deny, []string{"linkat-follow-out", "secret/secret.txt", "out/x"}, nil},
		{"RenameOutOfDenied", deny, []string{"rename-out", "secret/secret.txt", "out/x"}, nil},
		{"RenameDirHoldingDenied", deny, []string{"rename-dir-out", "parent", "out/p", "secret/secret.txt"}, nil},
		{"ExchangeWithDenied", deny, []string{"exchange", "secret/secret.txt", "out/other.txt"}, nil},
		{"TruncateDenied", deny, []string{"truncate", "secret/secret.txt"}, unchanged("secret/secret.txt")},
		{"ChmodDenied", deny, []string{"chmod", "secret/secret.txt"}, mode("secret/secret.txt", 0o600)},
		{"ChownDenied", deny, []string{"chown", "secret/secret.txt"}, nil},
		{"UtimesDenied", deny, []string{"utimes", "secret/secret.txt"}, nil},
		{"SetxattrDenied", deny, []string{"setxattr", "secret/secret.txt"}, nil},
		{"UnlinkDenied", deny, []string{"unlink", "secret/secret.txt"}, unchanged("secret/secret.txt")},
		{"MkdirInDenied", deny, []string{"mkdir", "secret/new"}, absent("secret/new")},
		{"MknodInDenied", deny, []string{"mknod", "secret/fifo"}, absent("secret/fifo")},
		{"BindInDenied", deny, []string{"bind", "secret/sock"}, absent("secret/sock")},
		{"InotifyDenied", deny, []string{"inotify", "secret/secret.txt"}, nil},
		{"FanotifyDenied", deny, []string{"fanotify", "secret/secret.txt"}, nil},
		{"OPathReopenDenied", deny, []string{"opath-reopen", "secret/secret.txt"}, nil},
		{"OPathLinkDenied", deny, []string{"opath-link", "secret/secret.txt", "out/x"}, nil},
		{"LinkIntoAllowed", allow, []string{"link-in", "outside/secret.txt", "allowed/x"}, absent("allowed/x")},
		{"RenameIntoAllowed", allow, []string{"rename-in", "outside/secret.txt", "allowed/x"}, unchanged("outside/secret.txt")},
		{"RenameOutOfAllowed", allow, []string{"rename-out-of-allowed", "allowed/data.txt", "outside/y"}, absent("outside/y")},
		{"SymlinkIntoAllowed", allow, []string{"symlink-in", "../outside/secret.txt", "allowed/l"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := attackTree(t)
			out := runAttack(t, tc.rules(dir), dir, tc.args...)
			t.Log(out)
			require.True(t, strings.HasPrefix(out, tc.args[0]+": "), "no report: %q", out)
			require.NotContains(t, out, "LEAK")
			require.Contains(t, out, "refused")
			if tc.check != nil {
				tc.check(t, dir)
			}
		})
	}
}

func unchanged(name string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, secretContent, string(b))
	}
}

func absent(name string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		_, err := os.Lstat(filepath.Join(dir, name))
		require.ErrorIs(t, err, os.ErrNotExist)
	}
}

func mode(name string, want os.FileMode) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, want, st.Mode().Perm())
	}
}

// TestFilesPolicyRuleThroughSymlink: a deny rule written through a
// symlinked directory means the real directory.
func TestFilesPolicyRuleThroughSymlink(t *testing.T) {
	dir := attackTree(t)
	require.NoError(t, os.Symlink("secret", filepath.Join(dir, "alias")))
	rules := pathpolicy.Rules{Deny: []string{filepath.Join(dir, "alias")}}
	out := runAttack(t, rules, dir, "read", filepath.Join(dir, "secret/secret.txt"))
	t.Log(out)
	require.NotContains(t, out, "LEAK")
	out = runAttack(t, rules, dir, "read", filepath.Join(dir, "alias/secret.txt"))
	require.NotContains(t, out, "LEAK")
}

// TestFilesPolicyAllowedOperations: the same operations inside the allowed
// tree work, and a missing file there is ENOENT.
func TestFilesPolicyAllowedOperations(t *testing.T) {
	dir := attackTree(t)
	rules := pathpolicy.Rules{Allow: []string{filepath.Join(dir, "allowed")}}
	a := func(name string) string { return filepath.Join(dir, "allowed", name) }
	_ = runAttack(t, rules, dir, "read", a("data.txt")) // the victim is built
	fds, goroutines := countFDs(t), runtime.NumGoroutine()
	require.NoError(t, os.WriteFile(a("s.txt"), []byte(secretContent), 0o600))
	require.NoError(t, os.Symlink("allowed", filepath.Join(dir, "alias")))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"hardlink-out", a("data.txt"), a("h")}, `ok read "public"`},
		{[]string{"rename-out", a("s.txt"), a("r")}, `LEAK read`}, // the marker: the rename worked inside
		{[]string{"mkdir", a("d")}, "LEAK mkdir"},
		{[]string{"mknod", a("fifo")}, "LEAK mknod"},
		{[]string{"bind", a("sock")}, "LEAK bound"},
		{[]string{"chmod", a("data.txt")}, "LEAK chmod"},
		{[]string{"truncate", a("h")}, "LEAK truncated"},
		{[]string{"utimes", a("data.txt")}, "LEAK utimes"},
		{[]string{"inotify", a("data.txt")}, "LEAK watched"},
		{[]string{"fanotify", a("data.txt")}, "LEAK marked"},
		{[]string{"unlink", a("h")}, "LEAK unlinked"},
		{[]string{"opath-reopen", a("data.txt")}, `ok read ""`}, // truncated above through its hard link
		{[]string{"read", a("missing")}, "errno=ENOENT"},
		{[]string{"read", filepath.Join(dir, "alias/data.txt")}, `ok read ""`}, // allowed on the canonical path
		{[]string{"magic", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/fd/0", "/proc/self/fd/1"}, "ok /dev/stdin=ok /dev/stdout=ok /dev/stderr=ok /dev/fd/0=ok /proc/self/fd/1=ok"},
	} {
		out := runAttack(t, rules, dir, tc.args...)
		t.Log(out)
		require.Contains(t, out, tc.want, "%v", tc.args)
	}
	_, err := os.Stat(a("sock"))
	require.NoError(t, err, "the socket is where the process named it")
	require.Equal(t, fds, countFDs(t), "descriptors leaked: %s", listFDs())
	require.LessOrEqual(t, settleGoroutines(goroutines, 2*time.Second), goroutines, "goroutines leaked")
}

// TestFilesPolicyOPathRace: O_PATH opens are answered Continue, so the
// kernel may resolve a flipped path to the denied file; every use of such
// a descriptor is mediated on its object: reopening it through
// /proc/self/fd and linking it anywhere never reaches the denied file.
func TestFilesPolicyOPathRace(t *testing.T) {
	dir := attackTree(t)
	allowed, denied := filepath.Join(dir, "allowed/data.txt"), filepath.Join(dir, "secret/secret.txt")
	n := "10000"
	if testing.Short() {
		n = "2000"
	}
	for _, rules := range []pathpolicy.Rules{
		{Deny: []string{filepath.Join(dir, "secret")}}, // the tree: decided on the path
		{Deny: []string{denied}},                       // the file: also on its identity
	} {
		out := runAttack(t, rules, dir, "opath-race", allowed, denied, n, filepath.Join(dir, "out"))
		t.Log(rules.Deny, out)
		require.Contains(t, out, "leaked=0")
		require.NotContains(t, out, "opened=0 ")
		require.NotContains(t, out, "links=0 ", "no link was made: the race did not run")
	}
}

// TestFilesPolicyOpenat2: with openat2 allowed again, its resolve flags
// keep their meaning relative to the process's dirfd (RESOLVE_IN_ROOT
// makes "/" the dirfd; RESOLVE_BENEATH refuses to leave it), a magic link
// fails with EXDEV under RESOLVE_BENEATH or RESOLVE_IN_ROOT and with ELOOP
// under RESOLVE_NO_MAGICLINKS, and an oversized open_how follows the
// kernel's rule (E2BIG unless the bytes beyond the known struct are zero).
func TestFilesPolicyOpenat2(t *testing.T) {
	dir := attackTree(t)
	rules := pathpolicy.Rules{Deny: []string{filepath.Join(dir, "secret")}}
	const (
		noMagic = "0x02"
		beneath = "0x08"
		inRoot  = "0x10"
	)
	for _, tc := range []struct {
		dir, path, resolve, extra, want string
	}{
		{dir, "allowed/data.txt", "0", "0", `ok read "public"`},
		{dir, "secret/secret.txt", "0", "0", "refused errno=EACCES"},
		{dir, "allowed/data.txt", beneath, "0", `ok read "public"`},
		{dir, "../" + filepath.Base(dir) + "/allowed/data.txt", beneath, "0", "refused errno=EXDEV"},
		{dir, "/allowed/data.txt", inRoot, "0", `ok read "public"`},
		{dir, "/secret/secret.txt", inRoot, "0", "refused errno=EACCES"},
		{dir, "../../../allowed/data.txt", inRoot, "0", `ok read "public"`},
		{"/proc/self", "fd/0", "0", "0", `ok read "in"`},
		{"/proc/self", "fd/0", beneath, "0", "refused errno=EXDEV"},
		{"/proc/self", "fd/0", inRoot, "0", "refused errno=EXDEV"},
		{"/proc/self", "fd/0", noMagic, "0", "refused errno=ELOOP"},
		{dir, "allowed/data.txt", "0", "8:0", `ok read "public"`},
		{dir, "allowed/data.txt", "0", "8:1", "refused errno=E2BIG"},
		{dir, "allowed/data.txt", "0", "4096:0", "refused errno=E2BIG"},
		{dir, "allowed/missing", "0", "0", "refused errno=ENOENT"},
	} {
		out := runAttackWith(t, rules, []string{"openat2"}, dir, "openat2", tc.dir, tc.path, tc.resolve, tc.extra)
		t.Log(tc.dir, tc.path, tc.resolve, tc.extra, "->", out)
		require.Equal(t, "openat2: "+tc.want, out, "%+v", tc)
	}
}

// TestFilesPolicyKernelDenies: io_uring (whose OPENAT never reaches
// seccomp) stays denied in the kernel while a files policy is active, even
// when --allow-syscall takes it out of the isolation deny list; without a
// files policy --allow-syscall does let it through.
func TestFilesPolicyKernelDenies(t *testing.T) {
	bin := buildCLI(t)
	attack := buildProgram(t, "fileattack")
	dir := t.TempDir()
	r := runCLI(t, bin, "run", "--allow-syscall", "io_uring_setup", "--deny-path", dir, "--", attack, "io-uring")
	r.requireStatus(t, 0)
	require.Equal(t, "io-uring: refused errno=EPERM\n", r.stdout)
	r = runCLI(t, bin, "run", "--allow-syscall", "io_uring_setup", "--", attack, "io-uring")
	r.requireStatus(t, 0)
	if strings.Contains(r.stdout, "refused") {
		t.Logf("io_uring_setup refused without a policy too (kernel.io_uring_disabled?): %s", r.stdout)
	} else {
		require.Equal(t, "io-uring: LEAK io_uring\n", r.stdout)
	}
}
