// Command escape is the hostile victim of the isolation suite
// (tests/isolation_test.go): a program that tries to leave its sandbox, to
// reach its supervisor, the host's root identity, host services and the
// kernel's larger attack surface, each with raw syscalls.
//
//	escape [flags] all         try every vector, one line each
//	escape [flags] VECTOR...   try the named vectors
//	escape noop                exit 0 (the program of the namespace vectors)
//
// Each vector prints one line and nothing else:
//
//	NAME=ok DETAIL             the attack succeeded: the sandbox failed
//	NAME=blocked errno=E ...   the attack failed, with the errno that stopped it
//	NAME=skip REASON           the vector cannot be tried here
//	NAME=error DETAIL          the program could not set the attempt up
//
// The run ends with "DONE" and exit status 0 (2 on a usage error).
//
// The supervisor is -sup PID, by default the parent process (the sandbox's
// helper execve()s the command in place, so the command's parent is the
// supervising process); the program prints it as "SUP=PID" first, so that a
// test can check it attacked the right process. Every attempt is harmless when it succeeds: signals are
// signal 0, files are opened and closed or rewritten with their current
// value, a mount is undone at once, remote memory is read or written at
// address 0 only (the permission check comes first, EFAULT follows it), and
// the ptrace attach is detached at once.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// opts are the flags: what the test set up outside the sandbox.
type opts struct {
	secret      string // the content of the secret file the supervisor holds
	secretFD    int    // its descriptor number in the supervisor
	host        int    // a host process outside the run (the test), for signals
	etcFile     string // a root-owned file under /etc
	etcCreate   string // a file name under /etc that does not exist
	homeCreate  string // a new dotfile in root's home
	runCreate   string // a new file in /run
	dotfile     string // an existing file among root's dotfiles
	sysKnob     string // a writable sysfs attribute
	corePattern string // the current /proc/sys/kernel/core_pattern
	unixPath    string // a stream unix socket bound to a path
	unixAbs     string // a stream unix socket, abstract name (no leading @)
	dgramPath   string // a datagram unix socket bound to a path
	dgramAbs    string // a datagram unix socket, abstract name
	keyDesc     string // description of a "user" key in the session keyring
	keyID       int    // its serial
	keyPayload  string // its payload
	mountDir    string // an empty directory to mount a tmpfs on
	sup         int    // the supervisor: the parent process
	self        string // this program, for the namespace vectors
}

// vector is one attempt.
type vector struct {
	name string
	try  func(o *opts) string
}

