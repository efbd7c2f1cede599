package tests

// The isolation suite (issue 10, "Isolation by default"): a hostile program,
// run as root with no flags, tries to reach its supervisor, host root, host
// services and the kernel's larger attack surface. Every attempt must fail.
// The program is tests/victims/escape; each of its vectors is one subtest
// here, named after the vector, e.g.
//
//	TestIsolationCLI/NoFlags/SupervisorMemRW
//	TestIsolationCLI/AllowPathRoot/SupervisorMemRW
//	TestIsolationLibrary/SupervisorMemRW
//
// The names are those of docs/security.md's threat table: keep them stable.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/sandbox"
)

// isolationTimeout bounds one run of the escape victim.
const isolationTimeout = 15 * time.Second

// secretFDInCLI is the descriptor the secret file gets in the CLI process,
// as in the issue's `exec 7<secret; sandlock-go run ...`. It is above the
// helper's own descriptors (3 and 4), which would cover a lower one.
const secretFDInCLI = 7

// isolationVectors lists the escape victim's vectors, in its order, with
// the mechanism expected to stop each one. Every vector the victim prints
// must be here, and every vector here must be printed.
//
// A vector marked extra is not in issue 10's list (nor in the mechanisms
// planned for it): the suite found it open, and its failure message says so.
var isolationVectors = []struct {
	name, mechanism string
	extra           bool
}{
	{"SupervisorMemRW", "a Landlock domain on every run (ptrace restriction, ABI 1) and PR_SET_DUMPABLE 0 in the supervisor", false},
	{"SupervisorMemViaProcSelfAlias", "opens performed on the child's behalf resolve \"self\" as the child, not the supervisor (\"/proc//self/mem\" slips past pathpolicy's procSelf prefix test)", true},
	{"SupervisorMemViaDevFD", "opens performed on the child's behalf resolve \"self\" as the child, not the supervisor (/dev/fd -> /proc/self/fd, then ..)", true},
	{"SupervisorProcFD", "Landlock domain (ptrace-gated /proc/PID/fd) and PR_SET_DUMPABLE 0", false},
	{"SupervisorEnviron", "capabilities dropped (commoncap: the supervisor's permitted set is not a subset of the command's) and PR_SET_DUMPABLE 0; a Landlock domain alone does not stop these PTRACE_MODE_READ files (checked on 6.18)", false},
	{"SupervisorMaps", "capabilities dropped (commoncap: the supervisor's permitted set is not a subset of the command's) and PR_SET_DUMPABLE 0; a Landlock domain alone does not stop these PTRACE_MODE_READ files (checked on 6.18)", false},
	{"PtraceAttachSupervisor", "default deny list (ptrace) and the Landlock domain", false},
	{"ProcessVMReadvSupervisor", "default deny list (process_vm_readv) and the Landlock domain", false},
	{"ProcessVMWritevSupervisor", "default deny list (process_vm_writev) and the Landlock domain", false},
	{"PidfdGetfdSupervisor", "Landlock domain (pidfd_getfd is a ptrace attach check) and PR_SET_DUMPABLE 0", false},
	{"KillSupervisor", "Landlock signal scope (ABI 6)", false},
	{"TgkillSupervisor", "Landlock signal scope (ABI 6)", false},
	{"PidfdSendSignalSupervisor", "Landlock signal scope (ABI 6)", false},
	{"KillHostProcess", "Landlock signal scope (ABI 6): no process outside the run", false},
	{"FSetownSignal", "Landlock signal scope (ABI 6) on F_SETOWN/SIGIO delivery", false},
	{"PrlimitSupervisor", "prlimit64 on another process with the same uids needs no capability, and dropping capabilities does not stop it (checked with setpriv on 6.18): a lower RLIMIT_CPU or RLIMIT_NOFILE ends supervision; deny prlimit64 with a pid other than 0 in the filter, or a different uid", true},
	{"SetprioritySupervisor", "capabilities dropped (commoncap's cap_safe_nice: the supervisor's permitted set is not a subset of the command's; checked with setpriv on 6.18)", false},
	{"SupervisorOOMScoreAdj", "/proc/PID/oom_score_adj of a process with the same uid is writable without capabilities (raising it makes the supervisor the OOM killer's first choice; checked with setpriv on 6.18): Landlock write protection of /proc, or a different uid", true},
	{"CapEff", "capabilities dropped (effective set)", false},
	{"CapPrm", "capabilities dropped (permitted set)", false},
	{"CapInh", "capabilities dropped (inheritable set)", false},
	{"CapAmb", "capabilities dropped (ambient set)", false},
	{"CapBnd", "capabilities dropped (bounding set)", false},
	{"CorePatternRewrite", "Landlock write protection of /proc/sys", false},
	{"ModprobePathOpenWrite", "Landlock write protection of /proc/sys", false},
	{"SysKnobOpenWrite", "Landlock write protection of /sys", false},
	{"SysrqTriggerOpenWrite", "Landlock write protection of /proc/sysrq-trigger (outside /proc/sys)", true},
	{"EtcFileWrite", "Landlock write protection of /etc", false},
	{"EtcFileCreate", "Landlock write protection of /etc", false},
	{"EtcFileChmod", "Landlock has no right for chmod, and the owner needs no capability: a different uid, or the filter (chmod, fchmodat, fchmodat2 on paths outside the run; racy on a path), would stop it", true},
	{"RootDotfileOpenWrite", "Landlock write protection of root's dotfiles", false},
	{"RootHomeCreate", "Landlock write protection of root's home, new dotfiles included (~/.bash_login, ~/.ssh/authorized_keys, ~/.config/systemd/user/...)", false},
	{"RunCreate", "Landlock write protection of /run (systemd loads units from /run/systemd/system and runs them as root)", true},
	{"InheritedFDs", "descriptors: only 0, 1, 2 and ExtraFiles reach the command", false},
	{"InheritedSecretFD", "descriptors: only 0, 1, 2 and ExtraFiles reach the command", false},
	{"UnixConnectPath", "AF_UNIX connect to a socket outside the run refused unless --allow-unix", false},
	{"UnixConnectAbstract", "Landlock abstract unix socket scope (ABI 6)", false},
	{"UnixSendtoPath", "AF_UNIX sendto to a socket outside the run refused unless --allow-unix", false},
	{"UnixSendtoAbstract", "Landlock abstract unix socket scope (ABI 6)", false},
	{"UnshareUserNS", "default deny list (unshare)", false},
	{"UnshareMountNS", "default deny list (unshare)", false},
	{"CloneNewUserNS", "default deny list (clone with CLONE_NEW* flags)", false},
	{"Clone3NewUserNS", "default deny list (clone3 answers ENOSYS)", false},
	{"SetnsUTS", "default deny list (setns)", false},
	{"MountTmpfs", "default deny list (mount family) and the Landlock domain", false},
	{"KeyctlReadSessionKeyring", "default deny list (keyctl) and a fresh session keyring", false},
	{"KeyctlReadKeyByID", "default deny list (keyctl) and a fresh session keyring", false},
	{"KeyctlReadUserKeyring", "default deny list (keyctl) and a fresh session keyring that does not link root's user keyring", false},
	{"RequestKeySearch", "default deny list (request_key)", false},
	{"AddKeyUserKeyring", "default deny list (add_key): root's user keyring is shared by every root process of the host", false},
	{"BpfMapCreate", "default deny list (bpf)", false},
	{"PerfEventOpen", "default deny list (perf_event_open)", false},
	{"Userfaultfd", "default deny list (userfaultfd)", false},
	{"IoUringSetup", "default deny list (io_uring_setup)", false},
	{"FinitModule", "default deny list (modules) and dropped capabilities", false},
	{"KexecLoad", "default deny list (kexec) and dropped capabilities", false},
	{"TIOCSTI", "deny ioctl TIOCSTI, or start the command in a new session (a root child without capabilities still injects input into its controlling terminal)", true},
	{"TIOCSTIHighBits", "deny ioctl TIOCSTI comparing the request's low 32 bits (the kernel drops the high ones)", true},
}

