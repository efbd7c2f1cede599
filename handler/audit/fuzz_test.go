package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// FuzzDecode decodes random arguments of a syscall "trapped" in this
// process: no panic, the JSON line is valid and keeps every decoded field,
// and the text is one line.
//
// name picks the syscall (a native name; otherwise nr is the number, which
// may be unknown). Bit i of ptrs (0..5) points argument i into data
// instead (at offset args[i] mod len+1); bits 6 and 7 point arguments 1
// and 2 at a NULL-terminated pointer array into data (argv, envp).
func FuzzDecode(f *testing.F) {
	f.Add("openat", uint16(0), uint64(0xffffffffffffff9c), uint64(0), uint64(0x80000), uint64(0), uint64(0), uint64(0), uint8(0b10), []byte("/etc/hostname\x00"))
	f.Add("execve", uint16(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint8(0b11000001), []byte("cat\x00x\x00"))
	f.Add("connect", uint16(0), uint64(3), uint64(0), uint64(16), uint64(0), uint64(0), uint64(0), uint8(0b10), []byte("\x02\x00\x1f\x90\x7f\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add("getuid", uint16(0), uint64(1), uint64(2), uint64(3), uint64(4), uint64(5), uint64(6), uint8(0), []byte(nil))
	f.Add("", uint16(9999), uint64(1), uint64(2), uint64(3), uint64(4), uint64(5), uint64(6), uint8(0xff), []byte{0})
	f.Fuzz(func(t *testing.T, name string, nr uint16, a0, a1, a2, a3, a4, a5 uint64, ptrs uint8, data []byte) {
		arch := syscalls.Native()
		num, err := arch.Number(name)
		if err != nil {
			num = int(nr)
		}
		args := [6]uint64{a0, a1, a2, a3, a4, a5}
		buf := append(bytes.Clone(data), 0) // at least one byte to point at
		base := addrOf(buf)
		for i := range args {
			if ptrs&(1<<i) != 0 {
				args[i] = base + args[i]%uint64(len(buf))
			}
		}
		arr := make([]byte, 8*17)
		for k := 0; k < 16 && k < len(data); k++ {
			binary.NativeEndian.PutUint64(arr[k*8:], base+uint64(data[k])%uint64(len(buf)))
		}
		if ptrs&(1<<6) != 0 {
			args[1] = addrOf(arr)
		}
		if ptrs&(1<<7) != 0 {
			args[2] = addrOf(arr)
		}

		c := ctxNr(num, args)
		fs := Decode(c) // a panic fails the test
		r := NewRecord(time.Unix(1, 0), c, handler.Continue(), time.Microsecond)
		check(t, r.DecodeError == "", "decode error %q", r.DecodeError)
		runtime.KeepAlive(buf)
		runtime.KeepAlive(arr)

		line := r.AppendJSON(nil)
		check(t, json.Valid(line), "invalid JSON %q", line)
		check(t, bytes.Count(line, []byte("\n")) == 1 && line[len(line)-1] == '\n', "JSON not one line: %q", line)
		var m struct {
			Decoded map[string]json.RawMessage `json:"decoded"`
		}
		check(t, json.Unmarshal(line, &m) == nil, "cannot decode %q", line)
		check(t, len(m.Decoded) == len(fs), "decoded has %d keys, want %d: %q", len(m.Decoded), len(fs), line)

		txt := r.AppendText(nil)
		check(t, bytes.Count(txt, []byte("\n")) == 1 && txt[len(txt)-1] == '\n', "text not one line: %q", txt)
	})
}

func check(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}
