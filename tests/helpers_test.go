package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// getpidMagic is GetpidMagic of tests/victims/victim: the first argument of
// the victim's own raw getpid, so that handlers leave the Go runtime's
// getpid calls alone.
const getpidMagic = 0x5a17

// runTimeout bounds every run: a hang fails the test instead of the suite.
// It is generous: CI machines are small and shared, and a run there may
// be several times slower than here; only a hang should reach it.
const runTimeout = 60 * time.Second

// victim returns the path of the victim program (tests/victims/victim).
func victim(t testing.TB) string {
	t.Helper()
	return buildProgram(t, "victim")
}

var programs sync.Map // victim name -> *builtProgram

type builtProgram struct {
	once sync.Once
	path string
	err  error
}

// buildProgram returns the path of the program in tests/victims/NAME, built
// once per test binary run with CGO_ENABLED=0. It lives in a per-user
// directory named after a hash of its sources, and is replaced atomically:
// runs do not pile up binaries in the temp dir, and trees with different
// victims do not overwrite each other's.
func buildProgram(t testing.TB, name string) string {
	t.Helper()
	v, _ := programs.LoadOrStore(name, &builtProgram{})
	b := v.(*builtProgram)
	b.once.Do(func() { b.path, b.err = buildVictim(name) })
	require.NoError(t, b.err, "build victims/%s", name)
	return b.path
}

// sourceHash hashes the files of dir.
func sourceHash(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

func buildVictim(name string) (string, error) {
	source := "./victims/" + name
	sum, err := sourceHash(source)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "sandlock-go-victims-"+strconv.Itoa(os.Getuid()), name+"-"+sum)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, name+"-*.tmp")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command(goTool(), "build", "-o", tmp.Name(), source)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	bin := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", err
	}
	return bin, nil
}

// nr returns the native number of a syscall, from the syscalls tables.
func nr(t testing.TB, name string) int {
	t.Helper()
	n, err := syscalls.Native().Number(name)
	require.NoError(t, err)
	return n
}

// syncBuffer is a bytes.Buffer safe to read while the command writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// run is one supervised command with captured output.
type run struct {
	*sandbox.Cmd
	stdout, stderr syncBuffer
	cancel         context.CancelFunc
}

// newRun prepares the victim with args under a context that times out
// after runTimeout.
func newRun(t testing.TB, args ...string) *run {
	t.Helper()
	return newRunContext(t, context.Background(), victim(t), args...)
}

// newRunContext prepares name with args under parent, bounded by
// runTimeout.
func newRunContext(t testing.TB, parent context.Context, name string, args ...string) *run {
	t.Helper()
	return newRunWithin(t, parent, runTimeout, name, args...)
}

// newRunWithin is newRunContext bounded by within instead of runTimeout.
func newRunWithin(t testing.TB, parent context.Context, within time.Duration, name string, args ...string) *run {
	t.Helper()
	ctx, cancel := context.WithTimeout(parent, within)
	t.Cleanup(cancel)
	r := &run{Cmd: sandbox.CommandContext(ctx, name, args...), cancel: cancel}
	r.Stdout = &r.stdout
	r.Stderr = &r.stderr
	return r
}

// handle registers f on the named syscall.
func (r *run) handle(t testing.TB, name string, f func(c *handler.Ctx) handler.Action) {
	t.Helper()
	require.NoError(t, r.Handle(name, handler.Func(f)))
}

// run runs the command and returns its stdout and Wait's error. It fails
// the test when the run hit runTimeout.
func (r *run) run(t testing.TB) (string, error) {
	t.Helper()
	start := time.Now()
	err := r.Run()
	if time.Since(start) >= runTimeout {
		t.Fatalf("run did not end within %s: %v\nstdout:\n%s\nstderr:\n%s", runTimeout, err, r.stdout.String(), r.stderr.String())
	}
	return r.stdout.String(), err
}

// mustRun runs the command, which must exit 0, and returns its stdout.
func (r *run) mustRun(t testing.TB) string {
	t.Helper()
	out, err := r.run(t)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())
	return out
}

// waitOutput waits until the command's stdout contains s.
func (r *run) waitOutput(t testing.TB, s string) {
	t.Helper()
	deadline := time.Now().Add(runTimeout)
	for !strings.Contains(r.stdout.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in stdout within %s:\n%s\nstderr:\n%s", s, runTimeout, r.stdout.String(), r.stderr.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// writeFile creates dir/name with content and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// countFDs returns the number of open descriptors of this process.
func countFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(entries)
}

// listFDs describes the open descriptors, for failure messages.
func listFDs() string {
	entries, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range entries {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "%s -> %s\n", e.Name(), target)
	}
	return b.String()
}

// settleGoroutines waits until at most want goroutines run and returns
// the last count.
func settleGoroutines(want int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// errorLog collects the errors of handler.Options.OnError.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// processGone reports whether pid has exited (gone or a zombie).
func processGone(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// waitProcessExit blocks until pid has exited (not necessarily reaped).
func waitProcessExit(t testing.TB, pid int, within time.Duration) {
	t.Helper()
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		require.ErrorIs(t, err, unix.ESRCH)
		return
	}
	defer unix.Close(pidfd)
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	deadline := time.Now().Add(within)
	for {
		n, err := unix.Poll(fds, 10)
		if err == nil && n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still running after %s", pid, within)
		}
	}
}

// receive returns the next value of ch, failing the test after d.
func receive[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %s", what, d)
		panic("unreachable")
	}
}

// waitWithin runs Wait and returns its duration and error. When Wait has not
// returned after d, the test fails, unstick (if any) is called to release
// whatever blocks it, and Wait gets runTimeout more.
func (r *run) waitWithin(t testing.TB, d time.Duration, unstick func()) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- r.Wait() }()
	select {
	case err := <-done:
		return time.Since(start), err
	case <-time.After(d):
	}
	t.Errorf("Wait did not return within %s", d)
	if r.Process != nil {
		t.Logf("the command's threads:\n%s", taskStates(r.Process.Pid))
	}
	buf := make([]byte, 1<<20)
	t.Logf("this process's goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	if unstick != nil {
		unstick()
	}
	err := receive(t, done, runTimeout, "return from Wait")
	return time.Since(start), err
}

// kill sends SIGKILL to the command's process: an unstick for waitWithin
// when the runner itself failed to kill it.
func (r *run) kill() {
	if r.Process != nil {
		_ = unix.Kill(r.Process.Pid, unix.SIGKILL)
	}
}

// tgidOf returns the process of thread tid (0 if it is gone): a
// notification names the calling thread, a program prints its process.
func tgidOf(tid int) int {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// taskStates lists the threads of pid with their state, the syscall each
// is in (/proc/PID/task/TID/syscall) and its kernel wait channel: what a
// stuck run was doing.
func taskStates(pid int) string {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range entries {
		stat, _ := os.ReadFile(dir + "/" + e.Name() + "/stat")
		call, _ := os.ReadFile(dir + "/" + e.Name() + "/syscall")
		wchan, _ := os.ReadFile(dir + "/" + e.Name() + "/wchan")
		state := ""
		if end := bytes.LastIndexByte(stat, ')'); end > 0 && end+3 < len(stat) {
			state = string(stat[end+2 : end+3])
		}
		fmt.Fprintf(&b, "tid %s state %s syscall %s wchan %s\n", e.Name(), state, strings.TrimSpace(string(call)), wchan)
	}
	return b.String()
}
