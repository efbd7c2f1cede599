package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	Landlock   *landlockConfig `json:",omitempty"`
	Layer      *policyLayer    `json:",omitempty"`
	Isolation  *isolationConfig
	Rlimits    []rlimit `json:",omitempty"`
	NoNewPrivs bool
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
	configFD, statusFD := helperFDs(extra)
	unix.CloseOnExec(configFD)
	unix.CloseOnExec(statusFD)
	status := os.NewFile(uintptr(statusFD), "status")

	cfg, err := readHelperConfig(configFD)
	if err != nil {
		helperFail(status, exitSetupFailed, err)
	}
	if err := prepareHelper(cfg); err != nil {
		helperFail(status, exitSetupFailed, err)
	}
	prog, err := seccomp.UnmarshalProgram(cfg.Program)
	if err != nil {
		helperFail(status, exitSetupFailed, err)
	}
	if _, err := status.Write([]byte{installingMark}); err != nil {
		helperFail(status, exitSetupFailed, fmt.Errorf("report to supervisor: %w", err))
	}
	// Everything the target needs is ready: from here on, every syscall
	// of this thread may be trapped, and the supervisor answers them
	// Continue until the execve below.
	if _, err := seccomp.Install(prog, seccomp.InstallOptions{Listener: true}); err != nil {
		helperFail(status, exitSetupFailed, err)
	}
	err = unix.Exec(cfg.Path, cfg.Args, cfg.Env)
	code := exitNotExec
	if errors.Is(err, unix.ENOENT) {
		code = exitNotFound
	}
	helperFail(status, code, fmt.Errorf("exec %s: %w", cfg.Path, err))
}

func readHelperConfig(fd int) (*helperConfig, error) {
	f := os.NewFile(uintptr(fd), "config")
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

// prepareHelper applies everything but the filter: directory, limits, the
// isolation (descriptors, keyring, capabilities), no_new_privs and the
// Landlock layers.
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
	if err := cfg.Isolation.apply(); err != nil {
		return err
	}
	// seccomp needs no_new_privs on this thread; Landlock too.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	if err := cfg.Isolation.restrictThread(); err != nil {
		return fmt.Errorf("isolation: %w", err)
	}
	if cfg.Landlock != nil {
		if err := cfg.Landlock.restrictThread(); err != nil {
			return err
		}
	}
	return cfg.Layer.restrictThread()
}

// helperFail reports err to the supervisor and exits. The write may be
// trapped; before the target's execve the supervisor answers it Continue.
func helperFail(status *os.File, code int, err error) {
	_, _ = status.WriteString(strconv.Itoa(code) + " " + err.Error())
	os.Exit(code)
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