// vectors lists the attempts in the order of "all". Their names are the
// test names of tests/isolation_test.go: keep them stable.
var vectors = []vector{
	// The supervisor.
	{"SupervisorMemRW", supervisorMemRW},
	{"SupervisorMemViaProcSelfAlias", supervisorMemViaAlias("/proc//self/mem")},
	{"SupervisorMemViaDevFD", supervisorMemViaAlias("/dev/fd/../mem")},
	{"SupervisorProcFD", supervisorProcFD},
	{"SupervisorEnviron", supervisorProcRead("environ")},
	{"SupervisorMaps", supervisorProcRead("maps")},
	{"PtraceAttachSupervisor", ptraceAttach},
	{"ProcessVMReadvSupervisor", processVM(false)},
	{"ProcessVMWritevSupervisor", processVM(true)},
	{"PidfdGetfdSupervisor", pidfdGetfd},
	{"KillSupervisor", killSupervisor},
	{"TgkillSupervisor", tgkillSupervisor},
	{"PidfdSendSignalSupervisor", pidfdSendSignal},
	{"KillHostProcess", killHost},
	{"FSetownSignal", fSetown},
	{"PrlimitSupervisor", prlimitSupervisor},
	{"SetprioritySupervisor", setprioritySupervisor},
	{"SupervisorOOMScoreAdj", supervisorOOMScoreAdj},
	// Identity: capabilities and the files the host runs as root.
	{"CapEff", capSet("CapEff")},
	{"CapPrm", capSet("CapPrm")},
	{"CapInh", capSet("CapInh")},
	{"CapAmb", capSet("CapAmb")},
	{"CapBnd", capSet("CapBnd")},
	{"CorePatternRewrite", corePattern},
	{"ModprobePathOpenWrite", openWrite("/proc/sys/kernel/modprobe")},
	{"SysKnobOpenWrite", func(o *opts) string { return openWrite(o.sysKnob)(o) }},
	{"SysrqTriggerOpenWrite", openWrite("/proc/sysrq-trigger")},
	{"EtcFileWrite", etcWrite},
	{"EtcFileCreate", etcCreate},
	{"EtcFileChmod", etcChmod},
	{"RootDotfileOpenWrite", func(o *opts) string { return openWrite(o.dotfile)(o) }},
	{"RootHomeCreate", func(o *opts) string { return create(o.homeCreate) }},
	{"RunCreate", func(o *opts) string { return create(o.runCreate) }},
	// Descriptors.
	{"InheritedFDs", inheritedFDs},
	{"InheritedSecretFD", inheritedSecret},
	// Host services.
	{"UnixConnectPath", unixConnect(false)},
	{"UnixConnectAbstract", unixConnect(true)},
	{"UnixSendtoPath", unixSendto(false)},
	{"UnixSendtoAbstract", unixSendto(true)},
	// Kernel attack surface.
	{"UnshareUserNS", spawn(&syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWUSER})},
	{"UnshareMountNS", spawn(&syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWNS})},
	{"CloneNewUserNS", spawn(&syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER})},
	// CLONE_NEWTIME makes Go use clone3.
	{"Clone3NewUserNS", spawn(&syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWTIME})},
	{"SetnsUTS", setnsUTS},
	{"MountTmpfs", mountTmpfs},
	{"KeyctlReadSessionKeyring", keyctlSession},
	{"KeyctlReadKeyByID", keyctlByID},
	{"KeyctlReadUserKeyring", keyctlUser},
	{"RequestKeySearch", requestKey},
	{"AddKeyUserKeyring", addKeyUser},
	{"BpfMapCreate", bpfMapCreate},
	{"PerfEventOpen", perfEventOpen},
	{"Userfaultfd", userfaultfd},
	{"IoUringSetup", ioUringSetup},
	{"FinitModule", finitModule},
	{"KexecLoad", kexecLoad},
	{"TIOCSTI", tiocsti(unix.TIOCSTI)},
	{"TIOCSTIHighBits", tiocsti(1<<32 | unix.TIOCSTI)},
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "noop" {
		os.Exit(0)
	}
	o := &opts{}
	fs := flag.NewFlagSet("escape", flag.ContinueOnError)
	fs.StringVar(&o.secret, "secret", "", "content of the supervisor's secret file")
	fs.IntVar(&o.secretFD, "secret-fd", -1, "the secret's descriptor in the supervisor")
	fs.IntVar(&o.host, "host", 0, "a host process outside the run")
	fs.StringVar(&o.etcFile, "etc-file", "", "a root-owned file under /etc")
	fs.StringVar(&o.etcCreate, "etc-create", "", "a path under /etc to create")
	fs.StringVar(&o.dotfile, "dotfile", "", "one of root's dotfiles")
	fs.StringVar(&o.homeCreate, "home-create", "", "a new dotfile in root's home")
	fs.StringVar(&o.runCreate, "run-create", "", "a new file in /run")
	fs.StringVar(&o.sysKnob, "sys-knob", "", "a writable sysfs attribute")
	fs.StringVar(&o.corePattern, "core-pattern", "", "the current core_pattern")
	fs.StringVar(&o.unixPath, "unix-path", "", "stream unix socket path")
	fs.StringVar(&o.unixAbs, "unix-abstract", "", "stream unix socket abstract name")
	fs.StringVar(&o.dgramPath, "dgram-path", "", "datagram unix socket path")
	fs.StringVar(&o.dgramAbs, "dgram-abstract", "", "datagram unix socket abstract name")
	fs.StringVar(&o.keyDesc, "key-desc", "", "description of a user key")
	fs.IntVar(&o.keyID, "key-id", 0, "serial of that key")
	fs.StringVar(&o.keyPayload, "key-payload", "", "payload of that key")
	fs.StringVar(&o.mountDir, "mount-dir", "", "an empty directory to mount on")
	fs.IntVar(&o.sup, "sup", 0, "the supervisor's pid (default: the parent process)")
	if err := fs.Parse(os.Args[1:]); err != nil || fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: escape [flags] all|VECTOR...|noop")
		os.Exit(2)
	}
	if o.sup == 0 {
		o.sup = os.Getppid()
	}
	self, err := os.Executable()
	if err != nil {
		self = "/proc/self/exe"
	}
	o.self = self

	byName := map[string]vector{}
	for _, v := range vectors {
		byName[v.name] = v
	}
	todo := vectors
	if fs.Arg(0) != "all" {
		todo = nil
		for _, name := range fs.Args() {
			v, ok := byName[name]
			if !ok {
				fmt.Fprintf(os.Stderr, "escape: no vector %q\n", name)
				os.Exit(2)
			}
			todo = append(todo, v)
		}
	}
	fmt.Printf("SUP=%d\n", o.sup)
	for _, v := range todo {
		fmt.Printf("%s=%s\n", v.name, oneLine(v.try(o)))
	}
	fmt.Println("DONE")
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", `\n`) }

