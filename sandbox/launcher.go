package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The helper protocol. The supervisor starts its own executable with
// helperEnv set to the number of extra files; Init sees it and becomes the
// helper. The helper's descriptors are 0, 1, 2, the extra files from 3, then
// two pipes:
//
//	config  supervisor -> helper: the helperConfig as JSON, then EOF
//	status  helper -> supervisor: installingMark, the number the listener
//	        will get and a newline ("+5\n") just before the filter is
//	        installed, then either "CODE message" (the helper failed and
//	        exits with CODE) or EOF (close-on-exec: the command runs)
//
// The supervisor copies the listener out of the helper with pidfd_getfd:
// the helper cannot send it, since any syscall it makes after the install
// may be trapped, and nobody could answer before the listener is fetched.
const helperEnv = "SANDLOCK_GO_HELPER"

// installingMark tells the supervisor that the filter is being installed, so
// it can start looking for the listener without waiting blindly.
const installingMark = '+'

// Exit codes of the helper when it cannot start the target.
const (
	exitSetupFailed = 125
	exitNotExec     = 126
	exitNotFound    = 127
)

// listenerTimeout bounds the wait for the helper to install its filter.
const listenerTimeout = 30 * time.Second

// helperFDs returns the helper's config and status descriptors when it was
// started with extra files.
func helperFDs(extra int) (config, status int) { return 3 + extra, 4 + extra }

// launcher is the supervisor's end of the helper protocol for one Start:
// the helper process and its pipes. Every failure after startHelper goes
// through abort, the one cleanup path.
type launcher struct {
	helper *exec.Cmd
	status *os.File // read end
	config *os.File // write end, until sendConfig
	// pending is what was read from status after the mark's line.
	pending []byte
	pidfd   int
}

// startHelper starts the helper of c. The helper waits for its config,
// which sendConfig gives it: its exec and Go runtime start overlap the
// building of the config here.
func startHelper(c *Cmd) (*launcher, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("sandbox: find own executable: %w", err)
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer cfgR.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		cfgW.Close()
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	defer statusW.Close()

	h := exec.Command(self)
	h.Args = []string{c.Args0()}
	h.Env = []string{helperEnv + "=" + strconv.Itoa(len(c.ExtraFiles))}
	h.Stdin, h.Stdout, h.Stderr = c.Stdin, c.Stdout, c.Stderr
	h.ExtraFiles = append(append([]*os.File(nil), c.ExtraFiles...), cfgR, statusW)
	h.SysProcAttr = &syscall.SysProcAttr{
		// The command dies with the supervisor, and its whole process
		// group can be killed when the run ends. A session of its own
		// keeps it off the supervisor's controlling terminal.
		Pdeathsig: syscall.SIGKILL,
		Setsid:    true,
	}
	if c.Policy.Identity == IdentityUserNamespace {
		userNamespace(h.SysProcAttr)
		// The user the helper becomes may not reach this executable's
		// directory: execute it through a descriptor opened here (the
		// magic link skips the directory search). It follows the
		// status pipe, and is close-on-exec in the helper.
		exe, err := os.Open(self)
		if err != nil {
			cfgW.Close()
			statusR.Close()
			return nil, fmt.Errorf("sandbox: open own executable: %w", err)
		}
		defer exe.Close()
		h.Path = "/proc/self/fd/" + strconv.Itoa(3+len(h.ExtraFiles))
		h.ExtraFiles = append(h.ExtraFiles, exe)
	}
	// The pseudo-terminal as stdio and controlling terminal (terminal.go).
	if err := c.openTerminal(h); err != nil {
		cfgW.Close()
		statusR.Close()
		return nil, err
	}
	err = h.Start()
	statusW.Close()
	c.terminalStarted(err) // relays on, or closed on error
	if err != nil {
		cfgW.Close()
		statusR.Close()
		return nil, fmt.Errorf("sandbox: start helper: %w", err)
	}
	l := &launcher{helper: h, status: statusR, config: cfgW, pidfd: -1}
	if l.pidfd, err = unix.PidfdOpen(h.Process.Pid, 0); err != nil {
		return nil, l.abort(c, fmt.Errorf("sandbox: pidfd_open: %w", err))
	}
	return l, nil
}

