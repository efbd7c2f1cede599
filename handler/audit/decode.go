package audit

import (
	"encoding/binary"
	"errors"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	sockaddrs "github.com/sandlock-go/sandlock-go/handler/internal/sockaddr"
	"github.com/sandlock-go/sandlock-go/mem"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// kind says how to decode one argument.
type kind uint8

const (
	kHex         kind = iota // raw value in hex
	kPtr                     // pointer: NULL or hex
	kInt                     // C int: signed 32-bit
	kLong                    // signed 64-bit
	kUint                    // unsigned 64-bit (size_t, socklen_t)
	kFd                      // file descriptor
	kDirfd                   // fd or AT_FDCWD
	kPath                    // C string (NULL allowed)
	kOpenFlags               // O_*
	kCreateMode              // mode, only when the flags in argument aux create
	kMode                    // mode in octal
	kAtFlags                 // AT_*
	kUnlinkFlags             // AT_REMOVEDIR
	kAccessFlags             // AT_EACCESS, AT_*
	kAccessMode              // F_OK, R_OK|W_OK|X_OK
	kRenameFlags             // RENAME_*
	kOpenHow                 // struct open_how *, size in argument aux
	kArgv                    // char *const argv[]
	kEnvp                    // char *const envp[]: counted
	kCloneFlags              // CLONE_*|exit signal
	kCloneArgs               // struct clone_args *, size in argument aux
	kSignal                  // SIG*
	kFamily                  // AF_*
	kSockType                // SOCK_*
	kSockFlags               // SOCK_NONBLOCK|SOCK_CLOEXEC
	kSockaddr                // struct sockaddr *, length in argument aux
	kMsgFlags                // MSG_*
	kShutdownHow             // SHUT_*
)

// argSpec is one argument of a syscall's signature.
type argSpec struct {
	name string
	kind kind
	aux  int // index of the related argument (length, flags)
}

func a(name string, k kind) argSpec { return argSpec{name: name, kind: k} }

func ax(name string, k kind, aux int) argSpec { return argSpec{name: name, kind: k, aux: aux} }

// signatures are the syscalls decoded argument by argument; clone's depends
// on the arch (see cloneSignature). Others get their raw arguments only.
var signatures = map[string][]argSpec{
	// files
	"open":              {a("path", kPath), a("flags", kOpenFlags), ax("mode", kCreateMode, 1)},
	"openat":            {a("dirfd", kDirfd), a("path", kPath), a("flags", kOpenFlags), ax("mode", kCreateMode, 2)},
	"openat2":           {a("dirfd", kDirfd), a("path", kPath), ax("how", kOpenHow, 3), a("size", kUint)},
	"creat":             {a("path", kPath), a("mode", kMode)},
	"stat":              {a("path", kPath), a("statbuf", kPtr)},
	"lstat":             {a("path", kPath), a("statbuf", kPtr)},
	"fstat":             {a("fd", kFd), a("statbuf", kPtr)},
	"newfstatat":        {a("dirfd", kDirfd), a("path", kPath), a("statbuf", kPtr), a("flags", kAtFlags)},
	"statx":             {a("dirfd", kDirfd), a("path", kPath), a("flags", kAtFlags), a("mask", kHex), a("statxbuf", kPtr)},
	"statfs":            {a("path", kPath), a("buf", kPtr)},
	"fstatfs":           {a("fd", kFd), a("buf", kPtr)},
	"access":            {a("path", kPath), a("mode", kAccessMode)},
	"faccessat":         {a("dirfd", kDirfd), a("path", kPath), a("mode", kAccessMode)},
	"faccessat2":        {a("dirfd", kDirfd), a("path", kPath), a("mode", kAccessMode), a("flags", kAccessFlags)},
	"readlink":          {a("path", kPath), a("buf", kPtr), a("bufsiz", kUint)},
	"readlinkat":        {a("dirfd", kDirfd), a("path", kPath), a("buf", kPtr), a("bufsiz", kUint)},
	"unlink":            {a("path", kPath)},
	"unlinkat":          {a("dirfd", kDirfd), a("path", kPath), a("flags", kUnlinkFlags)},
	"rmdir":             {a("path", kPath)},
	"mkdir":             {a("path", kPath), a("mode", kMode)},
	"mkdirat":           {a("dirfd", kDirfd), a("path", kPath), a("mode", kMode)},
	"mknod":             {a("path", kPath), a("mode", kMode), a("dev", kHex)},
	"mknodat":           {a("dirfd", kDirfd), a("path", kPath), a("mode", kMode), a("dev", kHex)},
	"rename":            {a("oldpath", kPath), a("newpath", kPath)},
	"renameat":          {a("olddirfd", kDirfd), a("oldpath", kPath), a("newdirfd", kDirfd), a("newpath", kPath)},
	"renameat2":         {a("olddirfd", kDirfd), a("oldpath", kPath), a("newdirfd", kDirfd), a("newpath", kPath), a("flags", kRenameFlags)},
	"link":              {a("oldpath", kPath), a("newpath", kPath)},
	"linkat":            {a("olddirfd", kDirfd), a("oldpath", kPath), a("newdirfd", kDirfd), a("newpath", kPath), a("flags", kAtFlags)},
	"symlink":           {a("target", kPath), a("linkpath", kPath)},
	"symlinkat":         {a("target", kPath), a("newdirfd", kDirfd), a("linkpath", kPath)},
	"chdir":             {a("path", kPath)},
	"fchdir":            {a("fd", kFd)},
	"chroot":            {a("path", kPath)},
	"chmod":             {a("path", kPath), a("mode", kMode)},
	"fchmod":            {a("fd", kFd), a("mode", kMode)},
	"fchmodat":          {a("dirfd", kDirfd), a("path", kPath), a("mode", kMode)},
	"fchmodat2":         {a("dirfd", kDirfd), a("path", kPath), a("mode", kMode), a("flags", kAtFlags)},
	"chown":             {a("path", kPath), a("owner", kInt), a("group", kInt)},
	"lchown":            {a("path", kPath), a("owner", kInt), a("group", kInt)},
	"fchown":            {a("fd", kFd), a("owner", kInt), a("group", kInt)},
	"fchownat":          {a("dirfd", kDirfd), a("path", kPath), a("owner", kInt), a("group", kInt), a("flags", kAtFlags)},
	"truncate":          {a("path", kPath), a("length", kLong)},
	"ftruncate":         {a("fd", kFd), a("length", kLong)},
	"utimensat":         {a("dirfd", kDirfd), a("path", kPath), a("times", kPtr), a("flags", kAtFlags)},
	"close":             {a("fd", kFd)},
	"dup":               {a("oldfd", kFd)},
	"dup2":              {a("oldfd", kFd), a("newfd", kFd)},
	"dup3":              {a("oldfd", kFd), a("newfd", kFd), a("flags", kOpenFlags)},
	"read":              {a("fd", kFd), a("buf", kPtr), a("count", kUint)},
	"write":             {a("fd", kFd), a("buf", kPtr), a("count", kUint)},
	"ioctl":             {a("fd", kFd), a("request", kHex), a("arg", kHex)},
	"getcwd":            {a("buf", kPtr), a("size", kUint)},
	"uselib":            {a("library", kPath)},
	"inotify_add_watch": {a("fd", kFd), a("path", kPath), a("mask", kHex)},

	// exec
	"execve":   {a("path", kPath), a("argv", kArgv), a("envp", kEnvp)},
	"execveat": {a("dirfd", kDirfd), a("path", kPath), a("argv", kArgv), a("envp", kEnvp), a("flags", kAtFlags)},

	// processes
	"fork":       {},
	"vfork":      {},
	"clone3":     {ax("args", kCloneArgs, 1), a("size", kUint)},
	"exit":       {a("status", kInt)},
	"exit_group": {a("status", kInt)},
	"kill":       {a("pid", kInt), a("sig", kSignal)},
	"tkill":      {a("tid", kInt), a("sig", kSignal)},
	"tgkill":     {a("tgid", kInt), a("tid", kInt), a("sig", kSignal)},
	"wait4":      {a("pid", kInt), a("wstatus", kPtr), a("options", kHex), a("rusage", kPtr)},
	"setsid":     {},
	"setpgid":    {a("pid", kInt), a("pgid", kInt)},
	"getpid":     {},
	"getppid":    {},

	// network
	"socket":     {a("domain", kFamily), a("type", kSockType), a("protocol", kInt)},
	"socketpair": {a("domain", kFamily), a("type", kSockType), a("protocol", kInt), a("sv", kPtr)},
	"connect":    {a("fd", kFd), ax("addr", kSockaddr, 2), a("addrlen", kUint)},
	"bind":       {a("fd", kFd), ax("addr", kSockaddr, 2), a("addrlen", kUint)},
	"listen":     {a("fd", kFd), a("backlog", kInt)},
	"accept":     {a("fd", kFd), a("addr", kPtr), a("addrlen", kPtr)},
	"accept4":    {a("fd", kFd), a("addr", kPtr), a("addrlen", kPtr), a("flags", kSockFlags)},
	"shutdown":   {a("fd", kFd), a("how", kShutdownHow)},
	"sendto":     {a("fd", kFd), a("buf", kPtr), a("len", kUint), a("flags", kMsgFlags), ax("dest_addr", kSockaddr, 5), a("addrlen", kUint)},
	"recvfrom":   {a("fd", kFd), a("buf", kPtr), a("len", kUint), a("flags", kMsgFlags), a("src_addr", kPtr), a("addrlen", kPtr)},
	"sendmsg":    {a("fd", kFd), a("msg", kPtr), a("flags", kMsgFlags)},
	"recvmsg":    {a("fd", kFd), a("msg", kPtr), a("flags", kMsgFlags)},
}

// cloneSignature is clone's: x86_64 passes child_tid before tls, the
// generic ABI (aarch64, riscv64) after.
func cloneSignature(arch *syscalls.Arch) []argSpec {
	if arch == syscalls.X86_64 {
		return []argSpec{a("flags", kCloneFlags), a("stack", kPtr), a("parent_tid", kPtr), a("child_tid", kPtr), a("tls", kHex)}
	}
	return []argSpec{a("flags", kCloneFlags), a("stack", kPtr), a("parent_tid", kPtr), a("tls", kHex), a("child_tid", kPtr)}
}

func signature(name string, arch *syscalls.Arch) ([]argSpec, bool) {
	if name == "clone" {
		return cloneSignature(arch), true
	}
	s, ok := signatures[name]
	return s, ok
}

// Decoded reports whether the named syscall's arguments are decoded (the
// others are recorded raw only).
func Decoded(name string) bool {
	_, ok := signature(name, syscalls.X86_64)
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
	args := c.Args()
	fs := make(Fields, 0, len(spec))
	for i, s := range spec {
		if s.kind == kCreateMode && !creates(args[s.aux]) {
			continue // the kernel ignores the mode
		}
		fs = append(fs, Field{Name: s.name, Value: decodeArg(c, s, args[i], args)})
	}
	return fs
}

func decodeArg(c *handler.Ctx, s argSpec, v uint64, args [6]uint64) any {
	switch s.kind {
	case kPtr:
		return ptr(v)
	case kInt:
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
	case kPath:
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
		return openHow(c, v, args[s.aux])
	case kArgv:
		return argv(c, v)
	case kEnvp:
		return envCount(c, v)
	case kCloneFlags:
		return Sym(cloneFlags(v))
	case kCloneArgs:
		return cloneArgs(c, v, args[s.aux])
	case kSignal:
		return Sym(signal(v & 0xffffffff))
	case kFamily:
		return Sym(family(v & 0xffffffff))
	case kSockType:
		return Sym(sockType(v & 0xffffffff))
	case kSockFlags:
		return Sym(flagString(v&0xffffffff, sockFlagNames))
	case kSockaddr:
		return sockaddr(c, v, args[s.aux])
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
