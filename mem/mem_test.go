package mem_test

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/mem"
	"github.com/sandlock-go/sandlock-go/notif"
)

// The tests read and write the test's own memory: process_vm_readv works on
// the calling process, and mmap'd memory gives exact page layouts.

var pageSize = os.Getpagesize()

// kernelHalf is the first address of the x86_64 kernel half (and
// non-canonical or unmapped on the other 64-bit arches).
const kernelHalf = 0xffff800000000000

// addrOf returns the address of b's first byte.
func addrOf(b []byte) uint64 { return uint64(reflect.ValueOf(b).Pointer()) }

// mapped returns n read-write pages followed by one unmapped page (the
// hole): a read that runs past the returned slice faults.
func mapped(t testing.TB, n int) []byte {
	t.Helper()
	all, err := unix.Mmap(-1, 0, (n+1)*pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	require.NoError(t, err)
	t.Cleanup(func() { _ = unix.Munmap(all) })
	hole := addrOf(all) + uint64(n*pageSize)
	_, _, errno := unix.Syscall(unix.SYS_MUNMAP, uintptr(hole), uintptr(pageSize), 0)
	require.Zero(t, errno, "munmap the hole")
	requireHole(t, hole)
	return all[: n*pageSize : n*pageSize]
}

// isMapped asks the kernel whether the page at addr is mapped: madvise
// fails with ENOMEM on an unmapped range.
func isMapped(addr uint64) bool {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(addr), uintptr(pageSize), unix.MADV_NORMAL)
	return errno != unix.ENOMEM
}

// requireHole fails when something was mapped at the hole since (the
// runtime may map memory at any time; then an expected fault is no proof).
func requireHole(t testing.TB, addr uint64) {
	t.Helper()
	require.False(t, isMapped(addr), "page %#x is mapped; the test's hole is gone", addr)
}

// validator records IDValid calls and answers with err.
type validator struct {
	mu    sync.Mutex
	calls []uint64
	err   error
}

func (v *validator) IDValid(id uint64) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls = append(v.calls, id)
	return v.err
}

func (v *validator) Calls() []uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]uint64(nil), v.calls...)
}

func self(v mem.Validator) mem.Process {
	return mem.Process{Pid: os.Getpid(), ID: 77, Valid: v}
}

func requireFault(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, mem.ErrFault)
	assert.ErrorIs(t, err, unix.EFAULT)
}

func TestReadWriteRoundTrip(t *testing.T) {
	page := mapped(t, 1)
	v := &validator{}
	p := self(v)
	addr := addrOf(page) + 100
	data := []byte("round\x00trip \xff\x01 bytes")

	require.NoError(t, p.Write(addr, data))
	assert.Equal(t, data, page[100:100+len(data)], "the write landed in memory")
	got, err := p.Read(addr, len(data))
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Equal(t, []uint64{77, 77}, v.Calls(), "Write checks before, Read after")

	// Across a page boundary of two mapped pages.
	pages := mapped(t, 2)
	big := bytes.Repeat([]byte("0123456789abcdef"), pageSize/8) // two pages' worth
	cross := addrOf(pages) + uint64(pageSize) - 10
	require.NoError(t, p.Write(cross, big[:20]))
	got, err = p.Read(cross, 20)
	require.NoError(t, err)
	assert.Equal(t, big[:20], got)

	// The whole mapping at once.
	require.NoError(t, mem.WriteRaw(os.Getpid(), addrOf(pages), big))
	all, err := p.Read(addrOf(pages), len(pages))
	require.NoError(t, err)
	assert.Equal(t, big, all)
}

func TestReadZeroBytes(t *testing.T) {
	got, err := self(nil).Read(addrOf(mapped(t, 1)), 0)
	require.NoError(t, err)
	assert.Empty(t, got)
	require.NoError(t, self(nil).Write(0, nil), "an empty write touches nothing")
}

func TestReadFaults(t *testing.T) {
	page := mapped(t, 1)
	end := addrOf(page) + uint64(pageSize)
	v := &validator{}
	p := self(v)
	for _, tc := range []struct {
		name string
		addr uint64
		n    int
	}{
		{"NULL", 0, 8},
		{"kernel half", kernelHalf, 8},
		{"top of address space", 0xffffffffffffff00, 8},
		{"wraps around", 0xfffffffffffffff0, 32},
		{"hole", end, 8},
		{"runs into hole", end - 4, 8},
		{"page then hole", addrOf(page), pageSize + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Read(tc.addr, tc.n)
			requireFault(t, err)
			assert.Nil(t, got)
			requireFault(t, p.Write(tc.addr, make([]byte, tc.n)))
		})
	}
	requireHole(t, end)
	// A fault is reported before any ID_VALID check of a Read; a Write
	// checks first.
	assert.Len(t, v.Calls(), 7)
}