// isolationTargets is what the test sets up outside the sandbox for the
// escape victim to attack, and what tells afterwards whether an attack left
// a trace.
type isolationTargets struct {
	secret     string
	secretFile *os.File
	etcFile    string
	etcContent string
	etcCreate  string
	homeCreate string
	runCreate  string
	mountDir   string
	keyID      int
	keyDesc    string
	keyPayload string

	unixPath, unixAbs, dgramPath, dgramAbs string
	accepted                               atomic.Int64 // stream connections accepted
	dgrams                                 [2]*net.UnixConn

	core, dotfile, sysKnob string
}

func randomName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// newIsolationTargets sets up the targets; t.Cleanup removes them.
func newIsolationTargets(t *testing.T) *isolationTargets {
	t.Helper()
	tg := &isolationTargets{}
	id := randomName(t)
	tg.secret = "sandlock-go-secret-" + id

	dir := t.TempDir()
	secretPath := writeFile(t, dir, "secret", tg.secret+"\n")
	f, err := os.Open(secretPath)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	tg.secretFile = f

	// A root-owned file under /etc, and a name there that must stay free.
	tg.etcFile = "/etc/sandlock-go-test-" + id
	tg.etcContent = "created by tests/isolation_test.go\n"
	require.NoError(t, os.WriteFile(tg.etcFile, []byte(tg.etcContent), 0o644))
	t.Cleanup(func() { os.Remove(tg.etcFile) })
	tg.etcCreate = "/etc/sandlock-go-test-" + id + "-created"
	t.Cleanup(func() { os.Remove(tg.etcCreate) })
	// New files where root's shells and the service manager look.
	tg.homeCreate = "/root/.sandlock-go-test-" + id
	t.Cleanup(func() { os.Remove(tg.homeCreate) })
	if _, err := os.Stat("/run"); err == nil {
		tg.runCreate = "/run/sandlock-go-test-" + id
		t.Cleanup(func() { os.Remove(tg.runCreate) })
	}

	tg.mountDir = filepath.Join(dir, "mnt")
	require.NoError(t, os.Mkdir(tg.mountDir, 0o755))
	t.Cleanup(func() { _ = unix.Unmount(tg.mountDir, unix.MNT_DETACH) })

	// A key of root's: in the user keyring, which every process of uid 0
	// reaches through its session keyring (the user session keyring links
	// it) unless it has a fresh session keyring of its own. Not in this
	// process's session keyring: the kernel keeps that per thread, and
	// add_key would give one to the calling thread only, so a command
	// forked from another thread would not see it.
	tg.keyDesc = "sandlock-go-test-" + id
	tg.keyPayload = "sandlock-go-key-" + id
	tg.keyID, err = unix.AddKey("user", tg.keyDesc, []byte(tg.keyPayload), unix.KEY_SPEC_USER_KEYRING)
	require.NoError(t, err, "add_key")
	t.Cleanup(func() { _, _ = unix.KeyctlInt(unix.KEYCTL_UNLINK, tg.keyID, unix.KEY_SPEC_USER_KEYRING, 0, 0) })
	t.Cleanup(func() { tg.unlinkPlantedKey() })

	// Fake daemons: a stream and a datagram socket, each bound to a path
	// and to an abstract name. A short directory: sun_path holds 108 bytes.
	// World-connectable, as the D-Bus system bus is: the sandbox, not the
	// file modes, must keep the victim out, whatever its identity.
	sockDir, err := os.MkdirTemp("", "slg-sock-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(sockDir, 0o755))
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	tg.unixPath = filepath.Join(sockDir, "daemon.sock")
	tg.unixAbs = "sandlock-go-test-" + id
	tg.dgramPath = filepath.Join(sockDir, "daemon.dgram")
	tg.dgramAbs = "sandlock-go-test-dgram-" + id
	for _, name := range []string{tg.unixPath, "@" + tg.unixAbs} {
		l, err := net.Listen("unix", name)
		require.NoError(t, err)
		if !strings.HasPrefix(name, "@") {
			require.NoError(t, os.Chmod(name, 0o666))
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				tg.accepted.Add(1)
				c.Close()
			}
		}()
	}
	for i, name := range []string{tg.dgramPath, "@" + tg.dgramAbs} {
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		require.NoError(t, err)
		if !strings.HasPrefix(name, "@") {
			require.NoError(t, os.Chmod(name, 0o666))
		}
		t.Cleanup(func() { c.Close() })
		tg.dgrams[i] = c
	}

	core, err := os.ReadFile("/proc/sys/kernel/core_pattern")
	require.NoError(t, err)
	tg.core = strings.TrimSuffix(string(core), "\n")
	tg.dotfile = firstExisting("/root/.bashrc", "/root/.profile")
	tg.sysKnob = firstExisting("/sys/kernel/uevent_helper", "/sys/kernel/profiling", "/sys/kernel/rcu_expedited")
	return tg
}

