package sandbox

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// landlockRuleNetPort is LANDLOCK_RULE_NET_PORT (ABI 4), which x/sys
// lacks.
const landlockRuleNetPort = 2

// landlockNetPortAttr is struct landlock_net_port_attr (packed; two u64,
// so no padding either way), which x/sys lacks.
type landlockNetPortAttr struct {
	allowedAccess uint64
	port          uint64
}

// landlockAddNetRule adds a LANDLOCK_RULE_NET_PORT rule: right on port.
func landlockAddNetRule(ruleset int, right uint64, port uint16) error {
	attr := landlockNetPortAttr{allowedAccess: right, port: uint64(port)}
	_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), landlockRuleNetPort,
		uintptr(unsafe.Pointer(&attr)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
