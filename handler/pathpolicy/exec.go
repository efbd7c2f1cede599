package pathpolicy

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// ExecPolicy allows or denies execve and execveat by path, and by what
// the kernel would run for it: the interpreters named on #! lines.
//
// # What is checked
//
// The path is resolved as the process would resolve it (relative to its
// working directory or dirfd, symlinks followed by the kernel) and the
// rules are checked on the canonical path of the object found. When that
// object is a script, the interpreter on its #! line is resolved and
// checked the same way, and its own #! line, up to the kernel's depth
// (ELOOP past it): a script in an allowed directory cannot run an
// interpreter outside it. The first bytes are read as the process
// (Ctx.AsProcess); a script the process may execute but not read is read
// by the supervisor, which uses the bytes for the decision only.
// binfmt_misc handlers (a file run by an interpreter the administrator
// registered by magic number or extension, such as qemu-user or Wine) and
// the ELF interpreter (the dynamic loader) are not checked.
//
// # Not race-free
//
// An allowed exec must be answered Continue, and the kernel then reads the
// path from the process's memory again, where another thread may have
// changed it, and reads the file, which may have changed too. The policy
// guarantees that a program that execs a denied path, or a symlink or
// relative path that resolves to one, or a script whose interpreter is
// denied, gets EACCES; against a hostile multi-threaded process the
// decision belongs to Landlock's execute right (sandbox.Policy.ExecPaths),
// which the kernel checks on the file it executes and on every
// interpreter it opens. Neither can stop a dynamic loader that is allowed
// to run from loading a file given as its argument
// (/lib64/ld-linux-x86-64.so.2 /path/denied): the loader maps it without
// exec.
type ExecPolicy struct {
	src  Rules
	r    rules
	root *Root
	// OnDecision, when set, is called for every decided exec, and for
	// every interpreter checked for one (with the exec's syscall name).
	// It must be safe for concurrent use.
	OnDecision func(Decision)
}

// maxInterpreters is how many #! interpreters the kernel follows before
// failing with ELOOP (fs/exec.c: exec_binprm).
const maxInterpreters = 5

// NewExecPolicy returns an ExecPolicy for r.
func NewExecPolicy(r Rules) (*ExecPolicy, error) {
	compiled, err := compile(r)
	if err != nil {
		return nil, fmt.Errorf("exec policy: %w", err)
	}
	return &ExecPolicy{src: r, r: compiled}, nil
}

// WithRoot returns the policy for processes whose "/" is root (a
// container's): paths and #! interpreters are resolved in root, and the
// rules name paths as those processes see them (see Root). A nil root
// means the supervisor's own.
func (p *ExecPolicy) WithRoot(root *Root) (*ExecPolicy, error) {
	if !root.acquire() {
		return nil, fmt.Errorf("exec policy: %w", errRootClosed)
	}
	defer root.release()
	compiled, err := compileIn(p.src, root)
	if err != nil {
		return nil, fmt.Errorf("exec policy: %w", err)
	}
	q := *p
	q.r, q.root = compiled, root
	return &q, nil
}

// Syscalls returns the names the policy must be registered on.
func (p *ExecPolicy) Syscalls(arch *syscalls.Arch) []string {
	return existing(arch, "execve", "execveat")
}

// Handle denies an exec of a path outside the rules, or of a script whose
// interpreter is outside them, and lets others run.
func (p *ExecPolicy) Handle(c *handler.Ctx) handler.Action {
	if !p.root.acquire() {
		return handler.Errno(unix.EACCES) // the processes' root is gone
	}
	defer p.root.release()
	dirfd, pathArg := int32(unix.AT_FDCWD), 0
	if c.SyscallName() == "execveat" {
		dirfd, pathArg = int32(c.Arg(0)), 1
	}
	path, err := c.ReadCString(c.Arg(pathArg), handler.PathMax)
	if err != nil {
		return handler.Errno(errnoOf(err, unix.EFAULT))
	}
	fd, canon, errno := p.resolve(c, dirfd, path)
	allowed := errno == 0 && p.r.allowed(canon)
	p.decided(c, canon, allowed, unix.EACCES)
	if !allowed {
		if fd >= 0 {
			unix.Close(fd)
		}
		return handler.Errno(unix.EACCES)
	}
	// What the kernel runs for it: the #! interpreters.
	for depth := 0; fd >= 0; depth++ {
		interp, ok := p.interpreter(c, fd)
		unix.Close(fd)
		if !ok {
			break
		}
		if depth == maxInterpreters {
			p.decided(c, interp, false, unix.ELOOP)
			return handler.Errno(unix.ELOOP)
		}
		// The kernel opens the interpreter relative to the working
		// directory of the process.
		fd, canon, errno = p.resolve(c, unix.AT_FDCWD, interp)
		allowed = errno == 0 && p.r.allowed(canon)
		p.decided(c, canon, allowed, unix.EACCES)
		if !allowed {
			if fd >= 0 {
				unix.Close(fd)
			}
			return handler.Errno(unix.EACCES)
		}
	}
	return handler.Continue()
}