// reset undoes what a previous run's successful attacks left, so that
// the next run starts from the same state: a file the victim created would
// make its create fail with EEXIST, which would look like a block.
func (tg *isolationTargets) reset(t *testing.T) {
	t.Helper()
	for _, p := range []string{tg.etcCreate, tg.homeCreate, tg.runCreate} {
		if p != "" {
			require.NoError(t, os.RemoveAll(p))
		}
	}
	require.NoError(t, os.WriteFile(tg.etcFile, []byte(tg.etcContent), 0o644))
	require.NoError(t, os.Chmod(tg.etcFile, 0o644))
	tg.unlinkPlantedKey()
	for i := range tg.dgrams {
		for tg.datagramArrived(i) {
		}
	}
	_ = unix.Unmount(tg.mountDir, unix.MNT_DETACH)
	tg.accepted.Store(0)
}

// plantedKey is the description of the key AddKeyUserKeyring plants.
func (tg *isolationTargets) plantedKey() string { return tg.keyDesc + "-planted" }

// unlinkPlantedKey removes the key AddKeyUserKeyring planted, if the
// victim left it; it reports whether there was one.
func (tg *isolationTargets) unlinkPlantedKey() bool {
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "user", tg.plantedKey(), 0)
	if err != nil {
		return false
	}
	_, _ = unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0)
	return true
}

