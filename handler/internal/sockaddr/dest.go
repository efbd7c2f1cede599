package sockaddr

import (
	"encoding/binary"
	"errors"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/mem"
)

// Layout of struct msghdr and struct mmsghdr on the supported archs.
const (
	sizeofMsghdr   = 56
	sizeofMmsghdr  = 64
	offMsgName     = 0
	offMsgNamelen  = 8
	maxMmsgMessage = 1024 // UIO_MAXIOV
)

// Destinations reads the destination addresses of the trapped connect,
// sendto, sendmsg or sendmmsg, each cut to the length the kernel would use.
// A call without a destination (sendto with a NULL address, sendmsg with
// no msg_name) gives none; sendmmsg gives one per message that has a
// destination, up to the first message that cannot be read. Any other
// syscall gives none.
//
// errno is what the kernel answers for the arguments read (EINVAL for a
// bad length, EFAULT for an unreadable pointer), or ESRCH when the
// notification is gone; the caller answers it instead of deciding.
func Destinations(c *handler.Ctx) (dests [][]byte, errno unix.Errno) {
	switch c.SyscallName() {
	case "connect":
		return one(c, c.Arg(1), c.Arg(2))
	case "sendto":
		if c.Arg(4) == 0 {
			return nil, 0
		}
		return one(c, c.Arg(4), c.Arg(5))
	case "sendmsg":
		hdr, err := c.Read(c.Arg(1), sizeofMsghdr)
		if err != nil {
			return nil, readErrno(err)
		}
		d, errno := msgName(c, hdr)
		if d == nil || errno != 0 {
			return nil, errno
		}
		return [][]byte{d}, 0
	case "sendmmsg":
		return mmsgNames(c, c.Arg(1), c.Arg(2))
	}
	return nil, 0
}

// one reads the address of connect or sendto: addrlen is an int.
func one(c *handler.Ctx, addr, size uint64) ([][]byte, unix.Errno) {
	n := int32(size)
	if n < 0 || n > Max {
		return nil, unix.EINVAL
	}
	if n == 0 {
		return [][]byte{{}}, 0
	}
	raw, err := c.Read(addr, int(n))
	if err != nil {
		return nil, readErrno(err)
	}
	return [][]byte{raw}, 0
}

// msgName reads the destination of one struct msghdr, nil when it has
// none.
func msgName(c *handler.Ctx, hdr []byte) ([]byte, unix.Errno) {
	name := binary.NativeEndian.Uint64(hdr[offMsgName:])
	n := int32(binary.NativeEndian.Uint32(hdr[offMsgNamelen:]))
	switch {
	case name == 0:
		return nil, 0
	case n < 0:
		return nil, unix.EINVAL
	case n == 0:
		return nil, 0
	case n > Max:
		n = Max
	}
	raw, err := c.Read(name, int(n))
	if err != nil {
		return nil, readErrno(err)
	}
	return raw, 0
}

// mmsgNames reads the destinations of sendmmsg's messages.
func mmsgNames(c *handler.Ctx, vec, vlen uint64) ([][]byte, unix.Errno) {
	n := int(min(uint64(uint32(vlen)), maxMmsgMessage))
	if n == 0 {
		return nil, 0
	}
	// One read for the whole vector; message by message only when it
	// fails, to find where the kernel would stop.
	all, bulkErr := c.Read(vec, n*sizeofMmsghdr)
	var dests [][]byte
	for i := range n {
		hdr, err := all, error(nil)
		if bulkErr == nil {
			hdr = all[i*sizeofMmsghdr : (i+1)*sizeofMmsghdr]
		} else {
			hdr, err = c.Read(vec+uint64(i*sizeofMmsghdr), sizeofMmsghdr)
		}
		var d []byte
		errno := readErrno(err)
		if err == nil {
			d, errno = msgName(c, hdr)
		}
		if errno != 0 {
			if i == 0 {
				return nil, errno
			}
			return dests, 0 // the kernel sends the messages before
		}
		if d != nil {
			dests = append(dests, d)
		}
	}
	return dests, 0
}

// readErrno maps a failed read of the task's memory to the errno of the
// syscall: EFAULT for a bad pointer, ESRCH when the task is gone.
func readErrno(err error) unix.Errno {
	if err == nil {
		return 0
	}
	if errors.Is(err, mem.ErrFault) {
		return unix.EFAULT
	}
	var errno unix.Errno
	if errors.As(err, &errno) && errno == unix.EFAULT {
		return unix.EFAULT
	}
	return unix.ESRCH
}
