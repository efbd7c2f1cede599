package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler/proclimit"
)

// ErrNoPidsCgroup means the supervisor could not make a pids cgroup for a
// run: no pids controller, not root and no delegated subtree, or a kernel
// without pids.peak when the run's peak was asked for. Start returns it
// (wrapped) under ProcessLimitCgroup; under ProcessLimitAuto the run falls
// back to the trap and Cmd.ProcessCounter returns it as the reason.
var ErrNoPidsCgroup = errors.New("no pids cgroup")

// ProcessLimitMode chooses how Policy.MaxProcesses (and
// Policy.CountProcesses) is enforced.
type ProcessLimitMode int

const (
	// ProcessLimitAuto uses a pids cgroup when the supervisor can make
	// one, else the trap (handler/proclimit).
	ProcessLimitAuto ProcessLimitMode = iota
	// ProcessLimitCgroup uses a pids cgroup, and Start fails with
	// ErrNoPidsCgroup when none can be made.
	ProcessLimitCgroup
	// ProcessLimitTrap always traps fork, vfork and clone
	// (handler/proclimit), even where a cgroup could be made.
	ProcessLimitTrap
)

// ProcessCounter is what limited and counted a run's processes.
type ProcessCounter int

const (
	// CountNone: no process limit or count was asked for.
	CountNone ProcessCounter = iota
	// CountCgroup: the kernel's pids controller, in a cgroup of the
	// run. Process creation is not trapped.
	CountCgroup
	// CountTrap: fork, vfork, clone and clone3 are trapped and counted
	// by the supervisor (handler/proclimit).
	CountTrap
)

// String returns "none", "cgroup" or "trap".
func (p ProcessCounter) String() string {
	switch p {
	case CountCgroup:
		return "cgroup"
	case CountTrap:
		return "trap"
	}
	return "none"
}

// pidsCgroup is the pids cgroup of one run.
type pidsCgroup struct {
	dir string
	v1  bool
	// moved is set once the command's thread is in the cgroup.
	moved atomic.Bool

	mu      sync.Mutex
	removed bool
	peak    int
	peakErr error
}

// pidsRoot is where the pids controller of this process is: the directory
// of its own pids cgroup, and whether the hierarchy is cgroup v1.
type pidsRoot struct {
	dir string
	v1  bool
}

// procSelf is where newPidsCgroup reads mountinfo and cgroup (a test
// points it elsewhere).
var procSelf = "/proc/self"

// cgroupSeq makes the names of the cgroups of one supervisor distinct.
var cgroupSeq atomic.Uint64

// findPidsRoot finds the pids cgroup of this process from mountinfo and
// /proc/self/cgroup: a cgroup v1 hierarchy with the pids controller, or
// else the cgroup v2 hierarchy when its controllers include pids.
func findPidsRoot(mountinfo, cgroups string) (pidsRoot, error) {
	type mount struct{ root, point string }
	var v1, v2 *mount
	for line := range strings.Lines(mountinfo) {
		pre, post, ok := strings.Cut(strings.TrimSpace(line), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		m := &mount{root: unescapeMount(f[3]), point: unescapeMount(f[4])}
		switch g[0] {
		case "cgroup":
			if v1 == nil && slices.Contains(strings.Split(g[2], ","), "pids") {
				v1 = m
			}
		case "cgroup2":
			if v2 == nil {
				v2 = m
			}
		}
	}
	var path1, path2 string
	have1, have2 := false, false
	for line := range strings.Lines(cgroups) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			path2, have2 = parts[2], true
		} else if slices.Contains(strings.Split(parts[1], ","), "pids") {
			path1, have1 = parts[2], true
		}
	}
	join := func(m *mount, path string) string {
		rel := path
		if m.root != "/" && (path == m.root || strings.HasPrefix(path, m.root+"/")) {
			rel = strings.TrimPrefix(path, m.root)
		}
		return filepath.Join(m.point, rel)
	}
	switch {
	case v1 != nil && have1:
		return pidsRoot{dir: join(v1, path1), v1: true}, nil
	case v1 != nil:
		return pidsRoot{}, fmt.Errorf("%w: the pids hierarchy at %s has no entry in /proc/self/cgroup", ErrNoPidsCgroup, v1.point)
	case v2 != nil && have2:
		dir := join(v2, path2)
		ctl, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err != nil {
			return pidsRoot{}, fmt.Errorf("%w: %v", ErrNoPidsCgroup, err)
		}
		if !slices.Contains(strings.Fields(string(ctl)), "pids") {
			return pidsRoot{}, fmt.Errorf("%w: the pids controller is not enabled for %s", ErrNoPidsCgroup, dir)
		}
		return pidsRoot{dir: dir}, nil
	}
	return pidsRoot{}, fmt.Errorf("%w: no pids controller mounted", ErrNoPidsCgroup)
}

