package audit

import (
	"encoding/binary"
	"errors"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	sockaddrs "github.com/sandlock-go/sandlock-go/handler/internal/sockaddr"
	"github.com/sandlock-go/sandlock-go/mem"
	"github.com/sandlock-go/sandlock-go/syscalls"
	"github.com/sandlock-go/sandlock-go/syscalls/args"
)

// kind says how to decode one argument: the kind of the syscall-argument
// model (package syscalls/args).
type kind = args.Kind

// The kinds the decoder shows in their own way; the others show as a
// pointer, a number or hex (see decodeArg).
const (
	kHex         = args.Hex
	kPtr         = args.Ptr
	kInt         = args.Int
	kLong        = args.Long
	kUint        = args.Uint
	kFd          = args.Fd
	kDirfd       = args.Dirfd
	kPath        = args.Path
	kOpenFlags   = args.OpenFlags
	kCreateMode  = args.CreateMode
	kMode        = args.Mode
	kAtFlags     = args.AtFlags
	kUnlinkFlags = args.UnlinkFlags
	kAccessFlags = args.AccessFlags
	kAccessMode  = args.AccessMode
	kRenameFlags = args.RenameFlags
	kOpenHow     = args.OpenHow
	kArgv        = args.Argv
	kEnvp        = args.Envp
	kCloneFlags  = args.CloneFlags
	kCloneArgs   = args.CloneArgs
	kSignal      = args.Signal
	kFamily      = args.Family
	kSockType    = args.SockType
	kSockFlags   = args.SockFlags
	kSockaddr    = args.Sockaddr
	kMsgFlags    = args.MsgFlags
	kShutdownHow = args.ShutdownHow
)

// argSpec is one argument of a syscall's signature.
type argSpec struct {
	name string
	kind kind
	aux  int // index of the related argument (length, flags, dirfd)
}

// byArch are the signatures of each arch, from the model: every syscall
// args.Names lists is decoded, argument by argument. Built on first use, not
// at start-up: every process of a program importing this package pays for
// its initializers, the sandbox's re-executed helper included.
var byArch = sync.OnceValue(func() map[*syscalls.Arch]map[string][]argSpec {
	m := map[*syscalls.Arch]map[string][]argSpec{}
	for _, arch := range syscalls.Arches() {
		m[arch] = map[string][]argSpec{}
		for _, name := range args.Names(arch) {
			l, _ := args.Of(arch, name)
			spec := make([]argSpec, len(l.Args))
			for i, a := range l.Args {
				spec[i] = argSpec{name: a.Name, kind: a.Kind, aux: a.Rel}
			}
			m[arch][name] = spec
		}
	}
	return m
})

// signatures are the decoded syscalls of any arch, by name; where the
// arguments depend on the arch (clone), x86_64's. Decode uses the
// notification's arch (see signature). Built on first use.
var signatures = sync.OnceValue(func() map[string][]argSpec {
	m := map[string][]argSpec{}
	for _, arch := range syscalls.Arches() {
		for name, spec := range byArch()[arch] {
			if _, ok := m[name]; !ok {
				m[name] = spec
			}
		}
	}
	return m
})

func signature(name string, arch *syscalls.Arch) ([]argSpec, bool) {
	s, ok := byArch()[arch][name]
	return s, ok
}

// Decoded reports whether the named syscall's arguments are decoded (the
// others are recorded raw only) on some arch.
func Decoded(name string) bool {
	_, ok := signatures()[name]
	return ok
}

// Bounds of what Decode reads from the process.
const (
	// MaxArgs is the most argv entries read; MaxArgLen the most bytes of
	// one entry; MaxArgBytes the most bytes of all entries together.
	MaxArgs     = 256
	MaxArgLen   = 4096
	MaxArgBytes = 64 << 10
	// MaxEnv is the most environment entries counted.
	MaxEnv = 4096
)

