package pathpolicy

import (
	"bytes"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

// ExecPolicy allows or denies execve and execveat by path.
//
// It is not race-free: an allowed exec must be answered Continue, and the
// kernel then reads the path from the process's memory again, where another
// thread may have changed it. It guarantees that a program that execs a
// denied path, or a symlink or relative path that resolves to one, gets
// EACCES; against a hostile multi-threaded process, enforce exec with
// Landlock.
type ExecPolicy struct {
	r rules
	// OnDecision, when set, is called for every decided exec. It must be
	// safe for concurrent use.
	OnDecision func(Decision)
}

// NewExecPolicy returns an ExecPolicy for r.
func NewExecPolicy(r Rules) (*ExecPolicy, error) {
	compiled, err := compile(r)
	if err != nil {
		return nil, fmt.Errorf("exec policy: %w", err)
	}
	return &ExecPolicy{r: compiled}, nil
}

// Syscalls returns the names the policy must be registered on.
func (p *ExecPolicy) Syscalls(arch *syscalls.Arch) []string {
	return existing(arch, "execve", "execveat")
}

// Handle denies an exec of a path outside the rules and lets others run.
func (p *ExecPolicy) Handle(c *handler.Ctx) handler.Action {
	dirfd, pathArg := int32(unix.AT_FDCWD), 0
	if c.SyscallName() == "execveat" {
		dirfd, pathArg = int32(c.Arg(0)), 1
	}
	path, err := c.ReadCString(c.Arg(pathArg), handler.PathMax)
	if err != nil {
		return handler.Errno(errnoOf(err, unix.EFAULT))
	}
	canon, errno := p.resolve(c, dirfd, path)
	allowed := errno == 0 && p.r.allowed(canon)
	if p.OnDecision != nil {
		d := Decision{Syscall: c.SyscallName(), Pid: c.Pid(), Path: canon, Allowed: allowed}
		if !allowed {
			d.Errno = unix.EACCES
		}
		p.OnDecision(d)
	}
	if !allowed {
		return handler.Errno(unix.EACCES)
	}
	return handler.Continue()
}

// resolve returns the canonical path of the file to execute; when it cannot
// be opened, the lexical path (the exec will fail in the kernel anyway, and
// the rules still apply to the name).
func (p *ExecPolicy) resolve(c *handler.Ctx, dirfd int32, path string) (string, unix.Errno) {
	if path == "" {
		// execveat(fd, "", AT_EMPTY_PATH): the file is the descriptor.
		path = "."
	}
	base, baseDir, errno := baseDirFD(c, dirfd, path)
	if errno != 0 {
		return path, errno
	}
	if base >= 0 {
		defer unix.Close(base)
	}
	lexical := filepath.Join(baseDir, path)
	if filepath.IsAbs(path) {
		lexical = filepath.Clean(path)
	}
	if !p.r.allowed(lexical) {
		return lexical, 0
	}
	at := base
	if at < 0 {
		at = unix.AT_FDCWD
	}
	fd, err := unix.Openat2(at, path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return lexical, 0
	}
	defer unix.Close(fd)
	canon, errno := fdPath(fd)
	if errno != 0 {
		return lexical, 0
	}
	if p.r.deniedObject(fd) {
		return canon, unix.EACCES
	}
	return canon, 0
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