func TestWriteReadOnly(t *testing.T) {
	ro, err := unix.Mmap(-1, 0, pageSize, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	require.NoError(t, err)
	defer unix.Munmap(ro)
	requireFault(t, self(nil).Write(addrOf(ro), []byte("x")))
	got, err := self(nil).Read(addrOf(ro), 4)
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 0, 0, 0}, got)
}

func TestTooLarge(t *testing.T) {
	v := &validator{}
	p := self(v)
	addr := addrOf(mapped(t, 1))
	for _, n := range []int{-1, mem.MaxTransfer + 1, 1 << 40} {
		got, err := p.Read(addr, n)
		assert.ErrorIs(t, err, mem.ErrTooLarge, "Read %d", n)
		assert.Nil(t, got)
	}
	for _, max := range []int{-1, mem.MaxTransfer + 1, 1 << 40} {
		s, err := p.ReadCString(addr, max)
		assert.ErrorIs(t, err, mem.ErrTooLarge, "ReadCString max %d", max)
		assert.Empty(t, s)
	}
	assert.ErrorIs(t, p.Write(addr, make([]byte, mem.MaxTransfer+1)), mem.ErrTooLarge)
	assert.Empty(t, v.Calls(), "rejected before any check")
}

// MaxTransfer itself is allowed.
func TestMaxTransfer(t *testing.T) {
	buf := make([]byte, mem.MaxTransfer)
	buf[0], buf[len(buf)-1] = 1, 2
	got, err := self(nil).Read(addrOf(buf), mem.MaxTransfer)
	require.NoError(t, err)
	assert.Equal(t, byte(1), got[0])
	assert.Equal(t, byte(2), got[len(got)-1])
}

func TestValidatorGone(t *testing.T) {
	page := mapped(t, 1)
	copy(page, "secret\x00")
	addr := addrOf(page)
	v := &validator{err: notif.ErrNotificationGone}
	p := self(v)

	got, err := p.Read(addr, 6)
	assert.ErrorIs(t, err, notif.ErrNotificationGone)
	assert.Nil(t, got, "bytes read before a failed check are not returned")

	s, err := p.ReadCString(addr, 100)
	assert.ErrorIs(t, err, notif.ErrNotificationGone)
	assert.Empty(t, s)

	err = p.Write(addr, []byte("XXXXXX"))
	assert.ErrorIs(t, err, notif.ErrNotificationGone)
	assert.Equal(t, "secret", string(page[:6]), "no write after a failed check")

	assert.Equal(t, []uint64{77, 77, 77}, v.Calls())

	// The error of a real notifier also matches ENOENT.
	f := notif.NewFake()
	p = mem.Process{Pid: os.Getpid(), ID: 12345, Valid: f}
	_, err = p.Read(addr, 6)
	assert.ErrorIs(t, err, notif.ErrNotificationGone)
	assert.ErrorIs(t, err, unix.ENOENT)
	id := f.Push(notif.Notif{})
	p.ID = id
	got, err = p.Read(addr, 6)
	require.NoError(t, err)
	assert.Equal(t, "secret", string(got))
}

func TestNoSuchProcess(t *testing.T) {
	const noPid = 1 << 30 // above any pid_max
	p := mem.Process{Pid: noPid, ID: 1}
	_, err := p.Read(0x10000, 8)
	assert.ErrorIs(t, err, notif.ErrNotificationGone)
	assert.ErrorIs(t, err, unix.ESRCH)
	_, err = p.ReadCString(0x10000, 8)
	assert.ErrorIs(t, err, notif.ErrNotificationGone)
	assert.ErrorIs(t, p.Write(0x10000, []byte("x")), notif.ErrNotificationGone)
}

func TestReadCString(t *testing.T) {
	page := mapped(t, 1)
	v := &validator{}
	p := self(v)
	put := func(off int, s string) uint64 {
		copy(page[off:], s)
		return addrOf(page) + uint64(off)
	}
	for _, tc := range []struct {
		name string
		at   uint64
		max  int
		want string
	}{
		{"simple", put(0, "/etc/passwd\x00junk"), 4096, "/etc/passwd"},
		{"empty", put(100, "\x00abc"), 4096, ""},
		{"empty max 0", put(100, "\x00abc"), 0, ""},
		{"exactly max", put(200, "abcdefgh\x00"), 8, "abcdefgh"},
		{"utf-8 and high bytes", put(300, "h\xc3\xa9\xff\x01\x00"), 64, "h\xc3\xa9\xff\x01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := p.ReadCString(tc.at, tc.max)
			require.NoError(t, err)
			assert.Equal(t, tc.want, s)
		})
	}
	assert.Len(t, v.Calls(), 5, "one ID_VALID check per string")
}