// The outcomes of an attempt.

func ok(format string, a ...any) string { return "ok " + fmt.Sprintf(format, a...) }

func blocked(err error, format string, a ...any) string {
	return fmt.Sprintf("blocked errno=%s %s", errnoName(err), fmt.Sprintf(format, a...))
}

func skip(format string, a ...any) string { return "skip " + fmt.Sprintf(format, a...) }

func failed(format string, a ...any) string { return "error " + fmt.Sprintf(format, a...) }

// errnoName is the symbolic name of the errno in err (e.g. EPERM).
func errnoName(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		if name := unix.ErrnoName(e); name != "" {
			return name
		}
		return strconv.Itoa(int(e))
	}
	if err == nil {
		return "none"
	}
	return strconv.Quote(err.Error())
}

func proc(pid int, file string) string { return "/proc/" + strconv.Itoa(pid) + "/" + file }

// The supervisor.

func supervisorMemRW(o *opts) string {
	p := proc(o.sup, "mem")
	fd, err := unix.Open(p, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return blocked(err, "open %s O_RDWR", p)
	}
	defer unix.Close(fd)
	return ok("opened %s O_RDWR (fd %d)", p, fd)
}

// supervisorMemViaAlias opens a path that names /proc/self/mem without
// spelling "/proc/self/": when the supervisor performs the open on the
// process's behalf, "self" is the supervisor.
func supervisorMemViaAlias(path string) func(o *opts) string {
	return func(o *opts) string {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return blocked(err, "open %s O_RDWR", path)
		}
		defer unix.Close(fd)
		target, err := os.Readlink(proc(os.Getpid(), "fd/"+strconv.Itoa(fd)))
		if err != nil {
			return failed("readlink of fd %d: %v", fd, err)
		}
		if target == proc(os.Getpid(), "mem") {
			return fmt.Sprintf("blocked errno=none %s is this process's own memory", path)
		}
		return ok("open %s O_RDWR gave %s (supervisor %d)", path, target, o.sup)
	}
}

func supervisorProcFD(o *opts) string {
	if o.secretFD < 0 {
		return skip("no -secret-fd")
	}
	p := proc(o.sup, "fd/"+strconv.Itoa(o.secretFD))
	data, err := os.ReadFile(p)
	if err != nil {
		return blocked(err, "read %s", p)
	}
	if o.secret != "" && strings.Contains(string(data), o.secret) {
		return ok("read the secret through %s", p)
	}
	return ok("read %d bytes through %s", len(data), p)
}

// supervisorProcRead reads a /proc/PID file of the supervisor that the
// kernel guards with a PTRACE_MODE_READ check (environ: the host's
// environment and its tokens; maps: the supervisor's layout, which defeats
// ASLR for an attack on its memory).
func supervisorProcRead(file string) func(o *opts) string {
	return func(o *opts) string {
		p := proc(o.sup, file)
		data, err := os.ReadFile(p)
		if err != nil {
			return blocked(err, "read %s", p)
		}
		return ok("read %d bytes of %s", len(data), p)
	}
}

