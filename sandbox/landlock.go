package sandbox

import (
	"errors"
	"fmt"
	"os"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsyscall "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// landlockConfig is the filesystem part of a Policy, sent to the helper.
type landlockConfig struct {
	ReadOnly  []string
	ReadWrite []string
	Strict    bool
}

// handledFS is every filesystem right up to ABI 5: once a Policy lists
// paths, everything else on the filesystem is denied.
var handledFS = landlock.V5.HandledAccessFS

// check verifies the paths in the supervisor, so that a typo is an error
// at Start and not a confusing denial in the target.
func (c *landlockConfig) check() error {
	for _, p := range append(append([]string(nil), c.ReadOnly...), c.ReadWrite...) {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("landlock path: %w", err)
		}
	}
	return nil
}

func (c *landlockConfig) rules() ([]landlock.Rule, error) {
	var rules []landlock.Rule
	add := func(paths []string, write bool) error {
		for _, p := range paths {
			st, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("landlock path: %w", err)
			}
			switch {
			case st.IsDir() && write:
				rules = append(rules, landlock.RWDirs(p).WithRefer())
			case st.IsDir():
				rules = append(rules, landlock.RODirs(p))
			case write:
				rules = append(rules, landlock.RWFiles(p))
			default:
				rules = append(rules, landlock.ROFiles(p))
			}
		}
		return nil
	}
	if err := add(c.ReadOnly, false); err != nil {
		return nil, err
	}
	if err := add(c.ReadWrite, true); err != nil {
		return nil, err
	}
	return rules, nil
}

// restrictThread enforces the rules on the calling (locked) thread, which
// must have no_new_privs set.
func (c *landlockConfig) restrictThread() error {
	rules, err := c.rules()
	if err != nil {
		return err
	}
	cfg, err := landlock.NewConfig(handledFS)
	if err != nil {
		return fmt.Errorf("landlock config: %w", err)
	}
	if !c.Strict {
		*cfg = cfg.BestEffort()
	}
	fd, flags, err := cfg.NewRulesetFD(rules...)
	if err != nil {
		return fmt.Errorf("landlock ruleset: %w", err)
	}
	if fd < 0 {
		return nil // best effort on a kernel without Landlock
	}
	defer unix.Close(fd)
	if err := llsyscall.LandlockRestrictSelf(fd, flags); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("landlock restrict self (no_new_privs missing?): %w", err)
		}
		return fmt.Errorf("landlock restrict self: %w", err)
	}
	return nil
}
