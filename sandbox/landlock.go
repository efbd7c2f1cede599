package sandbox

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/notif"
)

// Landlock is done with raw syscalls rather than go-landlock: that library
// imports libcap's psx, which turns every build with cgo enabled (the Go
// default where a C compiler exists) into a cgo binary linked against libc,
// against the static, cgo-free binary this project promises. What we need is
// small: one ruleset of path rules, enforced on the helper's thread before
// execve.

// landlockConfig is the filesystem part of a Policy, sent to the helper.
type landlockConfig struct {
	ReadOnly  []string
	ReadWrite []string
	// Files is a layer of its own: every right but execute beneath each.
	Files  []string
	Strict bool
}

// Filesystem access rights and the Landlock ABI that introduced them.
const (
	fsReadOnly = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	// fsABI1 is every right of ABI 1.
	fsABI1 = fsReadOnly | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR |
		unix.LANDLOCK_ACCESS_FS_MAKE_REG | unix.LANDLOCK_ACCESS_FS_MAKE_SOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_SYM
	// fsFileRights are the rights that apply to a file (not a directory).
	fsFileRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_TRUNCATE |
		unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	// landlockFullABI is the ABI with every right we use.
	landlockFullABI = 5
)

// handledFSRights returns the filesystem rights Landlock ABI abi can
// restrict (0 for none): ABI 2 adds REFER, 3 TRUNCATE, 5 IOCTL_DEV.
func handledFSRights(abi int) uint64 {
	var rights uint64
	if abi >= 1 {
		rights |= fsABI1
	}
	if abi >= 2 {
		rights |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		rights |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		rights |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return rights
}

// landlockRule is one path and the rights granted beneath it.
type landlockRule struct {
	path   string
	rights uint64
	// optional rules are skipped when the path is gone by the time the
	// rule is added (the write-protection layer lists directories first).
	optional bool
}

// plan returns the rights to handle and the rules for a kernel with
// Landlock ABI abi. In strict mode an ABI older than landlockFullABI is an
// error; otherwise the rules degrade to what the kernel can restrict (with
// ABI 0, nothing). It is a pure function of its inputs, isDir included.
func (c *landlockConfig) plan(abi int, isDir func(string) (bool, error)) (uint64, []landlockRule, error) {
	if c.Strict && abi < landlockFullABI {
		return 0, nil, fmt.Errorf("landlock: %w", &notif.UnsupportedFeatureError{
			Name: "Landlock ABI 5 (strict mode)", MinimumVersion: "6.10",
			Reason: fmt.Sprintf("the kernel has ABI %d", abi)})
	}
	handled := handledFSRights(abi)
	if handled == 0 {
		return 0, nil, nil
	}
	var rules []landlockRule
	add := func(paths []string, rights uint64) error {
		for _, p := range paths {
			dir, err := isDir(p)
			if err != nil {
				return fmt.Errorf("landlock path: %w", err)
			}
			r := rights & handled
			if !dir {
				r &= fsFileRights
			}
			rules = append(rules, landlockRule{path: p, rights: r})
		}
		return nil
	}
	if err := add(c.ReadOnly, fsReadOnly); err != nil {
		return 0, nil, err
	}
	if err := add(c.ReadWrite, handled); err != nil {
		return 0, nil, err
	}
	return handled, rules, nil
}

func statIsDir(p string) (bool, error) {
	st, err := os.Stat(p)
	if err != nil {
		return false, err
	}
	return st.IsDir(), nil
}

// check verifies the paths in the supervisor, so that a typo is an error
// at Start and not a confusing denial in the target.
func (c *landlockConfig) check() error {
	for _, p := range slices.Concat(c.ReadOnly, c.ReadWrite, c.Files) {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("landlock path: %w", err)
		}
	}
	return nil
}

// restrictThread enforces the rules on the calling (locked) thread, which
// must have no_new_privs set.
func (c *landlockConfig) restrictThread() error {
	abi, err := notif.LandlockABI()
	if err != nil && !errors.Is(err, notif.ErrNotSupported) {
		return err
	}
	handled, rules, err := c.plan(abi, statIsDir)
	if err != nil || handled == 0 {
		return err
	}
	if len(c.ReadOnly)+len(c.ReadWrite) > 0 {
		if err := restrictLayer(handled, 0, rules); err != nil {
			return err
		}
	}
	if len(c.Files) == 0 {
		return nil
	}
	handled, rules, err = c.filesPlan(abi, statIsDir)
	if err != nil {
		return err
	}
	return restrictLayer(handled, 0, rules)
}

// filesPlan returns the rights and rules of the Files layer: every right
// the kernel handles but execute, granted beneath each path.
func (c *landlockConfig) filesPlan(abi int, isDir func(string) (bool, error)) (uint64, []landlockRule, error) {
	handled := handledFSRights(abi) &^ unix.LANDLOCK_ACCESS_FS_EXECUTE
	var rules []landlockRule
	for _, p := range c.Files {
		dir, err := isDir(p)
		if err != nil {
			return 0, nil, fmt.Errorf("landlock path: %w", err)
		}
		r := handled
		if !dir {
			r &= fsFileRights
		}
		rules = append(rules, landlockRule{path: p, rights: r})
	}
	return handled, rules, nil
}

// restrictLayer adds one Landlock layer to the calling thread: handled
// filesystem rights granted by rules, and scopes.
func restrictLayer(handled, scoped uint64, rules []landlockRule) error {
	ruleset, err := landlockCreateRuleset(handled, 0, scoped)
	if err != nil {
		return fmt.Errorf("landlock_create_ruleset: %w", err)
	}
	defer unix.Close(ruleset)
	for _, r := range rules {
		if r.rights&handled == 0 {
			continue
		}
		r.rights &= handled
		if err := addPathRule(ruleset, r); err != nil {
			if r.optional && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EACCES)) {
				continue
			}
			return err
		}
	}
	if err := landlockRestrictSelf(ruleset); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("landlock_restrict_self (no_new_privs missing?): %w", err)
		}
		return fmt.Errorf("landlock_restrict_self: %w", err)
	}
	return nil
}

func addPathRule(ruleset int, r landlockRule) error {
	fd, err := unix.Open(r.path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("landlock path %s: %w", r.path, err)
	}
	defer unix.Close(fd)
	if err := landlockAddPathRule(ruleset, fd, r.rights); err != nil {
		return fmt.Errorf("landlock_add_rule %s: %w", r.path, err)
	}
	return nil
}