func ptraceAttach(o *opts) string {
	// The tracer is a thread: attach, wait and detach from the same one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.PtraceAttach(o.sup); err != nil {
		return blocked(err, "PTRACE_ATTACH %d", o.sup)
	}
	// Take the attach stop, so that the detach resumes the supervisor
	// without its SIGSTOP.
	var ws unix.WaitStatus
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		pid, err := unix.Wait4(o.sup, &ws, unix.WALL|unix.WNOHANG, nil)
		if err != nil || pid == o.sup {
			break
		}
		time.Sleep(time.Millisecond)
	}
	derr := unix.PtraceDetach(o.sup)
	return ok("PTRACE_ATTACH %d succeeded (detach: %v)", o.sup, derr)
}

// processVM reads or writes the supervisor's memory at address 0: the
// kernel checks ptrace access first (EPERM), then fails the copy (EFAULT).
func processVM(write bool) func(o *opts) string {
	return func(o *opts) string {
		buf := make([]byte, 8)
		local := []unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}}
		remote := []unix.RemoteIovec{{Base: 0, Len: len(buf)}}
		var err error
		name := "process_vm_readv"
		if write {
			name = "process_vm_writev"
			_, err = unix.ProcessVMWritev(o.sup, local, remote, 0)
		} else {
			_, err = unix.ProcessVMReadv(o.sup, local, remote, 0)
		}
		if err == nil || errors.Is(err, unix.EFAULT) {
			return ok("%s %d passed the access check (%s at address 0)", name, o.sup, errnoName(err))
		}
		return blocked(err, "%s %d", name, o.sup)
	}
}

