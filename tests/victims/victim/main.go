// Command victim is the program the integration tests in tests/ run under
// the sandbox. Each subcommand makes a few raw syscalls (numbers from
// unix.SYS_*, never typed by hand), prints markers on stdout and exits with
// a code that says what happened:
//
//	0  the subcommand ran to its end (errors it reports are printed)
//	1  a check inside the victim failed (printed as "FAIL ...")
//	2  bad usage
//
// Output lines are "key=value" words so that the tests can parse them
// without caring about order.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// GetpidMagic is the first argument the victim passes to its raw getpid so
// that a handler can tell the victim's own call from the Go runtime's (the
// runtime uses getpid to signal its threads). The tests use the same value.
const GetpidMagic = 0x5a17

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "open":
		cmdOpen(args)
	case "getpid":
		cmdGetpid()
	case "getppid":
		cmdGetppid()
	case "args":
		cmdArgs()
	case "threads":
		cmdThreads(args)
	case "sleep":
		cmdSleep(args)
	case "exit":
		cmdExit(args)
	case "kill":
		cmdKill(args)
	case "tree":
		cmdTree()
	case "middle":
		cmdMiddle(args)
	case "leaf":
		cmdLeaf(args)
	case "background":
		cmdBackground()
	case "buffer":
		cmdBuffer(args)
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: victim open PATH... | getpid | getppid | args | threads N ITERS | sleep DUR | exit CODE | kill SIG | tree | background | buffer trap|hold TEXT")
	os.Exit(2)
}

func fail(format string, a ...any) {
	fmt.Printf("FAIL "+format+"\n", a...)
	os.Exit(1)
}

// errnoName returns "EPERM" for EPERM and "0" for no error.
func errnoName(e unix.Errno) string {
	if e == 0 {
		return "0"
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return strconv.Itoa(int(e))
}

// openat makes a raw openat(AT_FDCWD, path, O_RDONLY|O_CLOEXEC).
func openat(path string) (int, unix.Errno) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return -1, unix.EINVAL
	}
	fdcwd := unix.AT_FDCWD
	r, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(fdcwd), uintptr(unsafe.Pointer(p)),
		uintptr(unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
	runtime.KeepAlive(p)
	if e != 0 {
		return -1, e
	}
	return int(r), 0
}

// cmdOpen opens each path with a raw openat and prints, per path, either
// "open path=P errno=E" or "open path=P fd=N cloexec=B content=C" where C
// is the file's first line.
func cmdOpen(paths []string) {
	for _, path := range paths {
		fd, e := openat(path)
		if e != 0 {
			fmt.Printf("open path=%s errno=%s\n", path, errnoName(e))
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			fail("fcntl F_GETFD on fd %d: %v", fd, err)
		}
		buf := make([]byte, 256)
		n, err := unix.Read(fd, buf)
		if err != nil {
			fmt.Printf("open path=%s fd=%d read-errno=%s\n", path, fd, errnoName(err.(unix.Errno)))
			continue
		}
		content, _, _ := strings.Cut(string(buf[:n]), "\n")
		fmt.Printf("open path=%s fd=%d cloexec=%t content=%s\n", path, fd, flags&unix.FD_CLOEXEC != 0, content)
		unix.Close(fd)
	}
}

func cmdGetpid() {
	r, _, e := unix.RawSyscall(unix.SYS_GETPID, GetpidMagic, 0, 0)
	fmt.Printf("getpid=%d errno=%s real=%d\n", int64(r), errnoName(e), os.Getpid())
}

// cmdGetppid prints a marker, makes one raw getppid and prints another:
// a test that kills the victim at the syscall sees only the first.
func cmdGetppid() {
	fmt.Println("before")
	r, _, e := unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	ret := int64(r)
	if e != 0 {
		ret = -1
	}
	fmt.Printf("after ret=%d errno=%s\n", ret, errnoName(e))
}

// Args are the six arguments of cmdArgs' raw getppid; the tests use the
// same values.
var Args = [6]uintptr{0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666}

// cmdArgs makes one raw getppid with six arguments and prints its result.
func cmdArgs() {
	r, _, e := unix.Syscall6(unix.SYS_GETPPID, Args[0], Args[1], Args[2], Args[3], Args[4], Args[5])
	fmt.Printf("args ret=%d errno=%s\n", int64(r), errnoName(e))
}

