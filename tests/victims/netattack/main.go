// Command netattack tries to reach network endpoints around a connect and
// bind policy, with raw syscalls, for the network policy tests. Each mode
// prints one line "MODE port=N ok" or "MODE port=N errno=NAME" per port.
//
//	netattack fastopen PORT...       TCP sendto(MSG_FASTOPEN) to 127.0.0.1:PORT
//	netattack sendto PORT...         UDP sendto 127.0.0.1:PORT
//	netattack sendmsg PORT...        UDP sendmsg with msg_name 127.0.0.1:PORT
//	netattack sendmmsg PORT...       UDP sendmmsg, two messages to 127.0.0.1:PORT
//	netattack sendto-unspec PORT...  UDP sendto an AF_UNSPEC address (the
//	                                 kernel takes it as AF_INET)
//	netattack unspec-bind PORT...    TCP bind with sa_family AF_UNSPEC
//	                                 (0.0.0.0:PORT to the kernel) and listen
//	netattack unspec-connect PORT    UDP connect to PORT, connect AF_UNSPEC
//	                                 (dissociate), then send: EDESTADDRREQ
//	netattack sctp                   socket(AF_INET, SOCK_SEQPACKET, 0)
//	netattack race ALLOWED DENIED N  UDP sendmsg N times while another
//	                                 thread flips msg_name between the
//	                                 allowed address, the denied one and
//	                                 NULL (the socket is connected to
//	                                 ALLOWED)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// payload is what every datagram carries, so that the receiver can tell
// the attacker's datagrams from others.
var payload = []byte("NETATTACK")

func sockaddr(port int) *unix.RawSockaddrInet4 {
	sa := &unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{127, 0, 0, 1}}
	sa.Port = uint16(port>>8) | uint16(port&0xff)<<8 // network byte order
	return sa
}

func socket(typ int) int {
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fmt.Println("FAIL socket:", err)
		os.Exit(1)
	}
	return fd
}

func result(e unix.Errno) string {
	if e == 0 {
		return "ok"
	}
	return "errno=" + unix.ErrnoName(e)
}

func sendto(fd int, flags int, sa unsafe.Pointer, salen uintptr) unix.Errno {
	_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&payload[0])), uintptr(len(payload)),
		uintptr(flags), uintptr(sa), salen)
	return e
}

func msghdr(sa *unix.RawSockaddrInet4, iov *unix.Iovec) *unix.Msghdr {
	m := &unix.Msghdr{Iov: iov, Iovlen: 1}
	if sa != nil {
		m.Name = (*byte)(unsafe.Pointer(sa))
		m.Namelen = unix.SizeofSockaddrInet4
	}
	return m
}

func iovec() *unix.Iovec {
	iov := &unix.Iovec{Base: &payload[0]}
	iov.SetLen(len(payload))
	return iov
}

