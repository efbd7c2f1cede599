// Command hostile is the victim of the reliability suite
// (tests/reliability_*_test.go): a program that stresses the supervisor
// rather than one that asks it questions. Each subcommand makes raw
// syscalls (numbers from unix.SYS_*), prints "key=value" words on stdout and
// exits 0 (ran to the end), 1 (a check inside failed, printed as
// "FAIL ...") or 2 (usage).
//
// The trapped syscall is getppid with a magic first argument, so that the
// tests' handlers leave every other call alone:
//
//	getppid(MagicValue, x)   the handler answers x*7+3 (ValueOf)
//	getppid(MagicPending, i) the handler blocks until the test kills us
//	getppid(MagicStuck, 0)   the handler blocks forever
//	getppid(MagicCount, i)   the handler panics (the exception policy answers)
//	getppid(MagicArgs, id, addr, n) the handler reads hostile arguments
//
// and openat of InjectPath, which the handler answers with an injected fd.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The magic first arguments of getppid; tests/reliability_test.go has the
// same values.
const (
	MagicValue   = 0x5a1701
	MagicPending = 0x5a1702
	MagicStuck   = 0x5a1703
	MagicCount   = 0x5a1704
	MagicArgs    = 0x5a1705
	MagicPathArg = 0x5a1706 // the mode argument of openat in "args"
)

// InjectPath is the path whose openat the handler answers with an injected
// eventfd.
const InjectPath = "/sandlock-go-reliability/inject"