func firstExisting(paths ...string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// args are the escape victim's flags for these targets; secretFD is the
// secret's descriptor in the supervisor.
func (tg *isolationTargets) args(secretFD int) []string {
	return []string{
		"-secret", tg.secret,
		"-secret-fd", strconv.Itoa(secretFD),
		"-host", strconv.Itoa(os.Getpid()),
		"-etc-file", tg.etcFile,
		"-etc-create", tg.etcCreate,
		"-home-create", tg.homeCreate,
		"-run-create", tg.runCreate,
		"-dotfile", tg.dotfile,
		"-sys-knob", tg.sysKnob,
		"-core-pattern", tg.core,
		"-unix-path", tg.unixPath,
		"-unix-abstract", tg.unixAbs,
		"-dgram-path", tg.dgramPath,
		"-dgram-abstract", tg.dgramAbs,
		"-key-desc", tg.keyDesc,
		"-key-id", strconv.Itoa(tg.keyID),
		"-key-payload", tg.keyPayload,
		"-mount-dir", tg.mountDir,
		"all",
	}
}

// datagramArrived reports whether the datagram socket i (0: path, 1:
// abstract) received anything.
func (tg *isolationTargets) datagramArrived(i int) bool {
	c := tg.dgrams[i]
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 256)
	n, _, err := c.ReadFromUnix(buf)
	return err == nil && n > 0
}

// sigwinchWatch counts the SIGWINCH this process receives: the escape
// victim's FSetownSignal sends it through F_SETOWN.
type sigwinchWatch struct {
	ch chan os.Signal
}

func watchSIGWINCH(t *testing.T) *sigwinchWatch {
	w := &sigwinchWatch{ch: make(chan os.Signal, 16)}
	signal.Notify(w.ch, syscall.SIGWINCH)
	t.Cleanup(func() { signal.Stop(w.ch) })
	return w
}

// arrived reports whether a SIGWINCH came, waiting briefly for a late one.
func (w *sigwinchWatch) arrived() bool {
	select {
	case <-w.ch:
		return true
	case <-time.After(50 * time.Millisecond):
		return false
	}
}

