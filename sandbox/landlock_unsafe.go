package sandbox

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sizes of struct landlock_ruleset_attr: ABI 1 has handled_access_fs only,
// which the kernel accepts on every ABI; ABI 4 adds handled_access_net, ABI
// 6 scoped. The smallest size that holds what is asked for is passed, so
// that an older kernel accepts it.
const (
	sizeofRulesetAttrFS     = 8
	sizeofRulesetAttrNet    = 16
	sizeofRulesetAttrScoped = 24
)

// landlockCreateRuleset creates a ruleset handling filesystem rights fs,
// network rights net and the scopes scoped.
func landlockCreateRuleset(fs, net, scoped uint64) (int, error) {
	attr := unix.LandlockRulesetAttr{Handled_access_fs: fs, Handled_access_net: net, Scoped: scoped}
	size := uintptr(sizeofRulesetAttrFS)
	switch {
	case scoped != 0:
		size = sizeofRulesetAttrScoped
	case net != 0:
		size = sizeofRulesetAttrNet
	}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// landlockAddPathRule adds a LANDLOCK_RULE_PATH_BENEATH rule. The kernel
// reads a packed 12-byte struct, which is the start of x/sys's padded one.
func landlockAddPathRule(ruleset, parent int, rights uint64) error {
	attr := unix.LandlockPathBeneathAttr{Allowed_access: rights, Parent_fd: int32(parent)}
	_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&attr)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func landlockRestrictSelf(ruleset int) error {
	_, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(ruleset), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