// ValueOf is what the handler answers getppid(MagicValue, x) with.
func ValueOf(x uintptr) uintptr { return x*7 + 3 }

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "pending":
		cmdPending(args)
	case "forkmany":
		cmdForkMany(args)
	case "forkchild":
		cmdForkChild(args)
	case "execchain":
		cmdExecChain(args)
	case "orphan":
		cmdOrphan(args)
	case "orphan-middle":
		cmdOrphanMiddle(args)
	case "orphan-leaf":
		cmdOrphanLeaf(args)
	case "flowstuck":
		cmdFlowStuck(args)
	case "count":
		cmdCount(args)
	case "values":
		cmdValues(args)
	case "args":
		cmdArgs()
	case "inject":
		cmdInject(args)
	case "spin":
		cmdSpin(args)
	case "spin-child":
		cmdSpinChild(args)
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: hostile pending N | forkmany N | execchain N | orphan CALLS |
       flowstuck FLOWTHREADS | count THREADS CALLS | values THREADS CALLS | args |
       inject THREADS ITERS | spin EXPECT THREADS [FILE]`)
	os.Exit(2)
}

func fail(format string, a ...any) {
	fmt.Printf("FAIL "+format+"\n", a...)
	os.Exit(1)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		usage()
	}
	return n
}

func errnoName(e unix.Errno) string {
	if e == 0 {
		return "0"
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return strconv.Itoa(int(e))
}

// getppid makes a raw getppid with two arguments. Syscall, not RawSyscall:
// a blocked call lets the runtime run other goroutines.
func getppid(magic, x uintptr) (uintptr, unix.Errno) {
	r, _, e := unix.Syscall(unix.SYS_GETPPID, magic, x, 0)
	return r, e
}

// value makes getppid(MagicValue, x) and checks the answer.
func value(x uintptr) error {
	r, e := getppid(MagicValue, x)
	if e != 0 || r != ValueOf(x) {
		return fmt.Errorf("getppid(value, %#x) = %#x errno %s, want %#x", x, r, errnoName(e), ValueOf(x))
	}
	return nil
}

func self() string {
	if exe, err := os.Executable(); err == nil {
		return exe
	}
	return os.Args[0]
}

// countFDs counts the open descriptors of this process.
func countFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		fail("read /proc/self/fd: %v", err)
	}
	return len(entries) - 1 // the directory's own descriptor
}

// cmdPending starts N locked threads, each blocked in getppid(MagicPending,
// i) until the test kills the process.
func cmdPending(args []string) {
	if len(args) != 1 {
		usage()
	}
	n := atoi(args[0])
	for i := range n {
		go func() {
			runtime.LockOSThread()
			r, e := getppid(MagicPending, uintptr(i))
			fail("pending call %d returned %d errno %s", i, r, errnoName(e))
		}()
	}
	fmt.Printf("pending pid=%d threads=%d\n", os.Getpid(), n)
	time.Sleep(time.Hour)
}

// cmdForkMany starts N copies of itself ("forkchild IDX"), which wait on a
// pipe until all are started and then make their trapped call at once.
func cmdForkMany(args []string) {
	if len(args) != 1 {
		usage()
	}
	n := atoi(args[0])
	r, w, err := os.Pipe()
	if err != nil {
		fail("pipe: %v", err)
	}
	children := make([]*exec.Cmd, 0, n)
	for i := range n {
		c := exec.Command(self(), "forkchild", strconv.Itoa(i))
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		c.ExtraFiles = []*os.File{r}
		// Small children: 200 Go runtimes at once.
		c.Env = append(os.Environ(), "GOMAXPROCS=1", "GOGC=off")
		if err := c.Start(); err != nil {
			fail("start child %d: %v", i, err)
		}
		children = append(children, c)
	}
	r.Close()
	w.Close() // go
	ok, bad := 0, 0
	for _, c := range children {
		if err := c.Wait(); err != nil {
			bad++
			continue
		}
		ok++
	}
	fmt.Printf("forkmany n=%d ok=%d failed=%d\n", n, ok, bad)
}

func cmdForkChild(args []string) {
	if len(args) != 1 {
		usage()
	}
	idx := atoi(args[0])
	var b [1]byte
	for {
		// EOF once the parent has started every child.
		n, err := unix.Read(3, b[:])
		if err == unix.EINTR {
			continue
		}
		if n == 0 || err != nil {
			break
		}
	}
	if err := value(uintptr(1000 + idx)); err != nil {
		fail("child %d: %v", idx, err)
	}
}

// cmdExecChain makes a trapped call, then executes itself with N-1, down
// to 0: N execs of the same process.
func cmdExecChain(args []string) {
	if len(args) != 1 {
		usage()
	}
	n := atoi(args[0])
	if err := value(uintptr(5000 + n)); err != nil {
		fail("execchain %d: %v", n, err)
	}
	fmt.Printf("execchain n=%d pid=%d\n", n, os.Getpid())
	if n == 0 {
		fmt.Println("execchain done")
		return
	}
	err := unix.Exec(self(), []string{os.Args[0], "execchain", strconv.Itoa(n - 1)}, os.Environ())
	fail("exec: %v", err)
}

// cmdOrphan: this process starts "orphan-middle" and waits for it; middle
// starts "orphan-leaf" and exits; leaf waits until it has been reparented,
// then makes CALLS trapped calls and reports through a pipe that this
// process reads to EOF.
func cmdOrphan(args []string) {
	if len(args) != 1 {
		usage()
	}
	r, w, err := os.Pipe()
	if err != nil {
		fail("pipe: %v", err)
	}
	mid := exec.Command(self(), "orphan-middle", args[0])
	mid.Stdout, mid.Stderr = os.Stdout, os.Stderr
	mid.ExtraFiles = []*os.File{w}
	if err := mid.Start(); err != nil {
		fail("start middle: %v", err)
	}
	w.Close()
	if err := mid.Wait(); err != nil {
		fail("middle: %v", err)
	}
	fmt.Printf("orphan middle-exited pid=%d\n", mid.Process.Pid)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Printf("orphan from-leaf %s\n", sc.Text())
	}
	fmt.Println("orphan done")
}

func cmdOrphanMiddle(args []string) {
	leaf := exec.Command(self(), "orphan-leaf", strconv.Itoa(os.Getpid()), args[0])
	leaf.Stdout, leaf.Stderr = os.Stdout, os.Stderr
	leaf.ExtraFiles = []*os.File{os.NewFile(3, "pipe")}
	if err := leaf.Start(); err != nil {
		fail("start leaf: %v", err)
	}
	fmt.Printf("orphan middle pid=%d leaf=%d\n", os.Getpid(), leaf.Process.Pid)
	os.Exit(0)
}

func cmdOrphanLeaf(args []string) {
	if len(args) != 2 {
		usage()
	}
	parent, calls := atoi(args[0]), atoi(args[1])
	// The handler counts calls by task: all of them from the main thread
	// (tid == pid), not from whatever thread the goroutine moved to.
	runtime.LockOSThread()
	pipe := os.NewFile(3, "pipe")
	deadline := time.Now().Add(10 * time.Second)
	for os.Getppid() == parent {
		if time.Now().After(deadline) {
			fail("leaf: never reparented")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range calls {
		if err := value(uintptr(9000 + i)); err != nil {
			fmt.Fprintf(pipe, "FAIL leaf %v\n", err)
			os.Exit(1)
		}
	}
	fmt.Fprintf(pipe, "leaf pid=%d calls=%d ok\n", os.Getpid(), calls)
}

// cmdFlowStuck: one thread makes getppid(MagicStuck), whose handler never
// returns; FLOW other threads make value calls until the process is
// killed.
func cmdFlowStuck(args []string) {
	if len(args) != 1 {
		usage()
	}
	flow := atoi(args[0])
	go func() {
		runtime.LockOSThread()
		r, e := getppid(MagicStuck, 0)
		fmt.Printf("stuck returned ret=%d errno=%s\n", int64(r), errnoName(e))
	}()
	for range flow {
		go func() {
			runtime.LockOSThread()
			tid := uintptr(unix.Gettid())
			for i := uintptr(0); ; i++ {
				if err := value(tid<<24 | i&(1<<24-1)); err != nil {
					fail("flow: %v", err)
				}
			}
		}()
	}
	fmt.Printf("flowstuck pid=%d flow=%d\n", os.Getpid(), flow)
	time.Sleep(time.Hour)
}

// cmdCount makes CALLS getppid(MagicCount, i) calls on THREADS threads
// and counts the answers by errno.
func cmdCount(args []string) {
	if len(args) != 2 {
		usage()
	}
	threads, calls := atoi(args[0]), atoi(args[1])
	if threads == 0 {
		usage()
	}
	var mu sync.Mutex
	byErrno := map[string]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			local := map[string]int{}
			for {
				i := next.Add(1) - 1
				if i >= int64(calls) {
					break
				}
				_, e := getppid(MagicCount, uintptr(i))
				local[errnoName(e)]++
			}
			mu.Lock()
			for k, v := range local {
				byErrno[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Printf("count calls=%d eio=%d eperm=%d ok=%d other=%d\n", calls,
		byErrno["EIO"], byErrno["EPERM"], byErrno["0"], calls-byErrno["EIO"]-byErrno["EPERM"]-byErrno["0"])
}

// cmdValues makes CALLS value calls on THREADS threads, each checked.
func cmdValues(args []string) {
	if len(args) != 2 {
		usage()
	}
	threads, calls := atoi(args[0]), atoi(args[1])
	if threads == 0 {
		usage()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var bad atomic.Value
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			tid := uintptr(unix.Gettid())
			for {
				i := next.Add(1) - 1
				if i >= int64(calls) {
					return
				}
				if err := value(tid<<24 | uintptr(i)&(1<<24-1)); err != nil {
					bad.Store(err.Error())
					return
				}
			}
		}()
	}
	wg.Wait()
	if b := bad.Load(); b != nil {
		fail("%s", b)
	}
	fmt.Printf("values threads=%d calls=%d ok\n", threads, calls)
}

// Hostile argument cases: getppid(MagicArgs, id, addr, n). The test's
// handler knows what to do with each id (tests/reliability_hostile_test.go).
const (
	caseNullCString = iota + 1
	caseNullRead
	caseUnmappedCString
	caseUnmappedRead
	caseKernelCString
	caseKernelRead
	caseStraddleNoNULCString
	caseStraddleNULCString
	caseStraddleReadExact
	caseStraddleReadOver
	caseLongCString
	caseExactMaxCString
	caseHugeRead
	caseNegativeRead
	caseHugeMaxCString
	caseWrapRead
	caseReadOnlyWrite
	caseUnmappedWrite
	caseMaxPlusOneRead
)

// Path cases: openat(AT_FDCWD, addr, O_RDONLY, MagicPathArg|id<<32); the
// handler calls ReadPath(1).
const (
	pathNull = 100 + iota
	pathUnmapped
	pathKernel
	pathStraddleNoNUL
	pathStraddleNUL
	pathLong
)

// atFDCWD is AT_FDCWD as a syscall argument.
var atFDCWD = func() uintptr { fd := unix.AT_FDCWD; return uintptr(fd) }()

// kernelAddr is the first address of the kernel half on x86_64 (and above
// any user address on the other 64-bit arches).
const kernelAddr = 0xffff800000000000

func mmap(size int) []byte {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		fail("mmap: %v", err)
	}
	return b
}

// munmapAt unmaps size bytes at &b[off], a part of a mapping of unix.Mmap,
// which is never touched again.
func munmapAt(b []byte, off, size int) {
	if _, _, e := unix.Syscall(unix.SYS_MUNMAP, uintptr(unsafe.Pointer(&b[off])), uintptr(size), 0); e != 0 {
		fail("munmap: %v", e)
	}
}

// isMapped reports whether the page at addr is mapped (mincore fails with
// ENOMEM on an unmapped one).
func isMapped(addr uintptr, page int) bool {
	var vec [1]byte
	_, _, e := unix.Syscall(unix.SYS_MINCORE, addr, uintptr(page), uintptr(unsafe.Pointer(&vec[0])))
	return e != unix.ENOMEM
}

// cmdArgs passes NULL, unmapped, kernel, page-straddling, unterminated and
// huge arguments to the handler, and prints what came back.
func cmdArgs() {
	page := os.Getpagesize()
	// Every mapping first, the holes last: a hole made earlier could be
	// filled by a later mapping.
	gone := mmap(page)
	two := mmap(2 * page)
	ro := mmap(page)
	copy(ro, "READONLY")
	if err := unix.Mprotect(ro, unix.PROT_READ); err != nil {
		fail("mprotect: %v", err)
	}
	// 8192 'A's then a NUL; 4096 'B's then a NUL.
	long := []byte(strings.Repeat("A", 8192) + "\x00")
	exact := []byte(strings.Repeat("B", 4096) + "\x00")
	valid := []byte("valid\x00")
	tail := two[page-16 : page]
	// An unmapped page; and two pages of which the second is unmapped, so
	// that strings run into the hole.
	unmapped := uintptr(unsafe.Pointer(&gone[0]))
	end := uintptr(unsafe.Pointer(&two[0])) + uintptr(page) // first unmapped byte
	munmapAt(gone, 0, page)
	munmapAt(two, page, page)
	holes := func() {
		for _, h := range []uintptr{unmapped, end} {
			if isMapped(h, page) {
				fail("the hole at %#x was mapped again", h)
			}
		}
	}

	addr := func(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }
	noNUL := func() { copy(tail, strings.Repeat("A", 16)) }
	withNUL := func() { copy(tail, strings.Repeat("A", 15)+"\x00") }

	trap := func(id int, a uintptr, n uintptr) {
		holes()
		r, _, e := unix.Syscall6(unix.SYS_GETPPID, MagicArgs, uintptr(id), a, n, 0, 0)
		fmt.Printf("case id=%d ret=%d errno=%s\n", id, int64(r), errnoName(e))
	}
	trap(caseNullCString, 0, 4096)
	trap(caseNullRead, 0, 16)
	trap(caseUnmappedCString, unmapped, 4096)
	trap(caseUnmappedRead, unmapped, 16)
	trap(caseKernelCString, kernelAddr, 4096)
	trap(caseKernelRead, kernelAddr, 16)
	noNUL()
	trap(caseStraddleNoNULCString, end-16, 4096)
	withNUL()
	trap(caseStraddleNULCString, end-16, 4096)
	trap(caseStraddleReadExact, end-16, 16)
	trap(caseStraddleReadOver, end-16, 17)
	trap(caseLongCString, addr(long), 4096)
	trap(caseExactMaxCString, addr(exact), 4096)
	trap(caseHugeRead, addr(valid), 1<<40)
	trap(caseNegativeRead, addr(valid), ^uintptr(0))
	trap(caseHugeMaxCString, addr(valid), 1<<40)
	trap(caseWrapRead, ^uintptr(0)-15, 64)
	trap(caseReadOnlyWrite, addr(ro), 8)
	trap(caseUnmappedWrite, unmapped, 8)
	trap(caseMaxPlusOneRead, addr(valid), 16<<20+1)

	openPath := func(id int, a uintptr) {
		holes()
		r, _, e := unix.Syscall6(unix.SYS_OPENAT, atFDCWD, a,
			unix.O_RDONLY|unix.O_CLOEXEC, uintptr(MagicPathArg|id<<32), 0, 0)
		if e == 0 {
			unix.Close(int(r))
		}
		fmt.Printf("case id=%d ret=%d errno=%s\n", id, int64(r), errnoName(e))
	}
	openPath(pathNull, 0)
	openPath(pathUnmapped, unmapped)
	openPath(pathKernel, kernelAddr)
	noNUL()
	openPath(pathStraddleNoNUL, end-16)
	withNUL()
	openPath(pathStraddleNUL, end-16)
	openPath(pathLong, addr(long))

	if got := string(ro[:8]); got != "READONLY" {
		fail("read-only page changed: %q", got)
	}
	runtime.KeepAlive(long)
	runtime.KeepAlive(exact)
	runtime.KeepAlive(valid)
	fmt.Println("args done")
}

// cmdInject opens InjectPath ITERS times on each of THREADS threads while
// a goroutine sends SIGURG and SIGUSR1 (caught, SA_RESTART) to those
// threads in a tight loop. Each fd received must be the injected eventfd
// (checked through /proc/self/fd), gets 1 added and is closed. The fd
// count at the end must equal the one at the start.
func cmdInject(args []string) {
	if len(args) != 2 {
		usage()
	}
	threads, iters := atoi(args[0]), atoi(args[1])
	usr1 := make(chan os.Signal, 1024)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
		}
	}()
	fmt.Printf("inject pid=%d\n", os.Getpid())
	path, _ := unix.BytePtrFromString(InjectPath)
	fdsStart := countFDs()

	var opens, bad, eintr, other atomic.Int64
	var firstBad atomic.Value
	tids := make(chan int, threads)
	var wg sync.WaitGroup
	for range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			tids <- unix.Gettid()
			one := [8]byte{1}
			for range iters {
				r, _, e := unix.Syscall6(unix.SYS_OPENAT, atFDCWD,
					uintptr(unsafe.Pointer(path)), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
				switch {
				case e == unix.EINTR:
					eintr.Add(1)
					continue
				case e != 0:
					other.Add(1)
					firstBad.CompareAndSwap(nil, "errno "+errnoName(e))
					continue
				}
				fd := int(r)
				target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
				flags, ferr := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
				if err != nil || target != "anon_inode:[eventfd]" || ferr != nil || flags&unix.FD_CLOEXEC == 0 {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, fmt.Sprintf("fd %d -> %q (%v), flags %#x (%v)", fd, target, err, flags, ferr))
					if fd > 2 {
						unix.Close(fd)
					}
					continue
				}
				if _, err := unix.Write(fd, one[:]); err != nil {
					bad.Add(1)
					firstBad.CompareAndSwap(nil, fmt.Sprintf("write fd %d: %v", fd, err))
				}
				unix.Close(fd)
				opens.Add(1)
			}
		}()
	}
	var all []int
	for range threads {
		all = append(all, <-tids)
	}
	stop := make(chan struct{})
	var urg, usr atomic.Int64
	go func() {
		pid := unix.Getpid()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tid := all[i%len(all)]
			if unix.Tgkill(pid, tid, unix.SIGURG) == nil {
				urg.Add(1)
			}
			if i%4 == 0 && unix.Tgkill(pid, tid, unix.SIGUSR1) == nil {
				usr.Add(1)
			}
			if i%len(all) == len(all)-1 {
				// A pause per round: a signal that comes before the
				// supervisor has taken the notification restarts the
				// open, and an unpaced storm on a loaded machine can
				// restart every open for ever. The pause grows with
				// the load, as the supervisor's delays do
				// (nanosleep itself: time.Sleep may open the
				// runtime's poller descriptors, which the run counts)
				_ = unix.Nanosleep(&unix.Timespec{Nsec: 20_000}, nil)
			}
		}
	}()
	wg.Wait()
	close(stop)
	signal.Stop(usr1)
	fdsEnd := countFDs()
	msg := ""
	if b := firstBad.Load(); b != nil {
		msg = " first-bad=" + strings.ReplaceAll(b.(string), " ", "_")
	}
	fmt.Printf("inject opens=%d bad=%d eintr=%d other=%d fds-start=%d fds-end=%d sigurg=%d sigusr1=%d%s\n",
		opens.Load(), bad.Load(), eintr.Load(), other.Load(), fdsStart, fdsEnd, urg.Load(), usr.Load(), msg)
}

// cmdSpin runs THREADS threads making value calls whose answer must be
// EXPECT (the supervisor answers a constant) until killed, and with FILE
// starts "spin-child FILE" first, a descendant that outlives us. A wrong
// answer (ENOSYS once the supervisor is gone) is printed once, and the
// calls go on: only a signal ends the process.
func cmdSpin(args []string) {
	if len(args) != 2 && len(args) != 3 {
		usage()
	}
	expect, threads := atoi(args[0]), atoi(args[1])
	// Die of nothing but a kill: not of a write to a closed pipe either.
	signal.Ignore(syscall.SIGPIPE)
	if len(args) == 3 {
		c := exec.Command(self(), "spin-child", args[2], strconv.Itoa(expect))
		c.Stdout, c.Stderr = os.Stdout, os.Stderr
		if err := c.Start(); err != nil {
			fail("start spin-child: %v", err)
		}
		fmt.Printf("spin child=%d\n", c.Process.Pid)
	}
	var calls atomic.Int64
	var wrong sync.Once
	for range threads {
		go func() {
			runtime.LockOSThread()
			for {
				r, e := getppid(MagicValue, 1)
				if e != 0 || int(r) != expect {
					// Unsupervised from now on: keep running, so that
					// only the supervisor's death signal can end us.
					wrong.Do(func() { fmt.Printf("spin answer ret=%d errno=%s\n", int64(r), errnoName(e)) })
					continue
				}
				calls.Add(1)
			}
		}()
	}
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("spin pid=%d pgid=%d\n", os.Getpid(), unix.Getpgrp())
	time.Sleep(time.Hour)
}

// cmdSpinChild makes a trapped call every 5 ms and writes each change of
// its result ("ret=R errno=E") to FILE, until killed.
func cmdSpinChild(args []string) {
	if len(args) != 2 {
		usage()
	}
	f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		fail("spin-child: %v", err)
	}
	fmt.Printf("spin-child pid=%d\n", os.Getpid())
	last := ""
	for {
		r, e := getppid(MagicValue, 1)
		if s := fmt.Sprintf("ret=%d errno=%s", int64(r), errnoName(e)); s != last {
			fmt.Fprintln(f, s)
			last = s
		}
		time.Sleep(5 * time.Millisecond)
	}
}
