package tests

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// requireRoot skips a test that needs the supervisor to be root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the identities differ only for a root supervisor")
	}
}

// shellRun runs sh -c script under p in dir and returns stdout, stderr and
// the exit status.
func shellRun(t *testing.T, p sandbox.Policy, dir, script string) (string, string, int) {
	t.Helper()
	r := newRunContext(t, context.Background(), "/bin/sh", "-c", script)
	r.Policy = p
	r.Dir = dir
	_, err := r.run(t)
	if r.ProcessState == nil {
		t.Fatalf("start: %v", err)
	}
	return r.stdout.String(), r.stderr.String(), r.ExitStatus()
}

// capField returns a capability mask line ("CapEff") of /proc/self/status
// as printed by the script `grep Cap /proc/self/status`.
func capField(t *testing.T, status, name string) uint64 {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatalf("no %s in %q", name, status)
	return 0
}

// ownerOf returns the host uid owning path.
func ownerOf(t *testing.T, path string) uint32 {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Sys().(*syscall.Stat_t).Uid
}

// rootOwnedSystemFile creates a root-owned file beneath /etc, removed at
// the end of the test.
func rootOwnedSystemFile(t *testing.T) string {
	t.Helper()
	f, err := os.CreateTemp("/etc", "sandlock-go-identity-*")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	t.Cleanup(func() { os.Remove(f.Name()) })
	return f.Name()
}

// workDir returns a root-owned directory that every user may enter.
func workDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sandlock-go-identity-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	return dir
}

// TestIdentityProtected: by default a root command keeps uid 0 for its
// files, has no capability in any set, writes its root-owned working
// directory, and cannot write a root-owned file under /etc.
func TestIdentityProtected(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	sys := rootOwnedSystemFile(t)
	out, errOut, code := shellRun(t, sandbox.Policy{}, dir,
		"grep Cap /proc/self/status; echo data > made; (echo x >> "+sys+") && echo WROTE-ETC; true")
	require.Equal(t, 0, code, "stderr: %s", errOut)
	for _, set := range []string{"CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"} {
		require.Zero(t, capField(t, out, set), "%s: every capability dropped", set)
	}
	require.Equal(t, uint32(0), ownerOf(t, filepath.Join(dir, "made")), "files are the caller's")
	require.NotContains(t, out, "WROTE-ETC", "write protection of /etc (read-only mount, Landlock)")
	require.Regexp(t, "Read-only file system|Permission denied", errOut)
}

// TestIdentityProtectedAttributes: what Landlock does not cover (chmod,
// utimes) is refused on a root-owned file under /etc by a read-only mount,
// and allowed on the command's own files.
func TestIdentityProtectedAttributes(t *testing.T) {
	requireRoot(t)
	sys := rootOwnedSystemFile(t)
	require.NoError(t, os.Chmod(sys, 0o600))
	dir := t.TempDir()
	out, errOut, code := shellRun(t, sandbox.Policy{}, dir,
		"chmod 666 "+sys+" && echo CHMOD-ETC; touch -d 2001-01-01 "+sys+" && echo TOUCH-ETC; echo x > own && chmod 640 own && echo CHMOD-OWN; true")
	require.Equal(t, 0, code, "stderr: %s", errOut)
	require.NotContains(t, out, "CHMOD-ETC")
	require.NotContains(t, out, "TOUCH-ETC")
	require.Contains(t, out, "CHMOD-OWN", "stderr: %s", errOut)
	st, err := os.Stat(sys)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.Contains(t, errOut, "Read-only file system")
}

// TestIdentityCapAdd: a capability named in CapAdd is kept, in every set
// that survives execve, and no other.
func TestIdentityCapAdd(t *testing.T) {
	requireRoot(t)
	out, errOut, code := shellRun(t, sandbox.Policy{CapAdd: []string{"CAP_NET_RAW"}}, "", "grep Cap /proc/self/status")
	require.Equal(t, 0, code, "stderr: %s", errOut)
	want := uint64(1) << unix.CAP_NET_RAW
	for _, set := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb"} {
		require.Equal(t, want, capField(t, out, set), set)
	}
}

// TestIdentityUserNamespace: root of its own user namespace, nobody on the
// host: what it creates belongs to 65534, and it cannot write a root-owned
// file even where Landlock would let it (its working directory).
func TestIdentityUserNamespace(t *testing.T) {
	requireRoot(t)
	dir := workDir(t)
	own := writeFile(t, dir, "root-owned", "keep\n")
	out, errOut, code := shellRun(t, sandbox.Policy{Identity: sandbox.IdentityUserNamespace}, dir,
		"id -u; grep CapEff /proc/self/status; echo data > made; (echo x >> "+own+") && echo WROTE-ROOT-FILE; true")
	require.Equal(t, 0, code, "stderr: %s", errOut)
	require.True(t, strings.HasPrefix(out, "0\n"), "root inside: %q", out)
	require.Zero(t, capField(t, out, "CapEff"))
	require.Equal(t, uint32(65534), ownerOf(t, filepath.Join(dir, "made")), "nobody on the host")
	require.NotContains(t, out, "WROTE-ROOT-FILE", "a stranger to root's files")
	data, err := os.ReadFile(own)
	require.NoError(t, err)
	require.Equal(t, "keep\n", string(data))
}