func pidfdGetfd(o *opts) string {
	if o.secretFD < 0 {
		return skip("no -secret-fd")
	}
	pidfd, err := unix.PidfdOpen(o.sup, 0)
	if err != nil {
		return blocked(err, "pidfd_open %d", o.sup)
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, o.secretFD, 0)
	if err != nil {
		return blocked(err, "pidfd_getfd %d fd %d", o.sup, o.secretFD)
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	n, _ := unix.Pread(fd, buf, 0)
	if o.secret != "" && bytes.Contains(buf[:max(n, 0)], []byte(o.secret)) {
		return ok("took fd %d of the supervisor and read the secret", o.secretFD)
	}
	return ok("took fd %d of the supervisor", o.secretFD)
}

func killSupervisor(o *opts) string {
	if err := unix.Kill(o.sup, 0); err != nil {
		return blocked(err, "kill(%d, 0)", o.sup)
	}
	return ok("kill(%d, 0) succeeded", o.sup)
}

func tgkillSupervisor(o *opts) string {
	if err := unix.Tgkill(o.sup, o.sup, 0); err != nil {
		return blocked(err, "tgkill(%d, %d, 0)", o.sup, o.sup)
	}
	return ok("tgkill(%d, %d, 0) succeeded", o.sup, o.sup)
}

func pidfdSendSignal(o *opts) string {
	pidfd, err := unix.PidfdOpen(o.sup, 0)
	if err != nil {
		return blocked(err, "pidfd_open %d", o.sup)
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, 0, nil, 0); err != nil {
		return blocked(err, "pidfd_send_signal(%d, 0)", o.sup)
	}
	return ok("pidfd_send_signal(%d, 0) succeeded", o.sup)
}

func killHost(o *opts) string {
	if o.host <= 0 {
		return skip("no -host")
	}
	if err := unix.Kill(o.host, 0); err != nil {
		return blocked(err, "kill(%d, 0)", o.host)
	}
	return ok("kill(%d, 0) succeeded", o.host)
}

// fSetown asks the kernel to signal the host process (SIGWINCH, which Go
// programs ignore unless they ask for it) when a pipe becomes readable.
// fcntl succeeds either way: the kernel checks the permission when it
// sends, and drops the signal silently. So "sent" is not the verdict: the
// host process reports whether SIGWINCH arrived.
func fSetown(o *opts) string {
	if o.host <= 0 {
		return skip("no -host")
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return failed("pipe: %v", err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETOWN, o.host); err != nil {
		return blocked(err, "F_SETOWN %d", o.host)
	}
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETSIG, int(unix.SIGWINCH)); err != nil {
		return blocked(err, "F_SETSIG")
	}
	fl, err := unix.FcntlInt(uintptr(p[0]), unix.F_GETFL, 0)
	if err != nil {
		return failed("F_GETFL: %v", err)
	}
	if _, err := unix.FcntlInt(uintptr(p[0]), unix.F_SETFL, fl|unix.O_ASYNC); err != nil {
		return blocked(err, "F_SETFL O_ASYNC")
	}
	if _, err := unix.Write(p[1], []byte{'x'}); err != nil {
		return failed("write: %v", err)
	}
	return fmt.Sprintf("sent SIGWINCH to %d through F_SETOWN (the host process tells whether it arrived)", o.host)
}

// prlimitSupervisor sets the supervisor's RLIMIT_NOFILE to its current
// value: the permission check is the one that would let a lower RLIMIT_CPU
// or RLIMIT_NOFILE through.
func prlimitSupervisor(o *opts) string {
	var cur unix.Rlimit
	if err := unix.Prlimit(o.sup, unix.RLIMIT_NOFILE, nil, &cur); err != nil {
		return blocked(err, "prlimit(%d) get", o.sup)
	}
	if err := unix.Prlimit(o.sup, unix.RLIMIT_NOFILE, &cur, nil); err != nil {
		return blocked(err, "prlimit(%d) set", o.sup)
	}
	return ok("set the supervisor's RLIMIT_NOFILE (to its current %d/%d)", cur.Cur, cur.Max)
}

// setprioritySupervisor sets the supervisor's nice value to its current
// value: the permission check is the one that would let nice 19 through.
func setprioritySupervisor(o *opts) string {
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, o.sup)
	if err != nil {
		return blocked(err, "getpriority(%d)", o.sup)
	}
	nice := 20 - raw // the raw syscall returns 20 - nice
	if err := unix.Setpriority(unix.PRIO_PROCESS, o.sup, nice); err != nil {
		return blocked(err, "setpriority(%d, %d)", o.sup, nice)
	}
	return ok("set the supervisor's nice value (to its current %d)", nice)
}

func supervisorOOMScoreAdj(o *opts) string {
	return openWrite(proc(o.sup, "oom_score_adj"))(o)
}

// Identity.

// capSet reports a nonzero capability set of this process.
func capSet(field string) func(o *opts) string {
	return func(o *opts) string {
		data, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return failed("read /proc/self/status: %v", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			v, found := strings.CutPrefix(line, field+":")
			if !found {
				continue
			}
			v = strings.TrimSpace(v)
			n, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				return failed("%s: %q", field, v)
			}
			if n != 0 {
				return ok("%s: %s", field, v)
			}
			return "blocked errno=none " + field + ": " + v
		}
		return failed("no %s in /proc/self/status", field)
	}
}

// openWrite opens path write-only and closes it without writing.
func openWrite(path string) func(o *opts) string {
	return func(o *opts) string {
		if path == "" {
			return skip("no such file here")
		}
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			return skip("%s does not exist", path)
		}
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err != nil {
			return blocked(err, "open %s O_WRONLY", path)
		}
		unix.Close(fd)
		return ok("opened %s O_WRONLY", path)
	}
}

// corePattern writes core_pattern's current value back.
func corePattern(o *opts) string {
	const p = "/proc/sys/kernel/core_pattern"
	if o.corePattern == "" {
		return skip("no -core-pattern")
	}
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return blocked(err, "open %s O_WRONLY", p)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte(o.corePattern)); err != nil {
		return ok("opened %s O_WRONLY (the write of its current value failed: %s)", p, errnoName(err))
	}
	return ok("rewrote %s with its current value", p)
}

