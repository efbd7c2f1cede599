package sandbox

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// capabilityNames maps the kernel's capability names, without the CAP_
// prefix and in lower case, to their numbers.
var capabilityNames = map[string]int{
	"chown": unix.CAP_CHOWN, "dac_override": unix.CAP_DAC_OVERRIDE,
	"dac_read_search": unix.CAP_DAC_READ_SEARCH, "fowner": unix.CAP_FOWNER,
	"fsetid": unix.CAP_FSETID, "kill": unix.CAP_KILL, "setgid": unix.CAP_SETGID,
	"setuid": unix.CAP_SETUID, "setpcap": unix.CAP_SETPCAP,
	"linux_immutable": unix.CAP_LINUX_IMMUTABLE, "net_bind_service": unix.CAP_NET_BIND_SERVICE,
	"net_broadcast": unix.CAP_NET_BROADCAST, "net_admin": unix.CAP_NET_ADMIN,
	"net_raw": unix.CAP_NET_RAW, "ipc_lock": unix.CAP_IPC_LOCK, "ipc_owner": unix.CAP_IPC_OWNER,
	"sys_module": unix.CAP_SYS_MODULE, "sys_rawio": unix.CAP_SYS_RAWIO,
	"sys_chroot": unix.CAP_SYS_CHROOT, "sys_ptrace": unix.CAP_SYS_PTRACE,
	"sys_pacct": unix.CAP_SYS_PACCT, "sys_admin": unix.CAP_SYS_ADMIN,
	"sys_boot": unix.CAP_SYS_BOOT, "sys_nice": unix.CAP_SYS_NICE,
	"sys_resource": unix.CAP_SYS_RESOURCE, "sys_time": unix.CAP_SYS_TIME,
	"sys_tty_config": unix.CAP_SYS_TTY_CONFIG, "mknod": unix.CAP_MKNOD,
	"lease": unix.CAP_LEASE, "audit_write": unix.CAP_AUDIT_WRITE,
	"audit_control": unix.CAP_AUDIT_CONTROL, "setfcap": unix.CAP_SETFCAP,
	"mac_override": unix.CAP_MAC_OVERRIDE, "mac_admin": unix.CAP_MAC_ADMIN,
	"syslog": unix.CAP_SYSLOG, "wake_alarm": unix.CAP_WAKE_ALARM,
	"block_suspend": unix.CAP_BLOCK_SUSPEND, "audit_read": unix.CAP_AUDIT_READ,
	"perfmon": unix.CAP_PERFMON, "bpf": unix.CAP_BPF,
	"checkpoint_restore": unix.CAP_CHECKPOINT_RESTORE,
}

// ErrUnknownCapability means a name in Policy.CapAdd is no capability.
var ErrUnknownCapability = errors.New("unknown capability")

// ParseCapability returns the number of a capability named "CAP_NET_RAW",
// "NET_RAW" or "net_raw" (ASCII case folding only: "ſetuid" is no name).
func ParseCapability(name string) (int, error) {
	key := strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, name)
	if n, ok := capabilityNames[strings.TrimPrefix(key, "cap_")]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("%w %q (e.g. CAP_NET_BIND_SERVICE)", ErrUnknownCapability, name)
}

// capNumbers parses names into sorted, distinct capability numbers.
func capNumbers(names []string) ([]int, error) {
	var out []int
	for _, name := range names {
		n, err := ParseCapability(name)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// capSets is the three capability sets of a thread as 64-bit masks.
type capSets struct{ effective, permitted, inheritable uint64 }

func capMask(caps []int) uint64 {
	var m uint64
	for _, c := range caps {
		m |= 1 << uint(c)
	}
	return m
}

// currentCaps reads the calling thread's capability sets.
func currentCaps() (capSets, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return capSets{}, fmt.Errorf("capget: %w", err)
	}
	return capSets{
		effective:   uint64(data[0].Effective) | uint64(data[1].Effective)<<32,
		permitted:   uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32,
		inheritable: uint64(data[0].Inheritable) | uint64(data[1].Inheritable)<<32,
	}, nil
}

func setCaps(s capSets) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(s.effective), Permitted: uint32(s.permitted), Inheritable: uint32(s.inheritable)},
		{Effective: uint32(s.effective >> 32), Permitted: uint32(s.permitted >> 32), Inheritable: uint32(s.inheritable >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// dropCapabilities leaves the calling (locked) thread, and what it
// executes, with the capabilities keep and no other: the bounding set
// loses the rest (so that executing a file as root grants nothing more),
// the ambient set holds keep (so that a non-root command keeps them across
// execve), and effective, permitted and inheritable become keep.
func dropCapabilities(keep []int) error {
	have, err := currentCaps()
	if err != nil {
		return err
	}
	want := capMask(keep)
	if missing := want &^ have.permitted; missing != 0 {
		var names []string
		for name, n := range capabilityNames {
			if missing&(1<<uint(n)) != 0 {
				names = append(names, "CAP_"+strings.ToUpper(name))
			}
		}
		slices.Sort(names)
		return fmt.Errorf("keep %s: the supervisor does not have it", strings.Join(names, ", "))
	}
	canSetBounding := have.effective&(1<<unix.CAP_SETPCAP) != 0
	for c := 0; c <= 63; c++ {
		if want&(1<<uint(c)) != 0 {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			break // past the kernel's last capability
		}
		if err != nil && canSetBounding {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
		// Without CAP_SETPCAP the thread has no capability to lose, and
		// no_new_privs keeps execve from granting one.
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	if err := setCaps(capSets{effective: want, permitted: want, inheritable: want}); err != nil {
		return err
	}
	for _, c := range keep {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %d: %w", c, err)
		}
	}
	return nil
}