func TestReadCStringTooLong(t *testing.T) {
	page := mapped(t, 1)
	copy(page, "abcdefghi\x00")
	addr := addrOf(page)
	for _, max := range []int{0, 1, 8} {
		s, err := self(nil).ReadCString(addr, max)
		require.Error(t, err, "max %d", max)
		assert.ErrorIs(t, err, mem.ErrTooLong)
		assert.ErrorIs(t, err, unix.ENAMETOOLONG)
		assert.NotErrorIs(t, err, mem.ErrFault)
		assert.Empty(t, s)
	}
	s, err := self(nil).ReadCString(addr, 9)
	require.NoError(t, err)
	assert.Equal(t, "abcdefghi", s)
}

// Long strings span several reads and pages.
func TestReadCStringLong(t *testing.T) {
	pages := mapped(t, 3)
	want := strings.Repeat("x/", pageSize) // two pages
	copy(pages[10:], want+"\x00")
	s, err := self(nil).ReadCString(addrOf(pages)+10, len(want))
	require.NoError(t, err)
	assert.Equal(t, want, s)

	_, err = self(nil).ReadCString(addrOf(pages)+10, len(want)-1)
	assert.ErrorIs(t, err, mem.ErrTooLong)
}

// A string at the very end of the mapping: the reader must not touch the
// unmapped page after the terminator.
func TestReadCStringAtEndOfMapping(t *testing.T) {
	page := mapped(t, 1)
	end := addrOf(page) + uint64(pageSize)
	p := self(nil)

	copy(page[pageSize-6:], "hello\x00")
	s, err := p.ReadCString(end-6, 4096)
	require.NoError(t, err, "NUL is the last mapped byte")
	assert.Equal(t, "hello", s)

	page[pageSize-1] = 0
	s, err = p.ReadCString(end-1, 4096)
	require.NoError(t, err, "empty string in the last byte")
	assert.Equal(t, "", s)

	copy(page[pageSize-6:], "hello!")
	s, err = p.ReadCString(end-6, 4096)
	requireFault(t, err)
	assert.NotErrorIs(t, err, mem.ErrTooLong)
	assert.Empty(t, s)

	// With max short of the hole, the reader stops before it: too long,
	// not a fault.
	_, err = p.ReadCString(end-6, 4)
	assert.ErrorIs(t, err, mem.ErrTooLong)
	assert.NotErrorIs(t, err, mem.ErrFault)
	// max+1 bytes end exactly at the hole: still too long.
	_, err = p.ReadCString(end-6, 5)
	assert.ErrorIs(t, err, mem.ErrTooLong)
	// One more and the reader needs the hole.
	_, err = p.ReadCString(end-6, 6)
	requireFault(t, err)

	s, err = p.ReadCString(end, 4096)
	requireFault(t, err)
	assert.Empty(t, s)
	requireHole(t, end)
}

func TestReadCStringBadPointers(t *testing.T) {
	p := self(&validator{})
	for _, tc := range []struct {
		name string
		addr uint64
	}{
		{"NULL", 0},
		{"kernel half", kernelHalf},
		{"last page", 0xfffffffffffff000},
		{"last byte", 0xffffffffffffffff},
		{"low unmapped", 4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := p.ReadCString(tc.addr, 4096)
			requireFault(t, err)
			assert.Empty(t, s)
		})
	}
	assert.Empty(t, p.Valid.(*validator).Calls(), "a failed read is not followed by a check")
}

func TestRawNoCheck(t *testing.T) {
	page := mapped(t, 1)
	copy(page, "raw\x00")
	s, err := mem.ReadCStringRaw(os.Getpid(), addrOf(page), 10)
	require.NoError(t, err)
	assert.Equal(t, "raw", s)
	buf := make([]byte, 3)
	require.NoError(t, mem.ReadRaw(os.Getpid(), addrOf(page), buf))
	assert.Equal(t, "raw", string(buf))
	require.NoError(t, mem.WriteRaw(os.Getpid(), addrOf(page), []byte("RAW")))
	assert.Equal(t, "RAW", string(page[:3]))
	requireFault(t, mem.ReadRaw(os.Getpid(), 0, buf))
	assert.NoError(t, mem.ReadRaw(os.Getpid(), 0, nil), "nothing to read")
}

func TestErrorsAreDistinct(t *testing.T) {
	errs := []error{mem.ErrFault, mem.ErrTooLong, mem.ErrTooLarge}
	for i, a := range errs {
		for j, b := range errs {
			assert.Equal(t, i == j, errors.Is(a, b))
		}
	}
}
