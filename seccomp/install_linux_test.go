package seccomp_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/seccomp"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// A filter cannot be removed once installed, so the tests that install one
// run again in a subprocess: the test binary re-executed with
// -test.run=^Name$ and childEnv set to the test's name.
const childEnv = "SECCOMP_TEST_CHILD"

// isChild reports whether this process is the subprocess of test t.
func isChild(t *testing.T) bool { return os.Getenv(childEnv) == t.Name() }

// runChild runs t in a subprocess and returns its state and output.
func runChild(t *testing.T) (*os.ProcessState, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running the child: %v", err)
	}
	return cmd.ProcessState, string(out)
}

// requireChildPassed runs t in a subprocess and fails unless it passed.
func requireChildPassed(t *testing.T) {
	t.Helper()
	state, out := runChild(t)
	if !state.Success() || !strings.Contains(out, "--- PASS: "+t.Name()) {
		t.Fatalf("child %v:\n%s", state, out)
	}
	t.Logf("child output:\n%s", out)
}

func nativeNr(t *testing.T, name string) int {
	t.Helper()
	n, err := syscalls.Number(name)
	require.NoError(t, err)
	return n
}

func TestInstallErrno(t *testing.T) {
	if !isChild(t) {
		requireChildPassed(t)
		return
	}
	runtime.LockOSThread() // for good: this thread gets the filter

	// A thread that exists before Install keeps running unfiltered: the
	// filter is for the calling thread only.
	start, result := make(chan struct{}), make(chan unix.Errno)
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never the main thread, which is locked
		close(ready)
		<-start
		_, _, e := unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		result <- e
	}()
	<-ready

	ppid := os.Getppid()
	p := mustCompile(t, &seccomp.Filter{Rules: []seccomp.Rule{
		{Syscall: nativeNr(t, "getppid"), Action: seccomp.Errno(unix.EPERM)},
	}})
	fd, err := seccomp.Install(p, seccomp.InstallOptions{})
	require.NoError(t, err)
	assert.Equal(t, -1, fd)

	_, _, e := unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
	assert.Equal(t, unix.EPERM, e, "getppid on the filtered thread")
	assert.Equal(t, -1, unix.Getppid(), "unix.Getppid returns -EPERM as -1")

	close(start)
	assert.Equal(t, unix.Errno(0), <-result, "getppid on a thread that existed before Install")

	noNewPrivs, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, noNewPrivs)
	t.Logf("parent pid %d", ppid)

	// Install allocates nothing: it may run right before execve.
	allocs := testing.AllocsPerRun(3, func() {
		if _, err := seccomp.Install(p, seccomp.InstallOptions{}); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs, "allocations per Install")
}

func TestInstallListener(t *testing.T) {
	if !isChild(t) {
		requireChildPassed(t)
		return
	}
	runtime.LockOSThread()
	// Notify on getppid, which neither the runtime nor the test calls
	// until the listener is closed: nobody answers the notification.
	getppid := nativeNr(t, "getppid")
	p := mustCompile(t, &seccomp.Filter{Rules: []seccomp.Rule{{Syscall: getppid, Action: seccomp.Notify}}})
	fd, err := seccomp.Install(p, seccomp.InstallOptions{Listener: true})
	require.NoError(t, err)
	require.GreaterOrEqual(t, fd, 0)

	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	require.NoError(t, err)
	assert.Equal(t, "anon_inode:seccomp notify", link)
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	require.NoError(t, err)
	assert.NotZero(t, flags&unix.FD_CLOEXEC, "listener is close-on-exec")

	// One listener per filter tree.
	_, err = seccomp.Install(p, seccomp.InstallOptions{Listener: true})
	assert.ErrorIs(t, err, unix.EBUSY)
	assert.Contains(t, err.Error(), "seccomp install: ")

	// With the listener closed, a notified syscall fails with ENOSYS.
	require.NoError(t, unix.Close(fd))
	_, _, e := unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
	assert.Equal(t, unix.ENOSYS, e)
}

