package tests

// Scenario 9: fuzzing the memory accessors a handler uses on hostile
// arguments. The other fuzz targets of the repository are listed in
// docs/testing.md.

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/mem"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// FuzzReliabilityCtxMemory calls Ctx.Read, ReadCString and Write of a live
// Ctx (a fake notifier, this process as the task) with fuzzed addresses and
// lengths: near a buffer that is followed by an unmapped page, in the NULL
// page, in the kernel half, at the top of the address space (wrapping
// ranges), and (reads only) anywhere. No panic; every error is ErrFault,
// ErrTooLong or ErrTooLarge, with no bytes; near the buffer the result is
// exactly the reference's: the bytes of a range that fits, ErrFault for
// one that runs into the hole, ErrTooLarge beyond MaxTransfer or below 0.
//
//	go test -run '^$' -fuzz FuzzReliabilityCtxMemory -fuzztime 60s ./tests/
func FuzzReliabilityCtxMemory(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint64(0), int64(16), []byte("hello\x00"))
	f.Add(uint8(0), uint8(0), uint64(3*4096-8), int64(16), []byte("x"))       // runs into the hole
	f.Add(uint8(1), uint8(0), uint64(3*4096-6), int64(4096), []byte("ab"))    // string runs into the hole
	f.Add(uint8(1), uint8(0), uint64(3*4096-2), int64(4096), []byte("a\x00")) // NUL just before it
	f.Add(uint8(0), uint8(0), uint64(0), int64(1)<<40, []byte{})
	f.Add(uint8(0), uint8(0), uint64(0), int64(-1), []byte{})
	f.Add(uint8(1), uint8(0), uint64(0), int64(mem.MaxTransfer+1), []byte{})
	f.Add(uint8(0), uint8(1), uint64(0), int64(8), []byte{})
	f.Add(uint8(1), uint8(2), uint64(0), int64(8), []byte{})
	f.Add(uint8(0), uint8(3), uint64(15), int64(64), []byte{})
	f.Add(uint8(2), uint8(0), uint64(3*4096-4), int64(0), []byte("12345678"))
	f.Add(uint8(2), uint8(3), uint64(3), int64(0), []byte("12345678"))
	f.Add(uint8(0), uint8(4), uint64(0x7fff00000000), int64(4096), []byte{})

	page := os.Getpagesize()
	all, err := unix.Mmap(-1, 0, 4*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		f.Fatal(err)
	}
	buf := all[: 3*page : 3*page]
	base := uint64(reflect.ValueOf(buf).Pointer())
	hole := base + uint64(len(buf))
	if _, _, e := unix.Syscall(unix.SYS_MUNMAP, uintptr(hole), uintptr(page), 0); e != 0 {
		f.Fatal(e)
	}
	holeMapped := func() bool {
		_, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(hole), uintptr(page), unix.MADV_NORMAL)
		return e != unix.ENOMEM
	}

	fake := notif.NewFake()
	n := notif.Notif{Pid: uint32(os.Getpid()), Data: notif.Data{Arch: syscalls.Native().AuditArch()}}
	n.ID = fake.Push(n)

	f.Fuzz(func(t *testing.T, op, where uint8, off uint64, length int64, data []byte) {
		for i := range buf {
			buf[i] = 'A' + byte(i%26)
		}
		if len(data) > len(buf) {
			data = data[:len(buf)]
		}
		var addr uint64
		near := false
		switch where % 5 {
		case 0: // the buffer, up to 64 bytes into the hole
			near = true
			addr = base + off%uint64(len(buf)+64)
		case 1:
			addr = off % uint64(page)
		case 2:
			addr = 0xffff800000000000 + off%(1<<40)
		case 3:
			addr = ^uint64(0) - off%uint64(page)
		case 4:
			if op%3 == 2 {
				t.Skip("no writes to random addresses of the test process")
			}
			addr = off
		}
		if near && op%3 != 2 && addr < hole {
			// Data at addr, so that strings end in the fuzzer's hands.
			copy(buf[addr-base:], data)
		}
		c := handler.NewTestCtx(n, fake)
		var (
			got     []byte
			str     string
			err     error
			size    = int(length)
			wantErr error
		)
		switch op % 3 {
		case 0:
			got, err = c.Read(addr, size)
			switch {
			case length < 0 || length > mem.MaxTransfer:
				wantErr = mem.ErrTooLarge
			case size == 0:
			case !near || addr+uint64(size) > hole:
				wantErr = mem.ErrFault
			}
			if near && wantErr == nil && err == nil && addr+uint64(size) <= hole && !bytes.Equal(got, buf[addr-base:addr-base+uint64(size)]) {
				t.Fatalf("Read(%#x, %d) returned other bytes than the buffer's", addr, size)
			}
		case 1:
			str, err = c.ReadCString(addr, size)
			var want string
			switch {
			case length < 0 || length > mem.MaxTransfer:
				wantErr = mem.ErrTooLarge
			case !near || addr >= hole:
				wantErr = mem.ErrFault
			default:
				want, wantErr = referenceString(buf[addr-base:], size)
			}
			if near && wantErr == nil && err == nil && str != want {
				t.Fatalf("ReadCString(%#x, %d) = %q, want %q", addr, size, str, want)
			}
		case 2:
			err = c.Write(addr, data)
			switch {
			case len(data) == 0:
			case !near || addr+uint64(len(data)) > hole:
				wantErr = mem.ErrFault
			}
			if near && wantErr == nil && err == nil && addr+uint64(len(data)) <= hole && !bytes.Equal(buf[addr-base:addr-base+uint64(len(data))], data) {
				t.Fatalf("Write(%#x, %q) did not write the bytes", addr, data)
			}
		}
		if holeMapped() {
			t.Skip("something was mapped at the hole; no reference answer")
		}
		if err != nil && (len(got) > 0 || str != "") {
			t.Fatalf("op %d at %#x, %d: bytes returned with error %v", op%3, addr, length, err)
		}
		if err != nil && !errors.Is(err, mem.ErrFault) && !errors.Is(err, mem.ErrTooLong) && !errors.Is(err, mem.ErrTooLarge) {
			t.Fatalf("op %d at %#x, %d: error of no class: %v", op%3, addr, length, err)
		}
		if where%5 == 4 {
			return // anything mapped or not: only the class is known
		}
		if wantErr == nil && err != nil || wantErr != nil && !errors.Is(err, wantErr) {
			t.Fatalf("op %d at %#x (hole at %#x), %d, %d data bytes: got %v, want %v", op%3, addr, hole, length, len(data), err, wantErr)
		}
	})
}

// referenceString is what ReadCString(max) must give for a string at
// region[0] when region is followed by unmapped memory.
func referenceString(region []byte, max int) (string, error) {
	if i := bytes.IndexByte(region, 0); i >= 0 && i <= max {
		return string(region[:i]), nil
	}
	if len(region) > max {
		return "", mem.ErrTooLong
	}
	return "", mem.ErrFault
}