func (p *ExecPolicy) decided(c *handler.Ctx, path string, allowed bool, errno unix.Errno) {
	if p.OnDecision == nil {
		return
	}
	d := Decision{Syscall: c.SyscallName(), Pid: c.Pid(), Path: path, Allowed: allowed}
	if !allowed {
		d.Errno = errno
	}
	p.OnDecision(d)
}

// interpreter returns the interpreter on the #! line of the regular file
// open (O_PATH) at fd, ok false when it is not a script or cannot be
// read.
func (p *ExecPolicy) interpreter(c *handler.Ctx, fd int) (string, bool) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", false // the kernel executes regular files only
	}
	head := make([]byte, binprmBufSize)
	n := -1
	reopen := "/proc/self/fd/" + strconv.Itoa(fd)
	read := func() {
		f, err := unix.Open(reopen, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
		if err != nil {
			return
		}
		defer unix.Close(f)
		if m, err := unix.Pread(f, head, 0); err == nil {
			n = m
		}
	}
	if err := c.AsProcess(read); err != nil {
		n = -1 // not confined: read as the supervisor below
	}
	if n < 0 {
		// Execute-only for the process: the kernel still reads the #!
		// line. Read it as the supervisor, for the decision only; a
		// regular file has no open side effects, and /proc files are
		// not read.
		if canon, errno := p.root.path(fd); errno != 0 || canon == "/proc" || strings.HasPrefix(canon, "/proc/") {
			return "", false
		}
		read()
	}
	if n < 2 {
		return "", false
	}
	return ParseShebang(head[:n])
}

// resolve opens (O_PATH) the file to execute and returns it with its
// canonical path; when it cannot be opened, fd is -1 and the path is the
// lexical one (the exec will fail in the kernel anyway, and the rules
// still apply to the name). errno is EACCES for a denied file reached by
// another name.
func (p *ExecPolicy) resolve(c *handler.Ctx, dirfd int32, path string) (fd int, canon string, errno unix.Errno) {
	if path == "" {
		// execveat(fd, "", AT_EMPTY_PATH): the file is the descriptor.
		path = "."
	}
	base, baseDir, errno := baseDirFD(c, p.root, dirfd, path)
	if errno != 0 {
		return -1, path, errno
	}
	if base >= 0 {
		defer unix.Close(base)
	}
	lexical := filepath.Join(baseDir, path)
	if filepath.IsAbs(path) {
		lexical = filepath.Clean(path)
	}
	if !p.r.allowed(lexical) {
		return -1, lexical, 0
	}
	at := base
	if at < 0 {
		at = unix.AT_FDCWD
	}
	fd, err := p.root.openat2(at, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return -1, lexical, 0
	}
	canon, errno = p.root.path(fd)
	if errno != 0 {
		unix.Close(fd)
		return -1, lexical, 0
	}
	if p.r.deniedObject(fd) {
		unix.Close(fd)
		return -1, canon, unix.EACCES
	}
	return fd, canon, 0
}

// binprmBufSize is BINPRM_BUF_SIZE: how much of a file the kernel reads to
// find its #! line.
const binprmBufSize = 256

// ParseShebang returns the interpreter named on the #! line at the start
// of head (the first bytes of a file), as the kernel's binfmt_script reads
// it: within the first 256 bytes, after blanks, up to a blank or NUL; ok is
// false when the kernel would not run the file as a script.
func ParseShebang(head []byte) (interp string, ok bool) {
	if len(head) < 2 || head[0] != '#' || head[1] != '!' {
		return "", false
	}
	var buf [binprmBufSize]byte // zero-padded, as the kernel's
	copy(buf[:], head)
	blank := func(b byte) bool { return b == ' ' || b == '\t' }
	end := bytes.IndexByte(buf[:], '\n')
	if end < 0 {
		// No newline in the buffer: the name must end before it does.
		last := binprmBufSize - 1
		i := 2
		for i < last && blank(buf[i]) {
			i++
		}
		if i == last || bytes.IndexAny(buf[i:last], " \t\x00") < 0 {
			return "", false
		}
		end = last
	}
	line := bytes.Trim(buf[2:end], " \t")
	if len(line) == 0 {
		return "", false
	}
	if i := bytes.IndexAny(line, " \t\x00"); i >= 0 {
		line = line[:i]
	}
	if len(line) == 0 {
		return "", false
	}
	return string(line), true
}