// sendConfig sends cfg to the helper and closes the config pipe.
func (l *launcher) sendConfig(cfg *helperConfig) error {
	payload, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("sandbox: encode helper config: %w", err)
	}
	w := l.config
	l.config = nil
	go func() {
		// A helper that died never reads it: the write fails (EPIPE)
		// and the death is seen by listener.
		_, _ = w.Write(payload)
		w.Close()
	}()
	return nil
}

// listener copies the helper's listener fd into this process once the
// helper has installed its filter.
func (l *launcher) listener() (int, error) {
	exited := errors.New("helper exited before installing its filter")
	// Wait for the mark, an error, or the helper's death.
	fds := []unix.PollFd{
		{Fd: int32(l.status.Fd()), Events: unix.POLLIN},
		{Fd: int32(l.pidfd), Events: unix.POLLIN},
	}
	for {
		n, err := unix.Poll(fds, int(listenerTimeout/time.Millisecond))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("poll helper: %w", err)
		}
		if n == 0 {
			return -1, fmt.Errorf("helper did not start within %s", listenerTimeout)
		}
		break
	}
	expected, err := l.readMark()
	if err != nil {
		return -1, err
	}

	// The install takes microseconds: look for the listener, first at
	// the number the helper expects it to get, then in its fd table.
	// Short waits are nanosleeps: the runtime rounds a time.Sleep below
	// a millisecond up to one when the process is otherwise idle.
	fdDir := "/proc/" + strconv.Itoa(l.helper.Process.Pid) + "/fd"
	deadline := time.Now().Add(listenerTimeout)
	for try := 0; ; try++ {
		if expected >= 0 {
			if fd, err := unix.PidfdGetfd(l.pidfd, expected, 0); err == nil {
				if isListener(fd) {
					return fd, nil
				}
				unix.Close(fd) // not (yet) the listener
			}
		}
		// The guess is right unless the helper opened a descriptor in
		// between: the scan of its fd table (tens of microseconds)
		// waits a while.
		if expected < 0 || try >= guessOnly {
			if n, ok := findListenerFD(fdDir); ok {
				fd, err := unix.PidfdGetfd(l.pidfd, n, 0)
				if err != nil {
					return -1, fmt.Errorf("pidfd_getfd: %w", err)
				}
				if isListener(fd) {
					return fd, nil
				}
				unix.Close(fd) // the number was reused in between
				continue
			}
		}
		if pollNow([]unix.PollFd{{Fd: int32(l.pidfd), Events: unix.POLLIN}}) {
			// It exited; an error may be waiting on the status pipe.
			if msg, _ := io.ReadAll(l.status); len(l.pending)+len(msg) > 0 {
				msg = append(l.pending, msg...)
				return -1, helperError(string(msg))
			}
			return -1, exited
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("helper did not install its filter within %s", listenerTimeout)
		}
		if try < shortWaits {
			_ = unix.Nanosleep(&unix.Timespec{Nsec: int64(shortWait)}, nil)
		} else {
			time.Sleep(time.Millisecond)
		}
	}
}

// The listener search waits shortWait between looks, shortWaits times, then
// a millisecond; it looks only at the expected number for the first
// guessOnly looks.
const (
	shortWait  = 20 * time.Microsecond
	shortWaits = 100
	guessOnly  = 10
)

// readMark reads the helper's installingMark line and returns the
// listener's expected number, -1 when the line has none. What follows the
// line in the same read is kept for awaitExec.
func (l *launcher) readMark() (int, error) {
	buf := make([]byte, 64)
	n, _ := l.status.Read(buf)
	if n == 0 {
		return -1, errors.New("helper exited before installing its filter")
	}
	buf = buf[:n]
	if buf[0] != installingMark {
		rest, _ := io.ReadAll(l.status)
		return -1, helperError(string(buf) + string(rest))
	}
	line, rest, ok := bytes.Cut(buf[1:], []byte{'\n'})
	if !ok {
		// An older helper, or a line split across reads: search.
		return -1, nil
	}
	l.pending = rest
	expected, err := strconv.Atoi(string(line))
	if err != nil || expected < 0 {
		return -1, nil
	}
	return expected, nil
}

