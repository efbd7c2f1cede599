// Command unixpeer reaches unix sockets, for the unix guard tests. ADDR is
// a path or "@name" (abstract). Each attempt prints one line: "CALL
// addr=ADDR ok" (connect also reads the first line of the servers that
// greet: "read=LINE") or "CALL addr=ADDR errno=NAME".
//
//	unixpeer connect ADDR...   stream connect
//	unixpeer dgram ADDR...     sendto, sendmsg and sendmmsg from an unbound
//	                           datagram socket
//	unixpeer self              bind self.sock (relative: in the working
//	                           directory), selfd.sock (datagram) and
//	                           @self-PID, then reach each of them
//	unixpeer pair              start "unixpeer serve" (another process of
//	                           the run), then reach pair.sock and @pair-PID
//	unixpeer serve NAME        bind NAME.sock and @NAME, print "ready", sleep
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "connect":
		for _, a := range args {
			connect(a, true)
		}
	case "dgram":
		for _, a := range args {
			dgram(a)
		}
	case "self":
		self()
	case "pair":
		pair()
	case "serve":
		if len(args) != 1 {
			usage()
		}
		serve(args[0])
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: unixpeer connect|dgram ADDR... | self | pair | serve NAME")
	os.Exit(2)
}

func fail(format string, a ...any) {
	fmt.Printf("FAIL "+format+"\n", a...)
	os.Exit(1)
}

func errnoName(err error) string {
	if e, ok := err.(unix.Errno); ok {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
	}
	return err.Error()
}

func socket(typ int) int {
	fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fail("socket: %v", err)
	}
	return fd
}

// connect connects to addr and, when greeted, reads the server's first
// line (the servers of the run's own sockets do not accept).
func connect(addr string, greeted bool) {
	fd := socket(unix.SOCK_STREAM)
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		fmt.Printf("connect addr=%s errno=%s\n", addr, errnoName(err))
		return
	}
	if !greeted {
		fmt.Printf("connect addr=%s ok\n", addr)
		return
	}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 5})
	var buf [64]byte
	n, _ := unix.Read(fd, buf[:])
	line, _, _ := strings.Cut(string(buf[:max(n, 0)]), "\n")
	fmt.Printf("connect addr=%s ok read=%s\n", addr, strings.TrimSpace(line))
}

// rawSockaddr builds the struct sockaddr_un of addr and its length as a
// program passes it.
func rawSockaddr(addr string) (*unix.RawSockaddrUnix, uint32) {
	sa := &unix.RawSockaddrUnix{Family: unix.AF_UNIX}
	n := copy(unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), len(sa.Path)), addr)
	if strings.HasPrefix(addr, "@") {
		sa.Path[0] = 0
		return sa, uint32(2 + n)
	}
	return sa, uint32(2 + n + 1)
}

func dgram(addr string) {
	fd := socket(unix.SOCK_DGRAM)
	defer unix.Close(fd)
	msg := []byte("hello\n")
	report := func(call string, err error) {
		if err != nil {
			fmt.Printf("%s addr=%s errno=%s\n", call, addr, errnoName(err))
		} else {
			fmt.Printf("%s addr=%s ok\n", call, addr)
		}
	}
	report("sendto", unix.Sendto(fd, msg, 0, &unix.SockaddrUnix{Name: addr}))
	_, err := unix.SendmsgN(fd, msg, nil, &unix.SockaddrUnix{Name: addr}, 0)
	report("sendmsg", err)

	sa, salen := rawSockaddr(addr)
	iov := unix.Iovec{Base: &msg[0]}
	iov.SetLen(len(msg))
	var hdr [2]unix.Mmsghdr
	for i := range hdr {
		hdr[i].Hdr.Iov, hdr[i].Hdr.Iovlen = &iov, 1
	}
	// The second message has the destination: the first alone would go
	// nowhere (the socket is not connected).
	hdr[1].Hdr.Name, hdr[1].Hdr.Namelen = (*byte)(unsafe.Pointer(sa)), salen
	_, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdr[1])), 1, 0, 0, 0)
	runtime.KeepAlive(sa)
	runtime.KeepAlive(&hdr)
	if e != 0 {
		report("sendmmsg", e)
	} else {
		report("sendmmsg", nil)
	}
}

// listen binds addr; a datagram socket when dg.
func listen(addr string, dg bool) int {
	typ := unix.SOCK_STREAM
	if dg {
		typ = unix.SOCK_DGRAM
	}
	fd := socket(typ)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: addr}); err != nil {
		fail("bind %s: %v", addr, err)
	}
	if !dg {
		if err := unix.Listen(fd, 8); err != nil {
			fail("listen %s: %v", addr, err)
		}
	}
	return fd
}

func self() {
	abstract := "@self-" + strconv.Itoa(os.Getpid())
	listen("self.sock", false)
	listen(abstract, false)
	listen("selfd.sock", true)
	connect("./self.sock", false)
	connect(abstract, false)
	dgram("selfd.sock")
}

func pair() {
	name := "pair-" + strconv.Itoa(os.Getpid())
	cmd := exec.Command("/proc/self/exe", "serve", name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		fail("pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		fail("start server: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		fail("server: %q", line)
	}
	connect(name+".sock", false)
	connect("@"+name, false)
}

func serve(name string) {
	listen(name+".sock", false)
	listen("@"+name, false)
	fmt.Println("ready")
	time.Sleep(time.Minute)
}
