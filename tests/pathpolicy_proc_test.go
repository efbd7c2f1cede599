package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler/pathpolicy"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// runProcpeek runs procpeek MODE PATHS in dir under an open policy that
// allows everything ("/"), and returns its lines and the canonical paths
// the policy decided on, by path asked.
func runProcpeek(t *testing.T, dir, mode string, paths ...string) ([]string, []pathpolicy.Decision) {
	pol, err := pathpolicy.NewOpenPolicy(pathpolicy.Rules{Allow: []string{"/"}})
	require.NoError(t, err)
	var mu sync.Mutex
	var decisions []pathpolicy.Decision
	pol.OnDecision = func(d pathpolicy.Decision) {
		mu.Lock()
		decisions = append(decisions, d)
		mu.Unlock()
	}
	cmd := sandbox.Command(buildProgram(t, "procpeek"), append([]string{mode}, paths...)...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	for _, name := range pol.Syscalls(nil) {
		require.NoError(t, cmd.Handle(name, pol))
	}
	require.NoError(t, cmd.Run(), out.String())
	t.Log(strings.TrimSpace(out.String()))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, len(paths), out.String())
	mu.Lock()
	defer mu.Unlock()
	return lines, decisions
}

// TestPathPolicyProcStrangers: under an open policy allowing "/", which
// makes the supervisor (root, no Landlock) open files for the child, the
// child cannot get the supervisor's /proc files (its memory read-write,
// directly, through a symlink to /proc/self, through a thread) nor another
// host process's (pid 1, which this machine refuses to everyone anyway, and
// a process of the test's, which root could open); its own /proc files
// still open.
func TestPathPolicyProcStrangers(t *testing.T) {
	sup := strconv.Itoa(os.Getpid())
	host := exec.Command("sleep", "60")
	require.NoError(t, host.Start())
	t.Cleanup(func() { _ = host.Process.Kill(); _ = host.Wait() })
	stranger := strconv.Itoa(host.Process.Pid)
	dir := t.TempDir()
	require.NoError(t, os.Symlink("/proc/self/mem", filepath.Join(dir, "self-mem")))
	require.NoError(t, os.Symlink("/proc/"+sup, filepath.Join(dir, "sup")))
	refused := []string{
		"/proc/" + sup + "/mem",
		"/proc/" + sup + "/task/" + strconv.Itoa(unix.Gettid()) + "/mem",
		"/proc/" + sup + "/environ",
		"/proc/1/environ",
		"/proc/1/mem",
		"/proc/" + stranger + "/environ",
		"/proc/" + stranger + "/mem",
		"/proc/" + stranger + "/task/" + stranger + "/mem",
		"sup/mem",
		// /proc/self in a symlink the child made means the child, as
		// the kernel resolves it for the child: its own memory, which
		// the isolation keeps read-only (EROFS with the read-only
		// mounts, EACCES from Landlock without), never the
		// supervisor's.
		"self-mem",
	}
	lines, decisions := runProcpeek(t, dir, "rw", refused...)
	for i, line := range lines[:len(lines)-1] {
		require.Equal(t, "open path="+refused[i]+" errno=EACCES", line)
	}
	require.Regexp(t, `^open path=self-mem errno=(EROFS|EACCES)$`, lines[len(lines)-1])
	for _, d := range decisions {
		require.False(t, strings.HasPrefix(d.Path, "/proc/"+sup+"/") && d.Allowed, "the supervisor's %s was allowed", d.Path)
	}
	// Read-only: the supervisor's memory and environment pass the
	// kernel's checks for a thread of its own (same thread group, before
	// any LSM), files that are not ptrace-gated pass them for anyone.
	readOnly := []string{
		"/proc/" + sup + "/mem",
		"/proc/" + sup + "/environ",
		"/proc/" + sup + "/status",
		"/proc/" + sup,
		"/proc/1/environ",
		"/proc/" + stranger + "/status",
		"/proc/" + stranger + "/cmdline",
	}
	lines, _ = runProcpeek(t, dir, "ro", readOnly...)
	for i, line := range lines {
		require.Equal(t, "open path="+readOnly[i]+" errno=EACCES", line)
	}
}

// TestPathPolicyProcOwn: the child's own /proc files open through every
// spelling, and each names the child: /proc/self is its process,
// /proc/thread-self its thread (/proc/TGID/task/TID), /proc/net and
// /proc/mounts its own, a path relative to /proc too.
func TestPathPolicyProcOwn(t *testing.T) {
	paths := []string{"/proc/self/status", "/proc/thread-self/status", "/proc/self/stat", "/proc/net/unix", "/proc/mounts", "self/status", "/proc/cpuinfo"}
	lines, decisions := runProcpeek(t, "/proc", "ro", paths...)
	for i, line := range lines {
		require.Contains(t, line, "open path="+paths[i]+" ok content=", paths[i])
	}
	require.Equal(t, "open path=/proc/self/status ok content=Name:\tprocpeek", lines[0])
	require.Equal(t, "open path=/proc/thread-self/status ok content=Name:\tprocpeek", lines[1])
	pid := strings.Fields(strings.TrimPrefix(lines[2], "open path=/proc/self/stat ok content="))[0]
	require.GreaterOrEqual(t, len(decisions), len(paths))
	decisions = decisions[len(decisions)-len(paths):] // after the Go runtime's own opens
	want := []*regexp.Regexp{
		regexp.MustCompile(`^/proc/` + pid + `/status$`),
		regexp.MustCompile(`^/proc/` + pid + `/task/\d+/status$`),
		regexp.MustCompile(`^/proc/` + pid + `/stat$`),
		regexp.MustCompile(`^/proc/` + pid + `/net/unix$`),
		regexp.MustCompile(`^/proc/` + pid + `/mounts$`),
		regexp.MustCompile(`^/proc/` + pid + `/status$`),
		regexp.MustCompile(`^/proc/cpuinfo$`),
	}
	for i, d := range decisions {
		require.True(t, d.Allowed, "%+v", d)
		require.Regexp(t, want[i], d.Path, paths[i])
	}
}