// awaitExec waits for the helper's execve of the command (EOF on the status
// pipe) or its report of a failure.
func (l *launcher) awaitExec() error {
	msg, _ := io.ReadAll(l.status)
	msg = append(l.pending, msg...)
	if len(msg) > 0 {
		return helperError(string(msg))
	}
	return nil
}

// release ends the protocol after a successful start and hands over the
// helper's pidfd (-1 if none).
func (l *launcher) release() int {
	l.status.Close()
	fd := l.pidfd
	l.pidfd = -1
	return fd
}

// abort kills the helper and its group, reaps it, stops supervision and
// releases everything; it returns err with context.
func (l *launcher) abort(c *Cmd, err error) error {
	_ = unix.Kill(-l.helper.Process.Pid, unix.SIGKILL)
	_ = l.helper.Process.Kill()
	_ = l.helper.Wait()
	c.finish()
	l.status.Close()
	if l.config != nil {
		l.config.Close()
	}
	if l.pidfd >= 0 {
		unix.Close(l.pidfd)
	}
	if strings.HasPrefix(err.Error(), "sandbox:") {
		return err
	}
	return fmt.Errorf("sandbox: start %s: %w", c.Path, err)
}

// helperEnd is the helper's end of the protocol.
type helperEnd struct {
	configFD int
	status   *os.File
}

func newHelperEnd(extra int) *helperEnd {
	configFD, statusFD := helperFDs(extra)
	unix.CloseOnExec(configFD)
	unix.CloseOnExec(statusFD)
	return &helperEnd{configFD: configFD, status: os.NewFile(uintptr(statusFD), "status")}
}

// config reads the supervisor's helperConfig.
func (h *helperEnd) config() (*helperConfig, error) {
	f := os.NewFile(uintptr(h.configFD), "config")
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read helper config: %w", err)
	}
	var cfg helperConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("decode helper config: %w", err)
	}
	return &cfg, nil
}

// installing tells the supervisor that the filter goes on now, and the
// number the listener will get: the lowest free one, the kernel's choice
// for a new descriptor (nothing opens one between here and the install;
// the supervisor checks what it finds there all the same).
func (h *helperEnd) installing() {
	mark := []byte{installingMark}
	if fd, err := unix.FcntlInt(h.status.Fd(), unix.F_DUPFD_CLOEXEC, 0); err == nil {
		unix.Close(fd)
		mark = strconv.AppendInt(mark, int64(fd), 10)
	}
	mark = append(mark, '\n')
	if _, err := h.status.Write(mark); err != nil {
		h.fail(exitSetupFailed, fmt.Errorf("report to supervisor: %w", err))
	}
}

// fail reports err to the supervisor and exits with code. The write may be
// trapped; before the command's execve the supervisor answers it Continue.
func (h *helperEnd) fail(code int, err error) {
	_, _ = h.status.WriteString(strconv.Itoa(code) + " " + err.Error())
	os.Exit(code)
}

// helperError turns the helper's "CODE message" report into an error.
func helperError(msg string) error {
	code, text, ok := strings.Cut(msg, " ")
	if !ok {
		return errors.New(msg)
	}
	switch code {
	case strconv.Itoa(exitNotFound):
		return fmt.Errorf("%s: %w", text, os.ErrNotExist)
	case strconv.Itoa(exitNotExec):
		return fmt.Errorf("%s: %w", text, os.ErrPermission)
	}
	return errors.New(text)
}

// pollNow reports whether any of fds is ready, without waiting.
func pollNow(fds []unix.PollFd) bool {
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

const listenerLink = "anon_inode:seccomp notify"

func findListenerFD(dir string) (int, bool) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, false
	}
	for _, e := range entries {
		if target, err := os.Readlink(dir + "/" + e.Name()); err == nil && target == listenerLink {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

func isListener(fd int) bool {
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err == nil && target == listenerLink
}

// keepSupervisorOutOfReach makes this process undumpable: its /proc files
// belong to root and ptrace of it needs CAP_SYS_PTRACE, which commands do
// not have, on top of the Landlock domain of every command (which refuses
// ptrace across the boundary whatever the capabilities). Core dumps of the
// supervisor are off from then on.
func keepSupervisorOutOfReach() {
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