// escapeReport is the escape victim's output: one verdict per vector.
type escapeReport struct {
	sup      int
	done     bool
	last     string // the last vector printed
	verdicts map[string]string
	output   string // everything, for failure messages
	winch    bool   // the host process received SIGWINCH
}

func parseEscape(stdout, stderr string) escapeReport {
	r := escapeReport{verdicts: map[string]string{}, output: "stdout:\n" + stdout + "stderr:\n" + stderr}
	for _, line := range strings.Split(stdout, "\n") {
		name, verdict, found := strings.Cut(line, "=")
		switch {
		case line == "DONE":
			r.done = true
		case !found:
		case name == "SUP":
			r.sup, _ = strconv.Atoi(verdict)
		default:
			r.verdicts[name] = verdict
			r.last = name
		}
	}
	return r
}

// check runs one subtest per vector on the report of a run whose
// supervisor was sup.
func (r escapeReport) check(t *testing.T, tg *isolationTargets, sup int) {
	t.Helper()
	require.Equal(t, sup, r.sup, "the victim attacked pid %d, not its supervisor %d\n%s", r.sup, sup, r.output)
	if !r.done {
		t.Errorf("the victim did not run to its end (killed by the sandbox?): its last vector was %q, the one after it probably ended it; the vectors without a verdict count as failed\n%s", r.last, r.output)
	}
	known := map[string]bool{}
	for _, v := range isolationVectors {
		known[v.name] = true
		t.Run(v.name, func(t *testing.T) {
			verdict, found := r.verdicts[v.name]
			if !found {
				t.Fatalf("%s: no verdict from the victim; expected it blocked by %s\n%s", v.name, v.mechanism, r.output)
			}
			kind, detail, _ := strings.Cut(verdict, " ")
			switch kind {
			case "blocked":
				t.Logf("blocked: %s", detail)
			case "skip":
				t.Skipf("cannot be tried here: %s", detail)
			case "sent":
				// FSetownSignal: the verdict is whether the signal came.
				if r.winch {
					t.Errorf("%s: SIGWINCH reached the test process through F_SETOWN; expected it blocked by %s", v.name, v.mechanism)
				}
			case "ok":
				extra := ""
				if v.extra {
					extra = " [not in issue 10's list]"
				}
				t.Errorf("%s: the attack SUCCEEDED (%s); expected it blocked by %s%s", v.name, detail, v.mechanism, extra)
			default:
				t.Errorf("%s: the victim could not try the vector: %s", v.name, verdict)
			}
			// Traces left outside, whatever the victim said.
			switch v.name {
			case "EtcFileWrite":
				data, err := os.ReadFile(tg.etcFile)
				require.NoError(t, err)
				require.Equal(t, tg.etcContent, string(data), "the victim wrote to %s", tg.etcFile)
			case "EtcFileCreate":
				require.NoFileExists(t, tg.etcCreate, "the victim created a file under /etc")
			case "EtcFileChmod":
				st, err := os.Stat(tg.etcFile)
				require.NoError(t, err)
				require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "the mode of %s changed", tg.etcFile)
			case "AddKeyUserKeyring":
				require.False(t, tg.unlinkPlantedKey(), "the victim left a key in root's user keyring")
			case "RootHomeCreate":
				require.NoFileExists(t, tg.homeCreate, "the victim created a dotfile in root's home")
			case "RunCreate":
				if tg.runCreate != "" {
					require.NoFileExists(t, tg.runCreate, "the victim created a file in /run")
				}
			case "UnixSendtoPath":
				require.False(t, tg.datagramArrived(0), "a datagram from the victim reached %s", tg.dgramPath)
			case "UnixSendtoAbstract":
				require.False(t, tg.datagramArrived(1), "a datagram from the victim reached @%s", tg.dgramAbs)
			}
		})
	}
	t.Run("UnixConnectAccepted", func(t *testing.T) {
		time.Sleep(20 * time.Millisecond) // the accept loop may lag the victim
		require.Zero(t, tg.accepted.Load(), "the fake daemons accepted connections from the victim; expected refused by the unix socket policy and the Landlock abstract socket scope")
	})
	for name := range r.verdicts {
		if !known[name] {
			t.Errorf("the victim printed vector %q, which isolationVectors lacks", name)
		}
	}
}

