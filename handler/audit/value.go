package audit

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
)

// Field is one decoded argument: its name in the syscall's signature
// ("dirfd", "path", "flags") and its value, one of
//
//	string   a string read from the process: quoted in text, a JSON string
//	Sym      a name, flag set, number in a fixed notation or pointer: bare
//	         in text ("AT_FDCWD", "O_RDONLY|O_CLOEXEC", "0644", "NULL"), a
//	         JSON string
//	int64    a number (fds, counts, sizes): a JSON number
//	List     a string list (execve's argv)
//	Fields   a structure (a sockaddr, struct open_how, struct clone_args):
//	         {name=value, ...} in text, a JSON object
//	Unread   a pointer whose target could not be read
//	VarCount the number of environment variables of an exec
type Field struct {
	Name  string
	Value any
}

// Sym is a value shown as it is: a symbolic name, a flag set, an octal mode
// or a pointer.
type Sym string

// List is a list of strings read from the process. Truncated means that
// the list was cut short (too many or too long entries, or an entry that
// could not be read): the JSON array then ends with the string "...".
type List struct {
	Items     []string
	Truncated bool
}

// Unread is a pointer argument whose target could not be read; Err is
// short: an errno name such as "EFAULT" when there is one.
type Unread struct {
	Addr uint64
	Err  string
}

// VarCount is the number of entries of an environment array.
type VarCount int64

// Fields is an ordered list of decoded arguments; it encodes as a JSON
// object with the keys in order.
type Fields []Field

// Get returns the value of the named field.
func (fs Fields) Get(name string) (any, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// MarshalJSON encodes the fields as one object, in order.
func (fs Fields) MarshalJSON() ([]byte, error) {
	return appendFieldsJSON(nil, fs), nil
}

func appendFieldsJSON(b []byte, fs Fields) []byte {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.Name)
		b = append(b, ':')
		b = appendValueJSON(b, f.Value)
	}
	return append(b, '}')
}

func appendValueJSON(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return appendJSONString(b, v)
	case Sym:
		return appendJSONString(b, string(v))
	case int64:
		return strconv.AppendInt(b, v, 10)
	case VarCount:
		return strconv.AppendInt(b, int64(v), 10)
	case List:
		b = append(b, '[')
		for i, s := range v.Items {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		if v.Truncated {
			if len(v.Items) > 0 {
				b = append(b, ',')
			}
			b = append(b, `"..."`...)
		}
		return append(b, ']')
	case Fields:
		return appendFieldsJSON(b, v)
	case Unread:
		b = append(b, `{"addr":`...)
		b = appendJSONString(b, hex(v.Addr))
		b = append(b, `,"error":`...)
		b = appendJSONString(b, v.Err)
		return append(b, '}')
	}
	return append(b, "null"...)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as with encoding/json.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string never fails
	return append(b, q...)
}

// appendFieldsText appends "v1, v2, ..." for the arguments of a call.
func appendFieldsText(b []byte, fs Fields) []byte {
	for i, f := range fs {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendValueText(b, f.Value)
	}
	return b
}

func appendValueText(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return strconv.AppendQuote(b, v)
	case Sym:
		return append(b, v...)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case VarCount:
		b = append(b, "/* "...)
		b = strconv.AppendInt(b, int64(v), 10)
		return append(b, " vars */"...)
	case List:
		b = append(b, '[')
		for i, s := range v.Items {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = strconv.AppendQuote(b, s)
		}
		if v.Truncated {
			if len(v.Items) > 0 {
				b = append(b, ", "...)
			}
			b = append(b, "..."...)
		}
		return append(b, ']')
	case Fields:
		b = append(b, '{')
		for i, f := range v {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, f.Name...)
			b = append(b, '=')
			b = appendValueText(b, f.Value)
		}
		return append(b, '}')
	case Unread:
		b = append(b, hex(v.Addr)...)
		b = append(b, " /* "...)
		b = append(b, v.Err...)
		return append(b, " */"...)
	}
	return append(b, '?')
}

func hex(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

// ptr shows a pointer: NULL or hex.
func ptr(v uint64) Sym {
	if v == 0 {
		return "NULL"
	}
	return Sym(hex(v))
}

// shortError names a read error briefly: an errno name, "gone" when the
// task died or its syscall was interrupted, "expired" after the handler
// returned.
func shortError(err error) string {
	switch {
	case errors.Is(err, notif.ErrNotificationGone):
		return "gone"
	case errors.Is(err, handler.ErrExpired):
		return "expired"
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
	}
	// Keep one line.
	return strings.ReplaceAll(err.Error(), "\n", " ")
}