func attack(mode string, port int) unix.Errno {
	sa := sockaddr(port)
	defer runtime.KeepAlive(sa)
	switch mode {
	case "fastopen":
		fd := socket(unix.SOCK_STREAM)
		defer unix.Close(fd)
		e := sendto(fd, unix.MSG_FASTOPEN, unsafe.Pointer(sa), unix.SizeofSockaddrInet4)
		if e == 0 {
			time.Sleep(50 * time.Millisecond) // let the server accept
		}
		return e
	case "sendto":
		fd := socket(unix.SOCK_DGRAM)
		defer unix.Close(fd)
		return sendto(fd, 0, unsafe.Pointer(sa), unix.SizeofSockaddrInet4)
	case "sendto-unspec":
		fd := socket(unix.SOCK_DGRAM)
		defer unix.Close(fd)
		sa.Family = unix.AF_UNSPEC
		return sendto(fd, 0, unsafe.Pointer(sa), unix.SizeofSockaddrInet4)
	case "sendmsg":
		fd := socket(unix.SOCK_DGRAM)
		defer unix.Close(fd)
		iov := iovec()
		m := msghdr(sa, iov)
		_, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(m)), 0)
		runtime.KeepAlive(iov)
		return e
	case "sendmmsg":
		fd := socket(unix.SOCK_DGRAM)
		defer unix.Close(fd)
		iov := iovec()
		var msgs [2]struct {
			hdr unix.Msghdr
			len uint32
			_   uint32
		}
		msgs[0].hdr, msgs[1].hdr = *msghdr(sa, iov), *msghdr(sa, iov)
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), 2, 0, 0, 0)
		runtime.KeepAlive(iov)
		if e == 0 && (n != 2 || msgs[0].len != uint32(len(payload)) || msgs[1].len != uint32(len(payload))) {
			fmt.Printf("sendmmsg: sent %d, msg_len %d %d\n", n, msgs[0].len, msgs[1].len)
		}
		return e
	case "unspec-bind":
		fd := socket(unix.SOCK_STREAM)
		sa.Family = unix.AF_UNSPEC
		sa.Addr = [4]byte{} // INADDR_ANY: the kernel takes AF_UNSPEC as AF_INET then
		_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(sa)), unix.SizeofSockaddrInet4)
		if e == 0 {
			if err := unix.Listen(fd, 1); err != nil {
				fmt.Println("listen:", err)
			}
			fmt.Println("listening")
			time.Sleep(300 * time.Millisecond) // the test connects meanwhile
		}
		unix.Close(fd)
		return e
	case "unspec-connect":
		fd := socket(unix.SOCK_DGRAM)
		defer unix.Close(fd)
		if _, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(sa)), unix.SizeofSockaddrInet4); e != 0 {
			return e
		}
		unspec := &unix.RawSockaddrInet4{Family: unix.AF_UNSPEC}
		if _, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(unspec)), unix.SizeofSockaddrInet4); e != 0 {
			fmt.Println("connect AF_UNSPEC:", result(e))
			return e
		}
		return sendto(fd, 0, nil, 0) // dissociated: EDESTADDRREQ
	}
	fmt.Fprintln(os.Stderr, "unknown mode", mode)
	os.Exit(2)
	return 0
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: netattack MODE ...")
		os.Exit(2)
	}
	mode := os.Args[1]
	switch mode {
	case "sctp":
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_SEQPACKET, 0)
		if err == nil {
			unix.Close(fd)
		}
		fmt.Printf("sctp %s\n", result(errnoOf(err)))
		return
	case "race":
		ports := atois(os.Args[2:])
		race(ports[0], ports[1], ports[2])
		return
	}
	for _, p := range atois(os.Args[2:]) {
		fmt.Printf("%s port=%d %s\n", mode, p, result(attack(mode, p)))
	}
}

func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	return unix.EINVAL
}

func atois(args []string) []int {
	var out []int
	for _, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

// race sends N datagrams with sendmsg on a socket connected to ALLOWED
// while another thread rewrites the message header: msg_name pointing to
// ALLOWED, to DENIED, or NULL.
func race(allowed, denied, n int) {
	fd := socket(unix.SOCK_DGRAM)
	defer unix.Close(fd)
	ok, bad := sockaddr(allowed), sockaddr(denied)
	if _, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(ok)), unix.SizeofSockaddrInet4); e != 0 {
		fmt.Println("FAIL connect:", e)
		os.Exit(1)
	}
	iov := iovec()
	m := msghdr(nil, iov)
	name := (*uintptr)(unsafe.Pointer(&m.Name))
	namelen := (*uint32)(unsafe.Pointer(&m.Namelen))
	*namelen = unix.SizeofSockaddrInet4
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		targets := []uintptr{uintptr(unsafe.Pointer(ok)), uintptr(unsafe.Pointer(bad)), 0}
		for i := 0; !stop.Load(); i++ {
			atomic.StoreUintptr(name, targets[i%3])
		}
	}()
	sent, refused := 0, 0
	for range n {
		_, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(m)), 0)
		if e == 0 {
			sent++
		} else {
			refused++
		}
	}
	stop.Store(true)
	<-done
	runtime.KeepAlive(ok)
	runtime.KeepAlive(bad)
	runtime.KeepAlive(iov)
	fmt.Printf("race sends=%d ok=%d refused=%d\n", n, sent, refused)
}
