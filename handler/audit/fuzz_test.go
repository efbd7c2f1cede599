package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

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
		checkPrintable(t, txt)
	})
}

// checkPrintable fails unless the text line is valid UTF-8 without a
// control character but its final newline: what a child wrote cannot
// drive the terminal that shows the trace.
func checkPrintable(t *testing.T, line []byte) {
	t.Helper()
	body := line[:len(line)-1]
	check(t, utf8.Valid(body) && !bytes.ContainsFunc(body, unicode.IsControl), "text line not escaped: %q", line)
}

// FuzzFormat formats records whose strings a child chose (a path, argv
// entries, decoded string fields) and the supervisor's error texts: the
// JSON line is one valid line that keeps every string (invalid UTF-8 as
// U+FFFD, as encoding/json does), and the strace-style line is one line
// that escapes every control byte. NUL splits list into argv entries.
func FuzzFormat(f *testing.F) {
	f.Fuzz(func(t *testing.T, pid int, path, list, str, errText string, truncated bool, latency int64) {
		if len(path)+len(list)+len(str)+len(errText) > 1<<16 {
			return
		}
		items := strings.Split(list, "\x00")
		r := &Record{
			Time: time.Unix(0, latency).UTC(), Pid: pid, Syscall: "execve", Nr: 59,
			Decoded: Fields{
				{"pathname", str},
				{"argv", List{Items: items, Truncated: truncated}},
				{"envp", VarCount(latency)},
				{"how", Fields{{"flags", Sym("O_RDONLY")}, {"name", str}, {"list", List{Items: items}}}},
				{"buf", Unread{Addr: uint64(latency), Err: errText}},
				{"fd", int64(pid)},
			},
			Path: path, PathError: errText, DecodeError: errText, Action: "continue", LatencyNS: latency,
		}
		line := r.AppendJSON(nil)
		check(t, json.Valid(line), "invalid JSON %q", line)
		check(t, bytes.Count(line, []byte("\n")) == 1 && line[len(line)-1] == '\n', "JSON not one line: %q", line)
		var m struct {
			Pid       int    `json:"pid"`
			Path      string `json:"path"`
			PathError string `json:"path_error"`
			Decoded   struct {
				Pathname string   `json:"pathname"`
				Argv     []string `json:"argv"`
				Buf      struct {
					Error string `json:"error"`
				} `json:"buf"`
			} `json:"decoded"`
		}
		check(t, json.Unmarshal(line, &m) == nil, "cannot decode %q", line)
		valid := func(s string) string { // what encoding/json makes of s
			q, _ := json.Marshal(s)
			var out string
			_ = json.Unmarshal(q, &out)
			return out
		}
		check(t, m.Pid == pid && m.Path == valid(path) && m.PathError == valid(errText) &&
			m.Decoded.Pathname == valid(str) && m.Decoded.Buf.Error == valid(errText), "fields changed: %q", line)
		wantArgv := len(items)
		if truncated {
			wantArgv++
		}
		check(t, len(m.Decoded.Argv) == wantArgv, "argv has %d entries, want %d: %q", len(m.Decoded.Argv), wantArgv, line)
		for i, it := range items {
			check(t, m.Decoded.Argv[i] == valid(it), "argv[%d] = %q, want %q", i, m.Decoded.Argv[i], it)
		}

		r.Decoded[4].Value = Unread{Addr: uint64(latency), Err: "EFAULT"} // the text shows Err as it is: an errno name
		txt := r.AppendText(nil)
		check(t, bytes.Count(txt, []byte("\n")) == 1 && txt[len(txt)-1] == '\n', "text not one line: %q", txt)
		checkPrintable(t, txt)
	})
}

func check(t *testing.T, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		t.Fatalf(format, args...)
	}
}