// Decode decodes the arguments of c's syscall by its signature: paths and
// argv read from the process, flags and modes by name, sockaddrs. It
// returns nil for a syscall without a known signature. c must be live
// (inside a handler or Observe). What it reads may change afterwards: it is
// a record of what was asked.
func Decode(c *handler.Ctx) Fields {
	spec, ok := signature(c.SyscallName(), c.Arch())
	if !ok {
		return nil
	}
	raw := c.Args()
	fs := make(Fields, 0, len(spec))
	for i, s := range spec {
		if s.kind == kCreateMode && !creates(raw[s.aux]) {
			continue // the kernel ignores the mode
		}
		fs = append(fs, Field{Name: s.name, Value: decodeArg(c, s, raw[i], raw)})
	}
	return fs
}

func decodeArg(c *handler.Ctx, s argSpec, v uint64, raw [6]uint64) any {
	switch s.kind {
	case kPtr, args.Buffer, args.SockaddrOut, args.Msghdr, args.MsghdrOut, args.Mmsghdr, args.MmsghdrOut,
		args.XattrArgs, args.MountAttr, args.FileAttr, args.FileHandle:
		return ptr(v)
	case kInt, args.Pid, args.Uid, args.Gid:
		return int64(int32(v))
	case kLong:
		return int64(v)
	case kUint:
		return Sym(strconv.FormatUint(v, 10))
	case kFd:
		return int64(int32(v))
	case kDirfd:
		if int32(v) == unix.AT_FDCWD {
			return Sym("AT_FDCWD")
		}
		return int64(int32(v))
	case kPath, args.LinkTarget, args.String:
		if v == 0 {
			return Sym("NULL")
		}
		p, err := c.ReadCString(v, handler.PathMax)
		if err != nil {
			return Unread{Addr: v, Err: shortError(err)}
		}
		return p
	case kOpenFlags:
		return Sym(openFlags(v & 0xffffffff))
	case kMode, kCreateMode:
		return mode(v & 0xffffffff)
	case kAtFlags:
		return Sym(flagString(v&0xffffffff, atFlagNames))
	case kUnlinkFlags:
		return Sym(flagString(v&0xffffffff, unlinkFlagNames))
	case kAccessFlags:
		return Sym(flagString(v&0xffffffff, accessFlagNames))
	case kAccessMode:
		return Sym(accessMode(v & 0xffffffff))
	case kRenameFlags:
		return Sym(flagString(v&0xffffffff, renameFlagNames))
	case kOpenHow:
		return openHow(c, v, raw[s.aux])
	case kArgv:
		return argv(c, v)
	case kEnvp:
		return envCount(c, v)
	case kCloneFlags:
		return Sym(cloneFlags(v))
	case kCloneArgs:
		return cloneArgs(c, v, raw[s.aux])
	case kSignal:
		return Sym(signal(v & 0xffffffff))
	case kFamily:
		return Sym(family(v & 0xffffffff))
	case kSockType:
		return Sym(sockType(v & 0xffffffff))
	case kSockFlags:
		return Sym(flagString(v&0xffffffff, sockFlagNames))
	case kSockaddr:
		return sockaddr(c, v, raw[s.aux])
	case kMsgFlags:
		return Sym(flagString(v&0xffffffff, msgFlagNames))
	case kShutdownHow:
		return Sym(shutdownHow(v & 0xffffffff))
	}
	return Sym(hex(v))
}

// sizeofOpenHow is the size of struct open_how the kernel first shipped.
const sizeofOpenHow = 24

func openHow(c *handler.Ctx, addr, size uint64) any {
	if addr == 0 || size < sizeofOpenHow {
		return ptr(addr)
	}
	b, err := c.Read(addr, sizeofOpenHow)
	if err != nil {
		return Unread{Addr: addr, Err: shortError(err)}
	}
	flags := binary.NativeEndian.Uint64(b[0:])
	fs := Fields{{"flags", Sym(openFlags(flags))}}
	if m := binary.NativeEndian.Uint64(b[8:]); creates(flags) || m != 0 {
		fs = append(fs, Field{"mode", mode(m)})
	}
	return append(fs, Field{"resolve", Sym(flagString(binary.NativeEndian.Uint64(b[16:]), resolveFlagNames))})
}

