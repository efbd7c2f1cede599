package audit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/sandlock-go/sandlock-go/handler"
)

// Record is one trapped syscall: one line of the log.
type Record struct {
	Time    time.Time `json:"time"`
	Pid     int       `json:"pid"`
	Syscall string    `json:"syscall"`
	Nr      int       `json:"nr"`
	// Args are the six raw arguments in hex ("0x1b"): 64-bit values do
	// not fit a JSON number exactly.
	Args [6]string `json:"args"`
	// Decoded are the arguments by the syscall's signature (see Decode);
	// empty for syscalls without one.
	Decoded Fields `json:"decoded,omitempty"`
	// DecodeError replaces Decoded when decoding failed unexpectedly.
	DecodeError string `json:"decode_error,omitempty"`
	// Path is the path argument of the syscalls of PathArg, made absolute
	// by handler.Ctx.ReadPath; PathError replaces it when it could not
	// be read.
	Path      string `json:"path,omitempty"`
	PathError string `json:"path_error,omitempty"`
	// Action is the answer, handler.Action.String(); empty when recorded
	// by Handle, before the chain decided.
	Action string `json:"action,omitempty"`
	// LatencyNS is the time the handlers took (0 from Handle).
	LatencyNS int64 `json:"latency_ns"`
}

// NewRecord builds the record of one syscall. c must be live to read the
// arguments; a is the answer (the zero Action when not known yet).
func NewRecord(t time.Time, c *handler.Ctx, a handler.Action, latency time.Duration) *Record {
	r := &Record{
		Time:      t.UTC(),
		Pid:       c.Pid(),
		Syscall:   c.SyscallName(),
		Nr:        c.Syscall(),
		LatencyNS: latency.Nanoseconds(),
	}
	if a.Kind() != 0 {
		r.Action = a.String()
	}
	for i, v := range c.Args() {
		r.Args[i] = hex(v)
	}
	r.Decoded, r.DecodeError = safeDecode(c)
	if i, ok := PathArg(r.Syscall); ok {
		if p, err := c.ReadPath(i); err != nil {
			r.PathError = err.Error()
		} else {
			r.Path = p
		}
	}
	return r
}

// safeDecode is Decode that turns a panic (a bug) into an error: a
// recorder must not take the supervisor down.
func safeDecode(c *handler.Ctx) (fs Fields, errText string) {
	defer func() {
		if p := recover(); p != nil {
			fs, errText = nil, fmt.Sprintf("decode %s: panic: %v", c.SyscallName(), p)
		}
	}()
	return Decode(c), ""
}

// AppendJSON appends r as one JSON line.
func (r *Record) AppendJSON(b []byte) []byte {
	line, err := json.Marshal(r)
	if err != nil { // cannot happen: every field encodes
		line = []byte(`{"decode_error":` + strconv.Quote(err.Error()) + `}`)
	}
	b = append(b, line...)
	return append(b, '\n')
}

// AppendText appends r as one strace-like line:
//
//	[pid 1234] openat(AT_FDCWD, "/etc/hostname", O_RDONLY|O_CLOEXEC) = continue
//
// Syscalls without a signature show their six raw arguments; a record
// without an action ends in "= ?".
func (r *Record) AppendText(b []byte) []byte {
	b = append(b, "[pid "...)
	b = strconv.AppendInt(b, int64(r.Pid), 10)
	b = append(b, "] "...)
	b = append(b, r.Syscall...)
	b = append(b, '(')
	switch {
	case len(r.Decoded) > 0 || (Decoded(r.Syscall) && r.DecodeError == ""):
		b = appendFieldsText(b, r.Decoded)
	default:
		for i, s := range r.Args {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, s...)
		}
	}
	b = append(b, ") = "...)
	if r.Action == "" {
		b = append(b, '?')
	} else {
		b = append(b, r.Action...)
	}
	return append(b, '\n')
}

// Format is the encoding of a Recorder's lines.
type Format uint8