// runEscapeCLI runs the escape victim under `sandlock-go run FLAGS --` with
// the secret on descriptor secretFDInCLI of the CLI process and, when
// there is a pseudo-terminal, that terminal as its controlling terminal
// and standard input.
func runEscapeCLI(t *testing.T, bin string, tg *isolationTargets, flags ...string) escapeReport {
	t.Helper()
	args := append([]string{"run"}, flags...)
	args = append(args, "--", buildProgram(t, "escape"))
	args = append(args, tg.args(secretFDInCLI)...)

	ctx, cancel := context.WithTimeout(context.Background(), isolationTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	cmd.ExtraFiles = make([]*os.File, secretFDInCLI-2)
	cmd.ExtraFiles[secretFDInCLI-3] = tg.secretFile
	if ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0); err == nil {
		ptmx.Close()
		_, tty := openPty(t)
		t.Cleanup(func() { tty.Close() })
		cmd.Stdin = tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
	winch := watchSIGWINCH(t)
	require.NoError(t, cmd.Start())
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	require.NoError(t, ctx.Err(), "sandlock-go run did not end within %s\nstdout:\n%s\nstderr:\n%s", isolationTimeout, stdout.String(), stderr.String())
	r := parseEscape(stdout.String(), stderr.String())
	r.winch = winch.arrived()
	if err != nil {
		r.output = fmt.Sprintf("sandlock-go %s: %v\n%s", strings.Join(args, " "), err, r.output)
	}
	require.Equal(t, cmd.Process.Pid, r.sup, "the victim's parent is not the sandlock-go process\n%s", r.output)
	return r
}

// TestIsolationCLI runs the escape victim as root under `sandlock-go run`
// with no flags, and with --allow-path / (the supervisor then performs
// every open on the victim's behalf): every vector must be blocked.
func TestIsolationCLI(t *testing.T) {
	requireRoot(t)
	bin := buildCLI(t)
	tg := newIsolationTargets(t)
	// The modes run one after the other: the SIGWINCH of one must not be
	// counted for the other.
	for _, mode := range []struct {
		name  string
		flags []string
	}{
		{"NoFlags", nil},
		{"AllowPathRoot", []string{"--allow-path", "/"}},
		{"IdentityUserns", []string{"--identity", "userns"}},
		{"IdentityUsernsAllowPathRoot", []string{"--identity", "userns", "--allow-path", "/"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			tg.reset(t)
			r := runEscapeCLI(t, bin, tg, mode.flags...)
			r.check(t, tg, r.sup)
		})
	}
}

// TestIsolationLibrary runs the escape victim through sandbox.Command with
// no Policy: the test process is the supervisor. The secret is a
// descriptor of the test process without close-on-exec, as one inherited
// from a shell would be. Not parallel: no other test may start a process
// while that descriptor is open.
func TestIsolationLibrary(t *testing.T) {
	requireRoot(t)
	tg := newIsolationTargets(t)
	secretFD, err := unix.FcntlInt(tg.secretFile.Fd(), unix.F_DUPFD, 100) // no FD_CLOEXEC
	require.NoError(t, err)
	defer unix.Close(secretFD)

	ctx, cancel := context.WithTimeout(context.Background(), isolationTimeout)
	defer cancel()
	args := append([]string{"-sup", strconv.Itoa(os.Getpid())}, tg.args(secretFD)...)
	cmd := sandbox.CommandContext(ctx, buildProgram(t, "escape"), args...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	winch := watchSIGWINCH(t)
	err = cmd.Run()
	require.NoError(t, ctx.Err(), "the run did not end within %s\nstdout:\n%s\nstderr:\n%s", isolationTimeout, stdout.String(), stderr.String())
	r := parseEscape(stdout.String(), stderr.String())
	r.winch = winch.arrived()
	if err != nil {
		r.output = fmt.Sprintf("run: %v\n%s", err, r.output)
	}
	r.check(t, tg, os.Getpid())
}