func TestInstallKillProcess(t *testing.T) {
	if isChild(t) {
		runtime.LockOSThread()
		p := mustCompile(t, &seccomp.Filter{Rules: []seccomp.Rule{
			{Syscall: nativeNr(t, "getppid"), Action: seccomp.KillProcess},
		}})
		_, err := seccomp.Install(p, seccomp.InstallOptions{})
		require.NoError(t, err)
		unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		t.Fatal("still alive after a syscall with KillProcess")
	}
	state, out := runChild(t)
	ws, ok := state.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
		t.Fatalf("child %v, want killed by SIGSYS:\n%s", state, out)
	}
}

// TestKernelAgreesWithEvaluate installs conditional rules on getppid, which
// ignores its arguments, calls it with arguments at the word edges, and
// checks the kernel's answer against Program.Evaluate: the layout of
// seccomp_data and the 64-bit compares as the kernel sees them.
func TestKernelAgreesWithEvaluate(t *testing.T) {
	if !isChild(t) {
		requireChildPassed(t)
		return
	}
	runtime.LockOSThread()
	getppid := nativeNr(t, "getppid")
	rule := func(e unix.Errno, conds ...seccomp.Cond) seccomp.Rule {
		return seccomp.Rule{Syscall: getppid, Action: seccomp.Errno(e), Conds: conds}
	}
	f := &seccomp.Filter{Rules: []seccomp.Rule{
		rule(1, seccomp.ArgEq(0, 0x0000000100000005)),
		rule(2, seccomp.ArgGt(1, 0x0000000100000005)),
		rule(3, seccomp.ArgLt(2, 0x0000000100000005), seccomp.ArgNe(3, 0)),
		rule(4, seccomp.ArgMaskedEq(4, 0xff000000ff, 0x1200000034)),
		rule(5, seccomp.ArgGe(5, 0xffffffff)),
		rule(6, seccomp.ArgLe(0, 7), seccomp.ArgEq(3, 1<<32)),
	}}
	p := mustCompile(t, f)
	ppid := uintptr(os.Getppid())
	_, err := seccomp.Install(p, seccomp.InstallOptions{})
	require.NoError(t, err)

	r := rand.New(rand.NewPCG(7, 7))
	vals := append([]uint64{0x1200000034, 0x12ffffff34, 0x1300000034}, interesting...)
	cases := [][6]uint64{{0, 0, ^uint64(0), 1 << 32, 0, 0}} // the last rule
	for i := range 6 {
		for _, v := range vals {
			var a [6]uint64
			a[i] = v
			cases = append(cases, a)
		}
	}
	for range 500 {
		var a [6]uint64
		for i := range a {
			a[i] = vals[r.IntN(len(vals))]
		}
		cases = append(cases, a)
	}
	hits := map[uint32]int{}
	for _, a := range cases {
		want, err := p.Evaluate(seccomp.Data{Nr: int32(getppid), Arch: syscalls.Native().AuditArch(), Args: a})
		require.NoError(t, err)
		hits[want]++
		r1, _, e := unix.RawSyscall6(uintptr(getppid), uintptr(a[0]), uintptr(a[1]), uintptr(a[2]), uintptr(a[3]), uintptr(a[4]), uintptr(a[5]))
		if want == seccomp.Allow.Ret() {
			require.Equal(t, unix.Errno(0), e, "args %#x", a)
			require.Equal(t, ppid, r1, "args %#x", a)
		} else {
			require.Equal(t, unix.Errno(want&unix.SECCOMP_RET_DATA), e, "args %#x", a)
		}
	}
	t.Logf("%d calls, results %v", len(cases), hits)
	assert.Len(t, hits, 7, "every rule and the default were hit")
}