const (
	// JSON writes one JSON object per line (Record's fields).
	JSON Format = iota
	// Text writes strace-like lines (Record.AppendText).
	Text
)

// Options tune a Recorder. A nil *Options means the defaults.
type Options struct {
	// Format of the lines; JSON by default.
	Format Format
	// FlushEach writes each record out as it comes, for a live log. By
	// default records wait in a buffer until it fills, Flush or Close.
	FlushEach bool
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

// ErrClosed is returned by a Recorder's writes after Close.
var ErrClosed = errors.New("audit: recorder closed")

// Recorder writes one line per syscall to an io.Writer through a buffer. It
// is safe for concurrent use. Use it in one of two places:
//
//   - as handler.Options.Observe (the Observe method): it sees every
//     trapped syscall after its chain decided, with the final action and
//     the handlers' latency;
//   - as a Handler in a chain (the Handle method): it records the syscall
//     when the chain reaches it and answers Continue, so the next handler
//     decides; the record has no action.
//
// A write error is kept: later records are dropped and Flush, Close and Err
// return it.
type Recorder struct {
	format    Format
	flushEach bool
	now       func() time.Time

	mu     sync.Mutex
	buf    *bufio.Writer
	err    error
	closed bool
}

// New returns a Recorder writing to w. It does not close w.
func New(w io.Writer, opts *Options) *Recorder {
	r := &Recorder{buf: bufio.NewWriter(w), now: time.Now}
	if opts != nil {
		r.format, r.flushEach = opts.Format, opts.FlushEach
		if opts.Now != nil {
			r.now = opts.Now
		}
	}
	return r
}

var (
	_ handler.Handler       = (*Recorder)(nil)
	_ handler.PolicyHandler = (*Recorder)(nil)
)

// Observe records one answered syscall; it has the signature of
// handler.Options.Observe, which calls it while c is live. It reads what it
// needs from the task's memory now, and formats and writes the line after
// the answer (Ctx.AfterAnswer): the task does not wait for that.
func (r *Recorder) Observe(c *handler.Ctx, a handler.Action, latency time.Duration) {
	rec := NewRecord(r.now(), c, a, latency)
	c.AfterAnswer(func() { _ = r.Write(rec) })
}

// Handle records the syscall without an action and answers Continue.
func (r *Recorder) Handle(c *handler.Ctx) handler.Action {
	_ = r.Write(NewRecord(r.now(), c, handler.Action{}, 0))
	return handler.Continue()
}

// ExceptionPolicy is Continue: should recording ever fail, the chain goes
// on as if the Recorder were not there.
func (r *Recorder) ExceptionPolicy() handler.ExceptionPolicy { return handler.ExceptionContinue }

// Write appends rec as one line in the Recorder's format.
func (r *Recorder) Write(rec *Record) error {
	var line []byte
	if r.format == Text {
		line = rec.AppendText(nil)
	} else {
		line = rec.AppendJSON(nil)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.err != nil:
		return r.err
	case r.closed:
		return ErrClosed
	}
	// Flush before a line that does not fit, so that what reaches w is
	// whole lines: a log on stderr may share it with the program.
	if len(line) > r.buf.Available() && r.buf.Buffered() > 0 {
		if r.err = r.buf.Flush(); r.err != nil {
			return r.err
		}
	}
	if _, r.err = r.buf.Write(line); r.err == nil && r.flushEach {
		r.err = r.buf.Flush()
	}
	return r.err
}

// Flush writes out the buffer; it returns the Recorder's first write error.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil && !r.closed {
		r.err = r.buf.Flush()
	}
	return r.err
}

// Close flushes and stops the Recorder: later writes fail with ErrClosed
// (Observe and Handle drop their records). It does not close the
// underlying writer. Close is safe to call twice.
func (r *Recorder) Close() error {
	err := r.Flush()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return err
}

// Err returns the first write error, nil if none.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