// unescapeMount undoes the octal escapes of mountinfo (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// staleAge is how old an empty cgroup of a dead supervisor must be to be
// removed by another: longer than any Start.
const staleAge = 2 * listenerTimeout

// cgroupPrefix starts the name of every run's cgroup; the supervisor's pid
// and a sequence number follow.
const cgroupPrefix = "sandlock-"

// removeStale removes the empty run cgroups beneath dir whose supervisor
// is gone: one killed (SIGKILL cannot be caught) leaves its cgroup behind.
// A cgroup that still holds a process is left alone (rmdir refuses it),
// and so is a recent one: a supervisor in another pid namespace may be
// starting its run (the cgroup is empty until the command's execve).
func removeStale(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, _, ok := strings.Cut(strings.TrimPrefix(e.Name(), cgroupPrefix), "-")
		if !e.IsDir() || !strings.HasPrefix(e.Name(), cgroupPrefix) || !ok {
			continue
		}
		n, err := strconv.Atoi(pid)
		if err != nil || n <= 0 || n == os.Getpid() {
			continue
		}
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < staleAge {
			continue
		}
		if unix.Kill(n, 0) == unix.ESRCH {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// ProbePidsCgroup reports whether runs of this process can have a pids
// cgroup of their own (Policy.MaxProcesses then counts in the kernel): it
// makes one and removes it. The error wraps ErrNoPidsCgroup and says why
// when they cannot.
func ProbePidsCgroup() error {
	p, err := newPidsCgroup(0, true)
	if err != nil {
		return err
	}
	if err := p.remove(); err != nil {
		return fmt.Errorf("%w: remove %s: %v", ErrNoPidsCgroup, p.dir, err)
	}
	return nil
}

// newPidsCgroup makes the pids cgroup of a run beneath this process's own,
// with pids.max set to max (0: no limit). needPeak asks for pids.peak.
func newPidsCgroup(max int, needPeak bool) (*pidsCgroup, error) {
	mi, err := os.ReadFile(filepath.Join(procSelf, "mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPidsCgroup, err)
	}
	cg, err := os.ReadFile(filepath.Join(procSelf, "cgroup"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPidsCgroup, err)
	}
	root, err := findPidsRoot(string(mi), string(cg))
	if err != nil {
		return nil, err
	}
	removeStale(root.dir)
	name := fmt.Sprintf("%s%d-%d", cgroupPrefix, os.Getpid(), cgroupSeq.Add(1))
	p := &pidsCgroup{dir: filepath.Join(root.dir, name), v1: root.v1}
	if err := os.Mkdir(p.dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPidsCgroup, err)
	}
	if err := p.setup(root, max, needPeak); err != nil {
		_ = os.Remove(p.dir)
		return nil, err
	}
	return p, nil
}

func (p *pidsCgroup) setup(root pidsRoot, max int, needPeak bool) error {
	if _, err := os.Stat(p.file("pids.max")); err != nil && !root.v1 {
		// cgroup v2: the controller must be enabled for the children
		// of this process's cgroup, which the kernel refuses when that
		// cgroup holds processes and is not the root.
		if werr := os.WriteFile(filepath.Join(root.dir, "cgroup.subtree_control"), []byte("+pids"), 0); werr != nil {
			return fmt.Errorf("%w: enable pids for the children of %s: %v", ErrNoPidsCgroup, root.dir, werr)
		}
	}
	if _, err := os.Stat(p.file("pids.max")); err != nil {
		return fmt.Errorf("%w: %v", ErrNoPidsCgroup, err)
	}
	if needPeak {
		if _, err := os.Stat(p.file("pids.peak")); err != nil {
			return fmt.Errorf("%w: no pids.peak (Linux 6.1 or later): %v", ErrNoPidsCgroup, err)
		}
	}
	if max > 0 {
		if err := os.WriteFile(p.file("pids.max"), []byte(strconv.Itoa(max)), 0); err != nil {
			return fmt.Errorf("%w: set pids.max: %v", ErrNoPidsCgroup, err)
		}
	}
	return nil
}

func (p *pidsCgroup) file(name string) string { return filepath.Join(p.dir, name) }

// enter moves task tid, the thread that executes the command, into the
// cgroup. On cgroup v1 only that thread moves (the other threads of the
// launcher end with its execve and are never counted); on cgroup v2 the
// whole process does, and pids.peak counts the launcher's threads too.
func (p *pidsCgroup) enter(tid int) error {
	file := "cgroup.procs"
	if p.v1 {
		file = "tasks"
	}
	if err := os.WriteFile(p.file(file), []byte(strconv.Itoa(tid)), 0); err != nil {
		return fmt.Errorf("sandbox: move the command into cgroup %s: %w", p.dir, err)
	}
	p.moved.Store(true)
	return nil
}

// members returns the processes in the cgroup.
func (p *pidsCgroup) members() ([]int, error) {
	f, err := os.Open(p.file("cgroup.procs"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pids []int
	s := bufio.NewScanner(f)
	for s.Scan() {
		if n, err := strconv.Atoi(strings.TrimSpace(s.Text())); err == nil {
			pids = append(pids, n)
		}
	}
	return pids, s.Err()
}

// remove kills what is left in the cgroup, reads its peak and removes it.
// It is idempotent.
func (p *pidsCgroup) remove() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.removed {
		return nil
	}
	var err error
	// Killed tasks leave the cgroup as they exit; bounded, so that a
	// task stuck in the kernel makes an error rather than a hang.
	for range 10000 {
		pids, lerr := p.members()
		if lerr != nil {
			err = lerr
			break
		}
		if len(pids) == 0 {
			if !p.moved.Load() {
				p.peakErr = errors.New("the command never ran")
			} else if p.peak, p.peakErr = readInt(p.file("pids.peak")); p.peakErr != nil {
				p.peakErr = fmt.Errorf("read pids.peak: %w", p.peakErr)
			}
			if err = os.Remove(p.dir); err == nil || errors.Is(err, os.ErrNotExist) {
				p.removed = true
				return nil
			}
			if !errors.Is(err, unix.EBUSY) {
				break
			}
			// Tasks exiting: their exit is not complete yet.
			time.Sleep(time.Millisecond)
			continue
		}
		err = fmt.Errorf("%d processes left in it", len(pids))
		for _, pid := range pids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("sandbox: remove cgroup %s: %w", p.dir, err)
}

func readInt(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// processLimit is the process policy of one run: the cgroup, or the trap.
type processLimit struct {
	counter ProcessCounter
	reason  error // why not the cgroup, under CountTrap
	cgroup  *pidsCgroup
	trap    *proclimit.Limiter
}

// setupProcessLimit makes the cgroup of the run, or registers the trap,
// as Policy.MaxProcesses, CountProcesses and ProcessLimit ask.
func (c *Cmd) setupProcessLimit() error {
	p := &c.Policy
	if p.MaxProcesses < 0 {
		return fmt.Errorf("sandbox: process limit %d: want 0 (no limit) or more", p.MaxProcesses)
	}
	pl := &processLimit{}
	c.procs = pl
	if p.MaxProcesses == 0 && !p.CountProcesses {
		return nil
	}
	if p.ProcessLimit != ProcessLimitTrap {
		cg, err := newPidsCgroup(p.MaxProcesses, p.CountProcesses)
		if err == nil {
			pl.counter, pl.cgroup = CountCgroup, cg
			return nil
		}
		if p.ProcessLimit == ProcessLimitCgroup {
			return fmt.Errorf("sandbox: process limit: %w", err)
		}
		pl.reason = err
	} else {
		pl.reason = fmt.Errorf("%w: the trap was asked for (ProcessLimitTrap)", ErrNoPidsCgroup)
	}
	if p.MaxProcesses > 0 {
		l, err := proclimit.New(p.MaxProcesses)
		if err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
		pl.trap = l
	} else {
		pl.trap = proclimit.NewCounter()
	}
	for _, name := range pl.trap.Syscalls(c.table.Arch()) {
		if slices.Contains(p.Deny, name) {
			continue // the kernel refuses it whole
		}
		if err := c.table.RegisterName(name, pl.trap); err != nil {
			return fmt.Errorf("sandbox: process limit: %w", err)
		}
	}
	pl.counter = CountTrap
	return nil
}

// enterProcessLimit moves the thread about to execute the command into the
// run's cgroup, if any; tid is the thread of the launcher's execve.
func (c *Cmd) enterProcessLimit(tid int) {
	if c.procs == nil || c.procs.cgroup == nil {
		return
	}
	if err := c.procs.cgroup.enter(tid); err != nil {
		c.procErr.Store(&err)
		// The command must not run outside its limit.
		_ = unix.Kill(tid, unix.SIGKILL)
	}
}

// killProcessLimit kills the processes of the run's cgroup, if any, once:
// with the cgroup, a process that left the run's session is still found.
func (c *Cmd) killProcessLimit() {
	if c.procs == nil || c.procs.cgroup == nil {
		return
	}
	pids, _ := c.procs.cgroup.members()
	for _, pid := range pids {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

// releaseProcessLimit removes the run's cgroup, killing what is left in
// it; it is called once every process of the run should be gone.
func (c *Cmd) releaseProcessLimit() error {
	if c.procs == nil || c.procs.cgroup == nil {
		return nil
	}
	return c.procs.cgroup.remove()
}

// ProcessCounter returns what limits and counts the processes of the run
// (after Start): CountCgroup, CountTrap or CountNone. Under CountTrap the
// error says why no cgroup was used (it wraps ErrNoPidsCgroup).
func (c *Cmd) ProcessCounter() (ProcessCounter, error) {
	if c.procs == nil {
		return CountNone, nil
	}
	return c.procs.counter, c.procs.reason
}

// ProcessCgroup returns the directory of the run's pids cgroup, "" when
// the run has none. It exists from Start until Wait returns.
func (c *Cmd) ProcessCgroup() string {
	if c.procs == nil || c.procs.cgroup == nil {
		return ""
	}
	return c.procs.cgroup.dir
}

// ProcessPeak returns, after Wait, the most tasks the run had at once.
// With a cgroup it is the kernel's pids.peak, which counts tasks: threads
// as well as processes (on cgroup v2 also the launcher's threads before
// it executed the command). With the trap it is the most processes
// proclimit counted at once. The run must have set Policy.MaxProcesses or
// Policy.CountProcesses.
func (c *Cmd) ProcessPeak() (int, error) {
	if c.procs == nil || c.procs.counter == CountNone {
		return 0, errors.New("sandbox: processes were not counted (set Policy.CountProcesses)")
	}
	if c.procs.trap != nil {
		return c.procs.trap.Peak(), c.procs.trap.Err()
	}
	cg := c.procs.cgroup
	cg.mu.Lock()
	defer cg.mu.Unlock()
	if !cg.removed {
		return 0, errors.New("sandbox: the run has not ended (call Wait)")
	}
	return cg.peak, cg.peakErr
}