func etcWrite(o *opts) string {
	if o.etcFile == "" {
		return skip("no -etc-file")
	}
	fd, err := unix.Open(o.etcFile, unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
	if err != nil {
		return blocked(err, "open %s O_WRONLY", o.etcFile)
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte("written from the sandbox\n"))
	return ok("opened %s O_WRONLY (write: %s)", o.etcFile, errnoName(err))
}

func etcCreate(o *opts) string { return create(o.etcCreate) }

// etcChmod sets the mode of the root-owned file under /etc to its current
// mode: the owner needs no capability to chmod, and Landlock has no right
// for it, so the same call could make /etc/shadow world-readable or a root
// program set-user-ID.
func etcChmod(o *opts) string {
	if o.etcFile == "" {
		return skip("no -etc-file")
	}
	var st unix.Stat_t
	if err := unix.Stat(o.etcFile, &st); err != nil {
		return failed("stat %s: %v", o.etcFile, err)
	}
	mode := st.Mode & 0o7777
	if err := unix.Chmod(o.etcFile, mode); err != nil {
		return blocked(err, "chmod %s %#o", o.etcFile, mode)
	}
	return ok("chmod %s %#o (its current mode) succeeded", o.etcFile, mode)
}

// create creates path, which must not exist.
func create(path string) string {
	if path == "" {
		return skip("no path to create given")
	}
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return blocked(err, "create %s", path)
	}
	unix.Close(fd)
	return ok("created %s", path)
}

// Descriptors.

// inheritedFDList lists the descriptors above 2 that came through execve:
// those without FD_CLOEXEC (a descriptor with it would have been closed by
// execve). It opens no descriptor. The Go runtime opens descriptors of its
// own before main (the cgroup CPU limit files, since Go 1.25), all with
// FD_CLOEXEC.
func inheritedFDList() []int {
	var fds []int
	for fd := 3; fd < 4096; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
		}
	}
	return fds
}

// startFDs are the inherited descriptors, listed before this program
// opened any.
var startFDs = inheritedFDList()

func fdList(fds []int) string {
	var s []string
	for _, fd := range fds {
		target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		s = append(s, strconv.Itoa(fd)+"->"+target)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func inheritedFDs(o *opts) string {
	if len(startFDs) == 0 {
		return "blocked errno=none no descriptor above 2 was inherited"
	}
	return ok("inherited descriptors above 2: %s", fdList(startFDs))
}

func inheritedSecret(o *opts) string {
	if o.secret == "" {
		return skip("no -secret")
	}
	buf := make([]byte, 4096)
	for _, fd := range startFDs {
		n, err := unix.Pread(fd, buf, 0)
		if err != nil {
			n, _ = unix.Read(fd, buf)
		}
		if n > 0 && bytes.Contains(buf[:n], []byte(o.secret)) {
			return ok("read the secret from inherited fd %d", fd)
		}
	}
	return fmt.Sprintf("blocked errno=none no inherited descriptor holds the secret (open: %s)", fdList(startFDs))
}

// Host services.

func unixAddr(path string, abstract bool) *unix.SockaddrUnix {
	if abstract {
		return &unix.SockaddrUnix{Name: "@" + path}
	}
	return &unix.SockaddrUnix{Name: path}
}

func unixConnect(abstract bool) func(o *opts) string {
	return func(o *opts) string {
		name := o.unixPath
		if abstract {
			name = o.unixAbs
		}
		if name == "" {
			return skip("no socket given")
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return failed("socket: %v", err)
		}
		defer unix.Close(fd)
		if err := unix.Connect(fd, unixAddr(name, abstract)); err != nil {
			return blocked(err, "connect %q", name)
		}
		_, err = unix.Write(fd, []byte("hello from the sandbox\n"))
		return ok("connected to %q (write: %s)", name, errnoName(err))
	}
}

func unixSendto(abstract bool) func(o *opts) string {
	return func(o *opts) string {
		name := o.dgramPath
		if abstract {
			name = o.dgramAbs
		}
		if name == "" {
			return skip("no socket given")
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return failed("socket: %v", err)
		}
		defer unix.Close(fd)
		if err := unix.Sendto(fd, []byte("hello from the sandbox"), 0, unixAddr(name, abstract)); err != nil {
			return blocked(err, "sendto %q", name)
		}
		return ok("sent a datagram to %q", name)
	}
}

// Kernel attack surface.

// spawn starts this program (noop) with the namespace flags of attr: Go's
// fork performs the clone, clone3 or unshare in the single-threaded child,
// where the kernel allows a new user namespace.
func spawn(attr *syscall.SysProcAttr) func(o *opts) string {
	return func(o *opts) string {
		cmd := exec.Command(o.self, "noop")
		cmd.SysProcAttr = attr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return failed("the child with clone flags %#x / unshare flags %#x failed: %v", attr.Cloneflags, attr.Unshareflags, err)
			}
			return blocked(err, "clone flags %#x, unshare flags %#x", attr.Cloneflags, attr.Unshareflags)
		}
		return ok("a child ran with clone flags %#x, unshare flags %#x", attr.Cloneflags, attr.Unshareflags)
	}
}

