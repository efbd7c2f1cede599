package mem_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/sandlock-go/sandlock-go/mem"
)

// referenceCString is what ReadCString must return for a string that starts
// at region[0] when region is followed by unmapped memory.
func referenceCString(region []byte, max int) (string, error) {
	if i := bytes.IndexByte(region, 0); i >= 0 && i <= max {
		return string(region[:i]), nil
	}
	if len(region) > max {
		return "", mem.ErrTooLong // max+1 readable bytes without a NUL
	}
	return "", mem.ErrFault // ran into the hole first
}

// FuzzReadCString places data at a random distance before a hole (an
// unmapped page after two mapped ones), fills the gap up to the hole with
// non-NUL bytes, and compares ReadCString from the start of data with a
// reference. back is the distance from the end of data to the hole.
func FuzzReadCString(f *testing.F) {
	f.Add([]byte("hello\x00"), uint16(0), uint16(4096))
	f.Add([]byte("hello"), uint16(0), uint16(4096))
	f.Add([]byte("hello"), uint16(3), uint16(4096))
	f.Add([]byte("hello"), uint16(0), uint16(4))
	f.Add([]byte("abc\x00def"), uint16(100), uint16(3))
	f.Add([]byte{}, uint16(0), uint16(0))

	pages := mapped(f, 2)
	hole := addrOf(pages) + uint64(len(pages))
	p := mem.Process{Pid: os.Getpid(), ID: 1}
	f.Fuzz(func(t *testing.T, data []byte, back uint16, max16 uint16) {
		if len(data) > len(pages) {
			data = data[:len(pages)]
		}
		room := len(pages) - len(data) // bytes available for the gap
		gap := int(back) % (room + 1)
		start := room - gap
		for i := range pages {
			pages[i] = 'A'
		}
		copy(pages[start:], data)
		max := int(max16)

		want, wantErr := referenceCString(pages[start:], max)
		got, err := p.ReadCString(addrOf(pages)+uint64(start), max)
		if isMapped(hole) {
			t.Skip("something was mapped at the hole; no reference answer")
		}
		if wantErr != nil {
			if !errors.Is(err, wantErr) {
				t.Fatalf("start %d (%d before hole), max %d: got %q, %v; want error %v", start, len(pages)-start, max, got, err, wantErr)
			}
			if got != "" {
				t.Fatalf("got %q with error %v", got, err)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("start %d (%d before hole), max %d: got %q, %v; want %q", start, len(pages)-start, max, got, err, want)
		}
	})
}