// cloneArgsFlagsSize covers struct clone_args up to exit_signal.
const cloneArgsFlagsSize = 40

func cloneArgs(c *handler.Ctx, addr, size uint64) any {
	if addr == 0 || size < cloneArgsFlagsSize {
		return ptr(addr)
	}
	b, err := c.Read(addr, cloneArgsFlagsSize)
	if err != nil {
		return Unread{Addr: addr, Err: shortError(err)}
	}
	return Fields{
		{"flags", Sym(clone3Flags(binary.NativeEndian.Uint64(b[0:])))},
		{"exit_signal", Sym(signal(binary.NativeEndian.Uint64(b[32:])))},
	}
}

// pointers reads the NULL-terminated pointer array at addr, at most max
// entries, a page at a time so that it never reads past the page holding
// the terminator. more reports that the array went on.
func pointers(c *handler.Ctx, addr uint64, max int) (ptrs []uint64, more bool, err error) {
	const page = 4096
	for cur := addr; len(ptrs) < max; {
		n := int((page - cur%page) / 8)
		if n == 0 { // a misaligned pointer straddles the page end
			n = 1
		}
		if left := max - len(ptrs); n > left {
			n = left
		}
		b, err := c.Read(cur, n*8)
		if err != nil {
			return ptrs, false, err
		}
		for i := 0; i < n; i++ {
			p := binary.NativeEndian.Uint64(b[i*8:])
			if p == 0 {
				return ptrs, false, nil
			}
			ptrs = append(ptrs, p)
		}
		next := cur + uint64(n*8)
		if next < cur {
			return ptrs, false, mem.ErrFault
		}
		cur = next
	}
	return ptrs, true, nil
}

func argv(c *handler.Ctx, addr uint64) any {
	if addr == 0 {
		return Sym("NULL")
	}
	ptrs, more, err := pointers(c, addr, MaxArgs)
	if err != nil && len(ptrs) == 0 {
		return Unread{Addr: addr, Err: shortError(err)}
	}
	l := List{Items: make([]string, 0, len(ptrs)), Truncated: more || err != nil}
	total := 0
	for _, p := range ptrs {
		s, err := c.ReadCString(p, MaxArgLen)
		if errors.Is(err, mem.ErrTooLong) {
			var b []byte
			if b, err = c.Read(p, MaxArgLen); err == nil {
				s = string(b) + "..."
			}
		}
		if err != nil || total+len(s) > MaxArgBytes {
			l.Truncated = true
			break
		}
		total += len(s)
		l.Items = append(l.Items, s)
	}
	return l
}

func envCount(c *handler.Ctx, addr uint64) any {
	if addr == 0 {
		return Sym("NULL")
	}
	ptrs, _, err := pointers(c, addr, MaxEnv)
	if err != nil && len(ptrs) == 0 {
		return Unread{Addr: addr, Err: shortError(err)}
	}
	return VarCount(len(ptrs))
}

// sockaddr decodes the address of connect, bind or sendto.
func sockaddr(c *handler.Ctx, addr, size uint64) any {
	if addr == 0 {
		return Sym("NULL")
	}
	if size < 2 {
		return ptr(addr)
	}
	if size > sockaddrs.Max {
		size = sockaddrs.Max
	}
	raw, err := c.Read(addr, int(size))
	if err != nil {
		return Unread{Addr: addr, Err: shortError(err)}
	}
	return decodeSockaddr(raw)
}

// decodeSockaddr decodes a sockaddr of at least 2 bytes: the family and,
// for inet, inet6 and unix, the address ("127.0.0.1:80", "[::1]:80", a
// path, or "@name" for an abstract unix socket).
func decodeSockaddr(raw []byte) Fields {
	fam := sockaddrs.Family(raw)
	fs := Fields{{"family", Sym(family(uint64(fam)))}}
	if ap, ok := sockaddrs.Inet(raw); ok {
		return append(fs, Field{"address", ap.String()})
	}
	if fam == unix.AF_UNIX {
		fs = append(fs, Field{"address", sockaddrs.String(raw)})
	}
	return fs
}