// setnsUTS joins this process's own UTS namespace again, through a pidfd
// of itself (no /proc magic link to open): harmless, and the same check as
// joining another.
func setnsUTS(o *opts) string {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return failed("pidfd_open(self): %v", err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWUTS); err != nil {
		return blocked(err, "setns(pidfd of self, CLONE_NEWUTS)")
	}
	return ok("setns(pidfd of self, CLONE_NEWUTS) succeeded")
}

func mountTmpfs(o *opts) string {
	if o.mountDir == "" {
		return skip("no -mount-dir")
	}
	if err := unix.Mount("sandlock-go-escape", o.mountDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k"); err != nil {
		return blocked(err, "mount tmpfs on %s", o.mountDir)
	}
	err := unix.Unmount(o.mountDir, unix.MNT_DETACH)
	return ok("mounted a tmpfs on %s (unmount: %s)", o.mountDir, errnoName(err))
}

func keyctlSession(o *opts) string {
	if o.keyDesc == "" {
		return skip("no -key-desc")
	}
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_SESSION_KEYRING, "user", o.keyDesc, 0)
	if err != nil {
		return blocked(err, "KEYCTL_SEARCH session keyring for user:%s", o.keyDesc)
	}
	return readKey(o, id)
}

// keyctlUser looks for the key in root's user keyring by name: what a
// fresh session keyring alone does not hide, since the user keyring is
// reachable from any process of its uid (reading a key found there needs
// possession, i.e. the user keyring linked from the session keyring).
func keyctlUser(o *opts) string {
	if o.keyDesc == "" {
		return skip("no -key-desc")
	}
	id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "user", o.keyDesc, 0)
	if err != nil {
		return blocked(err, "KEYCTL_SEARCH user keyring for user:%s", o.keyDesc)
	}
	return readKey(o, id)
}

// requestKey looks the key up with request_key(2), without a callout (a
// callout would run /sbin/request-key as root on the host).
func requestKey(o *opts) string {
	if o.keyDesc == "" {
		return skip("no -key-desc")
	}
	id, err := unix.RequestKey("user", o.keyDesc, "", 0)
	if err != nil {
		return blocked(err, "request_key user:%s", o.keyDesc)
	}
	return ok("request_key found key %d", id)
}

// addKeyUser plants a key in root's user keyring, which every root
// process of the host shares, and removes it at once.
func addKeyUser(o *opts) string {
	if o.keyDesc == "" {
		return skip("no -key-desc")
	}
	desc := o.keyDesc + "-planted"
	id, err := unix.AddKey("user", desc, []byte("planted from the sandbox"), unix.KEY_SPEC_USER_KEYRING)
	if err != nil {
		return blocked(err, "add_key user:%s to the user keyring", desc)
	}
	_, uerr := unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0)
	return ok("planted key %d in root's user keyring (unlink: %s)", id, errnoName(uerr))
}

func keyctlByID(o *opts) string {
	if o.keyID == 0 {
		return skip("no -key-id")
	}
	return readKey(o, o.keyID)
}

