package mem

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/notif"
)

// MaxTransfer bounds one Read or Write, so that a length taken from a
// hostile syscall argument cannot make the supervisor allocate gigabytes.
const MaxTransfer = 16 << 20

var (
	// ErrFault means the address range is not (entirely) mapped in the
	// target, or is NULL or in the kernel half. Errors carrying it also
	// match unix.EFAULT.
	ErrFault = errors.New("bad address in target")
	// ErrTooLong means a C string had no NUL within the maximum length.
	// Errors carrying it also match unix.ENAMETOOLONG.
	ErrTooLong = errors.New("string longer than maximum")
	// ErrTooLarge means a transfer asked for more than MaxTransfer bytes.
	ErrTooLarge = errors.New("transfer larger than MaxTransfer")
)

// pageSize is the granularity at which mappings can end.
var pageSize = uint64(os.Getpagesize())

// Validator confirms that a notification is still pending. notif.Notifier
// implements it.
type Validator interface {
	IDValid(id uint64) error
}

// Process accesses the memory of the task that raised one notification.
// Every read is followed by an ID_VALID check on that notification before
// its bytes are returned: a recycled pid or an interrupted syscall cannot
// feed stale data to a decision.
type Process struct {
	// Pid is the task (thread) ID from the notification.
	Pid int
	// ID is the notification ID.
	ID uint64
	// Valid checks ID; nil skips the check (tests of raw access only).
	Valid Validator
}

// Read copies n bytes at addr from the target.
func (p Process) Read(addr uint64, n int) ([]byte, error) {
	if n < 0 || n > MaxTransfer {
		return nil, fmt.Errorf("read %d bytes at %#x: %w", n, addr, ErrTooLarge)
	}
	buf := make([]byte, n)
	if err := ReadRaw(p.Pid, addr, buf); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return buf, nil
}

// ReadCString reads a NUL-terminated string of at most max bytes (without
// the NUL) at addr. It reads page by page so it never asks for memory past
// the page holding the terminator.
func (p Process) ReadCString(addr uint64, max int) (string, error) {
	s, err := ReadCStringRaw(p.Pid, addr, max)
	if err != nil {
		return "", err
	}
	if err := p.check(); err != nil {
		return "", err
	}
	return s, nil
}

// Write copies data to addr in the target. The notification is checked
// first, so a write never lands in a task that has moved on.
func (p Process) Write(addr uint64, data []byte) error {
	if len(data) > MaxTransfer {
		return fmt.Errorf("write %d bytes at %#x: %w", len(data), addr, ErrTooLarge)
	}
	if err := p.check(); err != nil {
		return err
	}
	return WriteRaw(p.Pid, addr, data)
}

func (p Process) check() error {
	if p.Valid == nil {
		return nil
	}
	if err := p.Valid.IDValid(p.ID); err != nil {
		return fmt.Errorf("after reading pid %d: %w", p.Pid, err)
	}
	return nil
}

// ReadRaw fills buf from addr in process pid, with no notification check.
func ReadRaw(pid int, addr uint64, buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if err := checkRange(addr, len(buf)); err != nil {
		return fmt.Errorf("read pid %d: %w", pid, err)
	}
	n, err := unix.ProcessVMReadv(pid,
		[]unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}},
		[]unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}, 0)
	if err == unix.ENOSYS || err == unix.EPERM {
		n, err = procMemIO(pid, addr, buf, false)
	}
	return transferResult("read", pid, addr, len(buf), n, err)
}

// WriteRaw copies data to addr in process pid, with no notification check.
func WriteRaw(pid int, addr uint64, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := checkRange(addr, len(data)); err != nil {
		return fmt.Errorf("write pid %d: %w", pid, err)
	}
	n, err := unix.ProcessVMWritev(pid,
		[]unix.Iovec{{Base: &data[0], Len: uint64(len(data))}},
		[]unix.RemoteIovec{{Base: uintptr(addr), Len: len(data)}}, 0)
	if err == unix.ENOSYS || err == unix.EPERM {
		n, err = procMemIO(pid, addr, data, true)
	}
	return transferResult("write", pid, addr, len(data), n, err)
}