// cmdThreads runs N locked OS threads, each making ITERS raw getppid calls
// with the argument tid<<20|i; the test's handler answers arg+1. Every
// answer is checked here.
func cmdThreads(args []string) {
	if len(args) != 2 {
		usage()
	}
	threads, _ := strconv.Atoi(args[0])
	iters, _ := strconv.Atoi(args[1])
	if threads <= 0 || iters <= 0 || iters >= 1<<20 {
		usage()
	}
	var wg sync.WaitGroup
	bad := make([]string, threads)
	tids := make([]int, threads)
	start := make(chan struct{})
	for t := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // one thread per goroutine; never unlocked
			tid := unix.Gettid()
			tids[t] = tid
			<-start
			for i := range iters {
				arg := uintptr(tid)<<20 | uintptr(i)
				r, _, e := unix.Syscall(unix.SYS_GETPPID, arg, 0, 0)
				if e != 0 || r != arg+1 {
					bad[t] = fmt.Sprintf("thread %d call %d: got %d errno %s, want %d", tid, i, r, errnoName(e), arg+1)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	distinct := map[int]bool{}
	for t := range threads {
		if bad[t] != "" {
			fail("%s", bad[t])
		}
		distinct[tids[t]] = true
	}
	if len(distinct) != threads {
		fail("only %d distinct threads", len(distinct))
	}
	fmt.Printf("threads=%d calls=%d ok\n", threads, threads*iters)
}

func cmdSleep(args []string) {
	if len(args) != 1 {
		usage()
	}
	d, err := time.ParseDuration(args[0])
	if err != nil {
		usage()
	}
	fmt.Println("sleeping")
	time.Sleep(d)
	fmt.Println("woke")
}

func cmdExit(args []string) {
	if len(args) != 1 {
		usage()
	}
	code, err := strconv.Atoi(args[0])
	if err != nil {
		usage()
	}
	fmt.Printf("exiting code=%d\n", code)
	os.Exit(code)
}

// cmdKill sends itself a signal with a raw kill(getpid(), SIG).
func cmdKill(args []string) {
	if len(args) != 1 {
		usage()
	}
	sig := unix.SignalNum(args[0])
	if sig == 0 {
		usage()
	}
	fmt.Printf("killing self sig=%s\n", args[0])
	unix.RawSyscall(unix.SYS_KILL, uintptr(unix.Getpid()), uintptr(sig), 0)
	time.Sleep(5 * time.Second)
	fail("still alive after %s", args[0])
}

func self() string {
	if exe, err := os.Executable(); err == nil {
		return exe
	}
	return os.Args[0]
}

// cmdTree is a three-generation run: this process starts "middle" and
// waits for it; middle starts "leaf" and exits at once; leaf waits until it
// has been reparented, then makes the trapped calls of cmdGetpid and
// cmdGetppid and exits. This process reads a pipe that leaf holds, so it
// outlives leaf, and ends with "tree done".
func cmdTree() {
	r, w, err := os.Pipe()
	if err != nil {
		fail("pipe: %v", err)
	}
	mid := exec.Command(self(), "middle")
	mid.Stdout, mid.Stderr = os.Stdout, os.Stderr
	mid.ExtraFiles = []*os.File{w}
	if err := mid.Start(); err != nil {
		fail("start middle: %v", err)
	}
	w.Close()
	if err := mid.Wait(); err != nil {
		fail("middle: %v", err)
	}
	fmt.Printf("tree middle-exited pid=%d\n", mid.Process.Pid)
	// EOF once leaf has exited.
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Printf("tree from-leaf %s\n", sc.Text())
	}
	fmt.Println("tree done")
}

func cmdMiddle(args []string) {
	leaf := exec.Command(self(), "leaf", strconv.Itoa(os.Getpid()))
	leaf.Stdout, leaf.Stderr = os.Stdout, os.Stderr
	leaf.ExtraFiles = []*os.File{os.NewFile(3, "pipe")}
	if err := leaf.Start(); err != nil {
		fail("start leaf: %v", err)
	}
	fmt.Printf("middle pid=%d leaf=%d exiting\n", os.Getpid(), leaf.Process.Pid)
	os.Exit(0)
}

func cmdLeaf(args []string) {
	if len(args) != 1 {
		usage()
	}
	parent, _ := strconv.Atoi(args[0])
	pipe := os.NewFile(3, "pipe")
	deadline := time.Now().Add(10 * time.Second)
	for os.Getppid() == parent {
		if time.Now().After(deadline) {
			fail("leaf: never reparented")
		}
		time.Sleep(time.Millisecond)
	}
	r, _, e := unix.RawSyscall(unix.SYS_GETPID, GetpidMagic, 0, 0)
	fmt.Fprintf(pipe, "leaf-after-parent-exit getpid=%d errno=%s\n", int64(r), errnoName(e))
	fmt.Printf("leaf pid=%d getpid=%d\n", os.Getpid(), int64(r))
}

// cmdBackground starts "sleep 60s" in the background, prints its pid and
// exits 0 at once, leaving the sleeper in the process group holding stdout.
func cmdBackground() {
	bg := exec.Command(self(), "sleep", "60s")
	bg.Stdout, bg.Stderr = os.Stdout, os.Stderr
	if err := bg.Start(); err != nil {
		fail("start background: %v", err)
	}
	fmt.Printf("background pid=%d\n", bg.Process.Pid)
}

// buffer is at a fixed address: the victim is a static, non-PIE binary, so
// two processes of it have buffer at the same address.
var buffer [64]byte

// cmdBuffer writes TEXT into buffer and prints its address. "trap" then
// makes a raw getppid with the address as its first argument; "hold"
// sleeps.
func cmdBuffer(args []string) {
	if len(args) != 2 {
		usage()
	}
	copy(buffer[:len(buffer)-1], args[1])
	addr := uintptr(unsafe.Pointer(&buffer[0]))
	fmt.Printf("buffer addr=%#x\n", addr)
	switch args[0] {
	case "trap":
		unix.Syscall(unix.SYS_GETPPID, addr, 0, 0)
	case "hold":
		time.Sleep(60 * time.Second)
	default:
		usage()
	}
	runtime.KeepAlive(&buffer)
}