// TestKernelAcceptsBigProgram installs programs near the size limit, full
// of trampolines and shared returns, and checks a few decisions: the
// kernel's checker accepts our jumps and agrees with Evaluate.
func TestKernelAcceptsBigProgram(t *testing.T) {
	if !isChild(t) {
		requireChildPassed(t)
		return
	}
	runtime.LockOSThread()
	arch := syscalls.Native()
	getppid, getpid := nativeNr(t, "getppid"), nativeNr(t, "getpid")
	ppid, pid := uintptr(os.Getppid()), uintptr(os.Getpid())

	// Conditional rules on every syscall, on a sixth argument value the
	// runtime never passes.
	const magic = 0xdeadbeefcafe0000
	wide := &seccomp.Filter{}
	for _, s := range arch.Syscalls() {
		wide.Rules = append(wide.Rules, seccomp.Rule{Syscall: s.Number, Action: seccomp.Errno(unix.EPERM),
			Conds: []seccomp.Cond{seccomp.ArgEq(5, magic)}})
	}
	// Many rules on one syscall: long jumps inside a condition chain.
	deep := &seccomp.Filter{}
	for i := range 800 {
		deep.Rules = append(deep.Rules, seccomp.Rule{Syscall: getppid, Action: seccomp.Errno(unix.Errno(1 + i%2)),
			Conds: []seccomp.Cond{seccomp.ArgEq(0, uint64(i)<<20)}})
	}
	for _, f := range []*seccomp.Filter{wide, deep} {
		p := mustCompile(t, f)
		t.Logf("%d rules: %d instructions", len(f.Rules), len(p))
		_, err := seccomp.Install(p, seccomp.InstallOptions{})
		require.NoError(t, err)
	}

	for _, c := range []struct {
		nr    int
		args  [6]uint64
		want  uintptr
		errno unix.Errno
	}{
		{getppid, [6]uint64{}, 0, unix.EPERM}, // deep: arg0 0 is rule 0
		{getppid, [6]uint64{1}, ppid, 0},
		{getppid, [6]uint64{799 << 20}, 0, unix.Errno(2)},
		{getppid, [6]uint64{798 << 20}, 0, unix.Errno(1)},
		{getppid, [6]uint64{800 << 20}, ppid, 0},
		{getppid, [6]uint64{1, 0, 0, 0, 0, magic}, 0, unix.EPERM}, // wide
		{getpid, [6]uint64{}, pid, 0},
		{getpid, [6]uint64{0, 0, 0, 0, 0, magic}, 0, unix.EPERM},
		{getpid, [6]uint64{0, 0, 0, 0, 0, magic + 1}, pid, 0},
	} {
		a := c.args
		r1, _, e := unix.RawSyscall6(uintptr(c.nr), uintptr(a[0]), uintptr(a[1]), uintptr(a[2]), uintptr(a[3]), uintptr(a[4]), uintptr(a[5]))
		assert.Equal(t, c.errno, e, "nr %d args %#x", c.nr, a)
		if c.errno == 0 {
			assert.Equal(t, c.want, r1, "nr %d args %#x", c.nr, a)
		}
	}
}

// installReportChild installs a getppid Notify filter with a listener and
// the given choice of SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV.
func installReportChild(t *testing.T, choice seccomp.FlagChoice) (seccomp.Installed, error) {
	t.Helper()
	runtime.LockOSThread()
	getppid := nativeNr(t, "getppid")
	p := mustCompile(t, &seccomp.Filter{Rules: []seccomp.Rule{{Syscall: getppid, Action: seccomp.Notify}}})
	return seccomp.InstallReport(p, seccomp.InstallOptions{Listener: true, WaitKillableRecv: choice})
}

// TestInstallReportOff: FlagOff installs the listener without the
// killable wait, and says so.
func TestInstallReportOff(t *testing.T) {
	if !isChild(t) {
		requireChildPassed(t)
		return
	}
	r, err := installReportChild(t, seccomp.FlagOff)
	require.NoError(t, err)
	defer unix.Close(r.ListenerFD)
	require.GreaterOrEqual(t, r.ListenerFD, 0)
	assert.Equal(t, uint(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER), r.Flags)
	assert.False(t, r.WaitKillableRecv())
}

// TestInstallReportRequired: FlagRequired either gets the killable wait
// and says so, or fails (a kernel before 5.19); it never drops it.
func TestInstallReportRequired(t *testing.T) {
	if !isChild(t) {
		requireChildPassed(t)
		return
	}
	r, err := installReportChild(t, seccomp.FlagRequired)
	if err != nil {
		require.ErrorIs(t, err, unix.EINVAL)
		assert.Equal(t, -1, r.ListenerFD)
		return
	}
	defer unix.Close(r.ListenerFD)
	assert.True(t, r.WaitKillableRecv())
	assert.Equal(t, uint(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER|unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV), r.Flags)
}
