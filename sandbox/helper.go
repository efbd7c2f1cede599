package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/seccomp"
)

var initCalled bool

// Init must be called at the start of main (or in TestMain) of every
// program that uses this package, before anything else:
//
//	func main() {
//		sandbox.Init()
//		...
//	}
//
// The sandbox starts supervised commands through a re-executed copy of the
// running program; in that copy Init confines the thread and executes the
// command, and never returns. In the supervisor it returns at once. Without
// it, Cmd.Start fails with ErrNoInit.
func Init() {
	initCalled = true
	v, ok := os.LookupEnv(helperEnv)
	if !ok {
		return
	}
	extra, err := strconv.Atoi(v)
	if err != nil || extra < 0 {
		fmt.Fprintf(os.Stderr, "sandbox: bad %s=%q\n", helperEnv, v)
		os.Exit(exitSetupFailed)
	}
	runHelper(extra)
}

// helperConfig is what the supervisor tells the helper.
type helperConfig struct {
	Path       string
	Args       []string
	Env        []string
	Dir        string
	Program    []byte
	Static     []byte          `json:",omitempty"` // Policy.Seccomp's program
	Landlock   *landlockConfig `json:",omitempty"`
	Layer      *policyLayer    `json:",omitempty"`
	Isolation  *isolationConfig
	Rlimits    []rlimit `json:",omitempty"`
	NoNewPrivs bool
	// WaitKillable: the filter is installed with
	// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, or the helper fails; without
	// it, never. The supervisor decides, so that its Listener knows.
	WaitKillable bool `json:",omitempty"`
}

type rlimit struct {
	Resource int
	Cur, Max uint64
}

// runHelper never returns.
func runHelper(extra int) {
	// The filter and Landlock go on this thread only, and the target is
	// executed from it; it must never run another goroutine.
	runtime.LockOSThread()
	h := newHelperEnd(extra)
	cfg, err := h.config()
	if err != nil {
		h.fail(exitSetupFailed, err)
	}
	if err := prepareHelper(cfg); err != nil {
		h.fail(exitSetupFailed, err)
	}
	prog, err := seccomp.UnmarshalProgram(cfg.Program)
	if err != nil {
		h.fail(exitSetupFailed, err)
	}
	static, err := prepareStatic(cfg)
	if err != nil {
		h.fail(exitSetupFailed, err)
	}
	h.installing()
	// Everything the target needs is ready: from here on, every syscall
	// of this thread may be trapped, and the supervisor answers them
	// Continue until the execve below.
	killable := seccomp.FlagOff
	if cfg.WaitKillable {
		killable = seccomp.FlagRequired
	}
	if _, err := seccomp.InstallReport(prog, seccomp.InstallOptions{Listener: true, WaitKillableRecv: killable}); err != nil {
		h.fail(exitSetupFailed, err)
	}
	if static != nil {
		if err := static.install(); err != nil {
			h.fail(exitSetupFailed, err)
		}
		err = static.exec()
	} else {
		err = unix.Exec(cfg.Path, cfg.Args, cfg.Env)
	}
	code := exitNotExec
	if errors.Is(err, unix.ENOENT) {
		code = exitNotFound
	}
	h.fail(code, fmt.Errorf("exec %s: %w", cfg.Path, err))
}

// prepareHelper applies everything but the filter: directory, limits, the
// isolation (descriptors, keyring, mounts, capabilities, no_new_privs, the
// Landlock layers).
func prepareHelper(cfg *helperConfig) error {
	if cfg.Dir != "" {
		if err := unix.Chdir(cfg.Dir); err != nil {
			return fmt.Errorf("chdir %s: %w", cfg.Dir, err)
		}
	}
	for _, r := range cfg.Rlimits {
		lim := unix.Rlimit{Cur: r.Cur, Max: r.Max}
		if err := unix.Setrlimit(r.Resource, &lim); err != nil {
			return fmt.Errorf("setrlimit %s: %w", rlimitName(r.Resource), err)
		}
	}
	if cfg.Isolation == nil {
		return errors.New("no isolation in the helper config")
	}
	if err := cfg.Isolation.apply(cfg.Landlock); err != nil {
		return err
	}
	return cfg.Layer.restrictThread()
}

func rlimitName(resource int) string {
	switch resource {
	case unix.RLIMIT_NOFILE:
		return "RLIMIT_NOFILE"
	case unix.RLIMIT_NPROC:
		return "RLIMIT_NPROC"
	}
	return "resource " + strconv.Itoa(resource)
}
