package notif

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrNotSupported means the running kernel lacks a feature. Errors that carry
// it are *UnsupportedFeatureError.
var ErrNotSupported = errors.New("not supported")

// UnsupportedFeatureError names a missing kernel feature and the first
// kernel version that has it. It matches ErrNotSupported with errors.Is.
type UnsupportedFeatureError struct {
	// Name of the feature, e.g. "ADDFD SEND".
	Name string
	// MinimumVersion is the first Linux version with the feature.
	MinimumVersion string
	// Reason is an optional detail of the probe.
	Reason string
}

func (e *UnsupportedFeatureError) Error() string {
	msg := fmt.Sprintf("%s not supported (requires Linux >= %s)", e.Name, e.MinimumVersion)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// Is makes errors.Is(err, ErrNotSupported) true.
func (e *UnsupportedFeatureError) Is(target error) bool { return target == ErrNotSupported }

// Feature is one kernel capability the supervisor uses, probed once and
// cached when the answer is conclusive.
type Feature struct {
	// Name is the human-readable name.
	Name string
	// MinimumVersion is the first Linux version that has it.
	MinimumVersion string

	probe func() error
	mu    sync.Mutex
	done  bool
	err   error
}

func newFeature(name, version string, probe func() error) *Feature {
	return &Feature{Name: name, MinimumVersion: version, probe: probe}
}

// Check returns nil when the feature is available, an error matching
// ErrNotSupported when the kernel lacks it, or another error when the probe
// could not tell (that answer is not cached).
func (f *Feature) Check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return f.err
	}
	err := f.probe()
	var unsupported *UnsupportedFeatureError
	if err == nil || errors.As(err, &unsupported) {
		f.done, f.err = true, err
	}
	return err
}

func (f *Feature) unsupported(reason string) error {
	return &UnsupportedFeatureError{Name: f.Name, MinimumVersion: f.MinimumVersion, Reason: reason}
}

// The features, in the order Features lists them.
var (
	// HaveUserNotif: SECCOMP_RET_USER_NOTIF and the listener (Linux 5.0).
	HaveUserNotif = newFeature("seccomp user notification", "5.0", nil)
	// HaveWaitKillableRecv: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19).
	HaveWaitKillableRecv = newFeature("WAIT_KILLABLE_RECV", "5.19", nil)
	// HaveAddFDSend: SECCOMP_ADDFD_FLAG_SEND (5.14).
	HaveAddFDSend = newFeature("ADDFD SEND", "5.14", nil)
	// HaveSyncWakeUp: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (6.6).
	HaveSyncWakeUp = newFeature("sync wake-up", "6.6", nil)
	// HaveLandlock: Landlock (5.13); see LandlockABI for the version.
	HaveLandlock = newFeature("Landlock", "5.13", nil)
)

func init() {
	HaveUserNotif.probe = probeUserNotif
	HaveWaitKillableRecv.probe = probeWaitKillableRecv
	HaveAddFDSend.probe = func() error { return probeVersion(HaveAddFDSend, 5, 14) }
	HaveSyncWakeUp.probe = func() error { return probeVersion(HaveSyncWakeUp, 6, 6) }
	HaveLandlock.probe = func() error {
		_, err := LandlockABI()
		return err
	}
}

// Features lists every probed feature.
func Features() []*Feature {
	return []*Feature{HaveUserNotif, HaveWaitKillableRecv, HaveAddFDSend, HaveSyncWakeUp, HaveLandlock}
}

func probeUserNotif() error {
	ret := uint32(unix.SECCOMP_RET_USER_NOTIF)
	if err := seccompActionAvail(ret); err != nil {
		if err == unix.EOPNOTSUPP || err == unix.EINVAL {
			return HaveUserNotif.unsupported("SECCOMP_GET_ACTION_AVAIL rejects SECCOMP_RET_USER_NOTIF")
		}
		return fmt.Errorf("probe user notification: %w", err)
	}
	if _, err := Sizes(); err != nil {
		return HaveUserNotif.unsupported(fmt.Sprintf("SECCOMP_GET_NOTIF_SIZES: %v", err))
	}
	return nil
}

// probeWaitKillableRecv installs nothing: the kernel validates the flags
// before it reads the (NULL) program, so a known flag gives EFAULT and an
// unknown one EINVAL.
func probeWaitKillableRecv() error {
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	switch err := seccompSetFilterNil(flags); err {
	case unix.EFAULT:
		return nil
	case unix.EINVAL:
		return HaveWaitKillableRecv.unsupported("the kernel rejects the flag")
	case nil:
		return errors.New("probe WAIT_KILLABLE_RECV: a NULL filter was accepted (bug)")
	default:
		return fmt.Errorf("probe WAIT_KILLABLE_RECV: %w", err)
	}
}

// probeVersion decides by the kernel release for features that cannot be
// probed without a live notification.
func probeVersion(f *Feature, major, minor int) error {
	got, err := KernelVersion()
	if err != nil {
		return fmt.Errorf("probe %s: %w", f.Name, err)
	}
	if got[0] > major || got[0] == major && got[1] >= minor {
		return nil
	}
	return f.unsupported(fmt.Sprintf("running %d.%d", got[0], got[1]))
}

// KernelVersion returns the major and minor version of the running kernel.
func KernelVersion() ([2]int, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return [2]int{}, fmt.Errorf("uname: %w", err)
	}
	release := unix.ByteSliceToString(uts.Release[:])
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return [2]int{}, fmt.Errorf("parse kernel release %q", release)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(leadingDigits(parts[1]))
	if err1 != nil || err2 != nil {
		return [2]int{}, fmt.Errorf("parse kernel release %q", release)
	}
	return [2]int{major, minor}, nil
}

// LandlockABI returns the Landlock ABI version of the running kernel, or an
// error matching ErrNotSupported.
func LandlockABI() (int, error) {
	v, err := landlockABIVersion()
	if err != nil {
		if err == unix.ENOSYS || err == unix.EOPNOTSUPP {
			return 0, HaveLandlock.unsupported(fmt.Sprintf("landlock_create_ruleset: %v", err))
		}
		return 0, fmt.Errorf("probe Landlock: %w", err)
	}
	return v, nil
}

// leadingDigits returns the decimal prefix of s ("18" of "18-rc1").
func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