func readKey(o *opts, id int) string {
	buf := make([]byte, 256)
	n, err := unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
	if err != nil {
		return blocked(err, "KEYCTL_READ key %d", id)
	}
	if n <= len(buf) && string(buf[:n]) == o.keyPayload {
		return ok("read the payload of key %d", id)
	}
	return ok("read %d bytes of key %d", n, id)
}

func fdResult(name string, r uintptr, e syscall.Errno) string {
	if e != 0 {
		return blocked(e, "%s", name)
	}
	unix.Close(int(r))
	return ok("%s returned fd %d", name, r)
}

func bpfMapCreate(o *opts) string {
	// union bpf_attr for BPF_MAP_CREATE: map_type, key_size, value_size,
	// max_entries, then zeros.
	var attr [64]byte
	*(*uint32)(unsafe.Pointer(&attr[0])) = 2 // BPF_MAP_TYPE_ARRAY
	*(*uint32)(unsafe.Pointer(&attr[4])) = 4
	*(*uint32)(unsafe.Pointer(&attr[8])) = 4
	*(*uint32)(unsafe.Pointer(&attr[12])) = 1
	r, _, e := unix.Syscall(unix.SYS_BPF, 0 /* BPF_MAP_CREATE */, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr))
	runtime.KeepAlive(&attr)
	return fdResult("bpf(BPF_MAP_CREATE)", r, e)
}

func perfEventOpen(o *opts) string {
	attr := unix.PerfEventAttr{
		Type:   unix.PERF_TYPE_SOFTWARE,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Config: unix.PERF_COUNT_SW_TASK_CLOCK,
		Bits:   unix.PerfBitDisabled | unix.PerfBitExcludeKernel | unix.PerfBitExcludeHv,
	}
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return blocked(err, "perf_event_open")
	}
	unix.Close(fd)
	return ok("perf_event_open returned fd %d", fd)
}

func userfaultfd(o *opts) string {
	r, _, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC, 0, 0)
	return fdResult("userfaultfd", r, e)
}

func ioUringSetup(o *opts) string {
	var params [120]byte // struct io_uring_params, zeroed
	r, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	runtime.KeepAlive(&params)
	return fdResult("io_uring_setup", r, e)
}

// finitModule loads no module: fd -1 fails with EBADF after the
// capability check, which fails with EPERM.
func finitModule(o *opts) string {
	empty := []byte{0}
	_, _, e := unix.Syscall(unix.SYS_FINIT_MODULE, ^uintptr(0), uintptr(unsafe.Pointer(&empty[0])), 0)
	runtime.KeepAlive(empty)
	if e == unix.EBADF {
		return ok("finit_module passed the permission checks (EBADF on fd -1)")
	}
	if e == unix.ENOSYS {
		return skip("finit_module: ENOSYS (a kernel without modules, or a filter that answers ENOSYS)")
	}
	return blocked(e, "finit_module")
}

// kexecLoad loads nothing: an unknown architecture fails with EINVAL after
// the permission checks, which fail with EPERM.
func kexecLoad(o *opts) string {
	const unknownArch = 0x00ff << 16
	_, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, unknownArch, 0, 0)
	if e == unix.EINVAL {
		return ok("kexec_load passed the permission checks (EINVAL on an unknown architecture)")
	}
	if e == unix.ENOSYS {
		return skip("kexec_load: ENOSYS (a kernel without kexec, or a filter that answers ENOSYS)")
	}
	return blocked(e, "kexec_load")
}

// tiocsti pushes a '#' into the input of the terminal on stdin, with the
// ioctl request req (TIOCSTI, or TIOCSTI with high bits the kernel drops).
func tiocsti(req uint64) func(o *opts) string {
	return func(o *opts) string {
		if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err != nil {
			return skip("stdin is not a terminal")
		}
		c := byte('#')
		_, _, e := unix.Syscall(unix.SYS_IOCTL, 0, uintptr(req), uintptr(unsafe.Pointer(&c)))
		if e != 0 {
			return blocked(e, "ioctl(0, %#x)", req)
		}
		return ok("ioctl(0, %#x) pushed a byte into the terminal's input", req)
	}
}