// ReadCStringRaw reads a NUL-terminated string of at most max bytes at addr
// in process pid, page by page, with no notification check.
func ReadCStringRaw(pid int, addr uint64, max int) (string, error) {
	if max < 0 || max > MaxTransfer {
		return "", fmt.Errorf("read string pid %d at %#x: max %d: %w", pid, addr, max, ErrTooLarge)
	}
	if addr == 0 {
		return "", fmt.Errorf("read string pid %d: NULL pointer: %w: %w", pid, ErrFault, unix.EFAULT)
	}
	var out []byte
	var page [4096]byte
	// Most strings are short paths: read a small first chunk, then grow;
	// a chunk never crosses a page boundary.
	limit := uint64(firstChunk)
	for cur := addr; ; {
		chunk := pageSize - cur%pageSize
		chunk = min(chunk, uint64(len(page)), limit)
		limit *= 4
		// Read one byte past max so that a string of exactly max bytes
		// still shows its terminator.
		if left := uint64(max + 1 - len(out)); chunk > left {
			chunk = left
		}
		if err := ReadRaw(pid, cur, page[:chunk]); err != nil {
			return "", fmt.Errorf("read string at %#x: %w", addr, err)
		}
		if i := bytes.IndexByte(page[:chunk], 0); i >= 0 {
			return string(append(out, page[:i]...)), nil
		}
		out = append(out, page[:chunk]...)
		if len(out) > max {
			return "", fmt.Errorf("read string pid %d at %#x: no NUL in %d bytes: %w: %w", pid, addr, max, ErrTooLong, unix.ENAMETOOLONG)
		}
		cur += chunk
		if cur < addr { // wrapped around the address space
			return "", fmt.Errorf("read string pid %d at %#x: %w: %w", pid, addr, ErrFault, unix.EFAULT)
		}
	}
}

// firstChunk is the size of the first read of a C string.
const firstChunk = 256

// checkRange rejects NULL and ranges that wrap around the address space
// before any syscall is made.
func checkRange(addr uint64, n int) error {
	if addr == 0 {
		return fmt.Errorf("NULL pointer: %w: %w", ErrFault, unix.EFAULT)
	}
	if addr+uint64(n) < addr {
		return fmt.Errorf("range %#x+%d wraps: %w: %w", addr, n, ErrFault, unix.EFAULT)
	}
	return nil
}

func transferResult(op string, pid int, addr uint64, want, got int, err error) error {
	switch {
	case err == unix.EFAULT || err == unix.EIO || (err == nil && got < want):
		return fmt.Errorf("%s pid %d: %d of %d bytes at %#x: %w: %w", op, pid, got, want, addr, ErrFault, unix.EFAULT)
	case err == unix.ESRCH:
		return fmt.Errorf("%s pid %d: %w: %w", op, pid, notif.ErrNotificationGone, err)
	case err != nil:
		return fmt.Errorf("%s pid %d at %#x: %w", op, pid, addr, err)
	}
	return nil
}

// procMemIO is the fallback when process_vm_readv/writev are unavailable.
func procMemIO(pid int, addr uint64, buf []byte, write bool) (int, error) {
	flag := os.O_RDONLY
	if write {
		flag = os.O_WRONLY
	}
	f, err := os.OpenFile("/proc/"+strconv.Itoa(pid)+"/mem", flag, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, unix.ESRCH
		}
		return 0, err
	}
	defer f.Close()
	var n int
	if write {
		n, err = f.WriteAt(buf, int64(addr))
	} else {
		n, err = f.ReadAt(buf, int64(addr))
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return n, errno
	}
	if err != nil && n < len(buf) {
		return n, unix.EIO
	}
	return n, nil
}