// TestIdentityHostRoot: "no boundary" keeps the capabilities and lets the
// command write under /etc.
func TestIdentityHostRoot(t *testing.T) {
	requireRoot(t)
	sys := rootOwnedSystemFile(t)
	out, errOut, code := shellRun(t, sandbox.Policy{Identity: sandbox.IdentityHostRoot}, "",
		"grep CapEff /proc/self/status; (echo x >> "+sys+") && echo WROTE-ETC; true")
	require.Equal(t, 0, code, "stderr: %s", errOut)
	require.NotZero(t, capField(t, out, "CapEff"))
	require.Contains(t, out, "WROTE-ETC")
}

// TestExtraFilesOnly: the command inherits 0, 1, 2 and Cmd.ExtraFiles, not
// a descriptor the supervisor holds without close-on-exec.
func TestExtraFilesOnly(t *testing.T) {
	secret := writeFile(t, t.TempDir(), "secret", "s3cret\n")
	inherited, err := unix.Open(secret, unix.O_RDONLY, 0) // no O_CLOEXEC: a descriptor this process inherited
	require.NoError(t, err)
	defer unix.Close(inherited)
	passed, err := os.Open(secret)
	require.NoError(t, err)
	defer passed.Close()

	r := newRunContext(t, context.Background(), "/bin/sh", "-c", "ls /proc/self/fd; cat <&3; cat <&"+strconv.Itoa(inherited))
	r.ExtraFiles = []*os.File{passed}
	_, _ = r.run(t)
	out := r.stdout.String()
	require.Equal(t, 1, strings.Count(out, "s3cret"), "only the extra file reads the secret: %q, stderr %q", out, r.stderr.String())
	require.Contains(t, r.stderr.String(), "Bad file descriptor")
}

// TestRunGuardLetsTheRunControlItself: resource limits and priorities of
// the command's own processes still work (pid 0 in the kernel, another
// process of the run through the guard); the supervisor's fail.
func TestRunGuardLetsTheRunControlItself(t *testing.T) {
	script := "ulimit -n 100 && echo SELF-OK; prlimit --pid $$ --nofile=90:90 && echo RUN-OK; " +
		"prlimit --pid " + strconv.Itoa(os.Getpid()) + " --nofile=80:80 && echo SUPERVISOR-CHANGED; " +
		"renice -n 5 -p $$ >/dev/null && echo RENICE-OK; true"
	out, errOut, code := shellRun(t, sandbox.Policy{}, "", script)
	require.Equal(t, 0, code, "stderr: %s", errOut)
	require.Contains(t, out, "SELF-OK")
	require.Contains(t, out, "RUN-OK", "stderr: %s", errOut)
	require.Contains(t, out, "RENICE-OK", "stderr: %s", errOut)
	require.NotContains(t, out, "SUPERVISOR-CHANGED")
	var lim unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &lim))
	require.NotEqual(t, uint64(80), lim.Cur)
}

// TestSessionIsTheRun: job control may move a process to a group of its
// own (setpgid is allowed), and it is still killed when the run ends: the
// run is the command's session. setsid stays denied, even with a handler
// on it (the trace command traps every syscall).
func TestSessionIsTheRun(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := `import os, sys, time
r, w = os.pipe()
if os.fork() == 0:
    os.setpgid(0, 0)
    open(sys.argv[1], "w").write(str(os.getpid()))
    os.write(w, b"x")
    time.sleep(60)
    os._exit(0)
os.read(r, 1)
r2, w2 = os.pipe()
if os.fork() == 0:  # not a group leader: setsid would work
    try:
        os.setsid()
        os.write(w2, b"SETSID-OK")
    except OSError as e:
        os.write(w2, b"setsid %d" % e.errno)
    os._exit(0)
os.wait()
print(os.read(r2, 64).decode())
`
	r := newRunContext(t, context.Background(), "python3", "-c", script, pidFile)
	r.handle(t, "setsid", func(*handler.Ctx) handler.Action { return handler.Continue() })
	out := r.mustRun(t)
	require.Equal(t, "setsid 1\n", out, "setsid is denied before any handler")
	data, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(string(data))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		return err != nil || strings.Contains(string(st), ") Z ")
	}, 5*time.Second, 10*time.Millisecond, "the process in a group of its own outlived the run")
}
