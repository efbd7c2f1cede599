package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/notif"
)

// Identity is who the command is to the host. Every identity keeps the
// supervisor out of the command's reach (see the package documentation);
// they differ in what the command may do to the rest of the host.
type Identity int

const (
	// IdentityProtected, the default, keeps the caller's user and group
	// IDs, drops every capability (see Policy.CapAdd), and puts the places
	// that the kernel or the system runs as root out of write reach with
	// Landlock, and out of chmod's reach with read-only mounts where the
	// supervisor is root: /etc, /usr, /bin, /sbin, /lib*, /boot, /proc (so
	// /proc/sys), /sys, /dev (but null, zero, full, random, urandom, tty,
	// ptmx, pts, shm, mqueue), /run (but user, lock, shm), /var (but tmp),
	// and the shell start-up files, ~/.ssh, ~/.local/bin and autostart
	// directories of the caller's home and of /root. Everything
	// else stays writable as the caller's user, so a root build can write
	// its root-owned working directory. New files directly in a home
	// directory cannot be created (Landlock cannot grant a directory
	// without the start-up files in it).
	IdentityProtected Identity = iota
	// IdentityHostRoot runs the command with the caller's identity and
	// capabilities and no write protection: "run as real root, no
	// boundary". The supervisor stays out of reach, and the kernel deny
	// list still applies.
	IdentityHostRoot
	// IdentityUserNamespace runs the command as root of a user namespace
	// of its own, mapped to an unprivileged host user: nobody (the
	// kernel's overflow uid and gid, 65534) when the supervisor is root,
	// the supervisor's own user otherwise (as rootless containers do).
	// To the host it is a stranger: it cannot write root-owned files or
	// directories, the working directory included, nor enter private
	// directories; PROGRAM must be reachable and executable by that user.
	// Its capabilities inside are dropped like IdentityProtected's.
	IdentityUserNamespace
)

// String returns the identity's name as the CLI spells it.
func (i Identity) String() string {
	switch i {
	case IdentityProtected:
		return "protected"
	case IdentityHostRoot:
		return "host-root"
	case IdentityUserNamespace:
		return "userns"
	}
	return fmt.Sprintf("Identity(%d)", int(i))
}

// ParseIdentity parses the CLI spelling of an Identity.
func ParseIdentity(s string) (Identity, error) {
	switch s {
	case "protected":
		return IdentityProtected, nil
	case "host-root":
		return IdentityHostRoot, nil
	case "userns":
		return IdentityUserNamespace, nil
	}
	return 0, fmt.Errorf("unknown identity %q (want protected, userns or host-root)", s)
}

// ErrNoBoundary means the kernel lacks what an identity needs to protect
// the host from the command (Landlock); the error says what is missing.
var ErrNoBoundary = errors.New("sandbox: the kernel cannot confine the command")

// Rights of the write-protection layer: every filesystem right that
// creates, changes or removes something. Reading and executing are left
// alone (not handled), so they are never restricted by this layer.
const fsWriteRights = unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
	unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
	unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR |
	unix.LANDLOCK_ACCESS_FS_MAKE_REG | unix.LANDLOCK_ACCESS_FS_MAKE_SOCK |
	unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
	unix.LANDLOCK_ACCESS_FS_MAKE_SYM | unix.LANDLOCK_ACCESS_FS_REFER |
	unix.LANDLOCK_ACCESS_FS_TRUNCATE

// Landlock ABI versions the isolation relies on.
const (
	// landlockReferABI added REFER: without it, a ruleset that handles
	// writes makes every cross-directory rename and link fail with EXDEV.
	// Linux 5.19, the sandbox's minimum, has it.
	landlockReferABI = 2
	// landlockScopeABI added the signal and abstract unix socket scopes
	// (Linux 6.12).
	landlockScopeABI = 6
)

// systemTree says, for each path the command must not write, which of its
// entries stay writable. A nil list protects the whole tree.
var systemTree = map[string][]string{
	"/etc":    nil,
	"/usr":    nil,
	"/bin":    nil,
	"/sbin":   nil,
	"/lib":    nil,
	"/lib32":  nil,
	"/lib64":  nil,
	"/libx32": nil,
	"/boot":   nil,
	"/proc":   nil,
	"/sys":    nil,
	"/dev":    {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "mqueue"},
	"/run":    {"user", "lock", "shm"},
	"/var":    {"tmp"},
}

// homeProtected are the entries of a home directory that a shell, a login
// or a desktop session runs or trusts; the rest of the home stays writable.
// A "/" in a name protects an entry one level down.
var homeProtected = []string{
	".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
	".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout",
	".cshrc", ".tcshrc", ".login", ".logout", ".kshrc", ".mkshrc", ".inputrc",
	".pam_environment", ".xprofile", ".xinitrc", ".xsession", ".forward",
	".ssh", ".gnupg", ".rhosts", ".shosts", ".k5login",
	".config/autostart", ".config/systemd", ".config/environment.d", ".config/fish",
	".local/bin",
}

// protection describes the write-protection layer for one run.
type protection struct {
	// Homes are the home directories whose start-up files are protected.
	Homes []string
}

// dirEntry is one name in a directory, as a dirLister reports it.
type dirEntry struct {
	Name    string
	Symlink bool
	Dir     bool
}

// dirLister lists a directory; it reads the filesystem in the helper and a
// table in tests.
type dirLister func(dir string) ([]dirEntry, error)

// readDir is the dirLister of the real filesystem.
func readDir(dir string) ([]dirEntry, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]dirEntry, len(entries))
	for i, e := range entries {
		out[i] = dirEntry{Name: e.Name(), Symlink: e.Type()&os.ModeSymlink != 0, Dir: e.IsDir()}
	}
	return out, nil
}

// plan returns the rules of the write-protection layer: REFER beneath /,
// so that renames and links between writable places keep working (Landlock
// refuses a move that would give a file more rights, so nothing moves out
// of a protected tree into a writable one, nor in), and every write right
// beneath each writable entry. The walk goes from / down to each protected
// place and grants every sibling on the way whole; a symlink is not
// granted (its target is judged where it lives). It is a pure function of
// its inputs.
func (p *protection) plan(list dirLister) ([]landlockRule, error) {
	protected := map[string]bool{} // protected whole
	descend := map[string]bool{}   // holds something protected: walk it
	addAncestors := func(path string) {
		for d := filepath.Dir(path); d != "/"; d = filepath.Dir(d) {
			descend[d] = true
		}
	}
	for dir, writable := range systemTree {
		if writable == nil {
			protected[dir] = true
		} else {
			descend[dir] = true
		}
		addAncestors(dir)
	}
	for _, home := range p.Homes {
		if !filepath.IsAbs(home) || filepath.Clean(home) == "/" {
			continue
		}
		for _, e := range homeProtected {
			path := filepath.Join(home, e)
			protected[path] = true
			addAncestors(path)
		}
	}

	rules := []landlockRule{{path: "/", rights: unix.LANDLOCK_ACCESS_FS_REFER}}
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := list(dir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
				return nil // nothing to grant beneath it
			}
			return fmt.Errorf("list %s: %w", dir, err)
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
		writable, system := systemTree[dir]
		for _, e := range entries {
			child := filepath.Join(dir, e.Name)
			grant := landlockRule{path: child, rights: fsWriteRights, optional: true}
			if !e.Dir {
				grant.rights &= fsFileRights
			}
			switch {
			case e.Symlink, protected[child]:
			case system && slices.Contains(writable, e.Name):
				rules = append(rules, grant)
			case descend[child]:
				if err := walk(child); err != nil {
					return err
				}
			case system:
				// A system directory lists what stays writable.
			default:
				rules = append(rules, grant)
			}
		}
		return nil
	}
	if err := walk("/"); err != nil {
		return nil, err
	}
	return rules, nil
}

// isolationConfig is what the helper needs to isolate the command, sent
// with the helperConfig.
type isolationConfig struct {
	// Protect is the write-protection layer; nil for IdentityHostRoot.
	Protect *protection `json:",omitempty"`
	// Caps are the capabilities kept (numbers); every other is dropped.
	// DropCaps is false for IdentityHostRoot.
	DropCaps bool
	Caps     []int `json:",omitempty"`
	// FirstPrivateFD is the first descriptor number the command must not
	// inherit: 3 plus the number of extra files.
	FirstPrivateFD int
	// ReadOnlyMounts asks for the protected trees read-only in a mount
	// namespace of the command's, where the helper may (see mounts.go).
	ReadOnlyMounts bool

	// supervisorThread marks the copy a confined supervisor thread uses.
	supervisorThread bool
}

// homes returns the home directories whose start-up files are protected:
// the caller's and root's.
func homes(env []string) []string {
	out := []string{"/root"}
	if h, err := os.UserHomeDir(); err == nil && h != "/" {
		out = append(out, h)
	}
	for _, kv := range env {
		if h, ok := strings.CutPrefix(kv, "HOME="); ok && h != "" && h != "/" {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// requireLandlockBoundary fails, wrapping ErrNoBoundary and saying what is
// missing, when the kernel's Landlock cannot protect the host from a root
// command.
func requireLandlockBoundary() error {
	abi, err := notif.LandlockABI()
	if err != nil && !errors.Is(err, notif.ErrNotSupported) {
		return err
	}
	if abi < landlockReferABI {
		return fmt.Errorf("%w: Landlock ABI %d (needs %d, Linux 5.19, enabled in the lsm= list) to keep a root command out of /etc, /proc/sys and the other system areas; run as a non-root user, or choose IdentityHostRoot (--identity host-root) to run without that boundary",
			ErrNoBoundary, abi, landlockReferABI)
	}
	return nil
}

// restrictThread adds the isolation layer to the calling (locked) thread,
// which has no_new_privs: the write protection, and on ABI 6 the signal and
// abstract unix socket scopes. Any Landlock domain also keeps the command
// from ptrace (and so /proc/PID/mem) of processes outside it, from ABI 1.
func (c *isolationConfig) restrictThread() error {
	abi, err := notif.LandlockABI()
	if err != nil && !errors.Is(err, notif.ErrNotSupported) {
		return err
	}
	if abi < 1 {
		return nil // checked by the supervisor: allowed for this identity
	}
	var handled, scoped uint64
	var rules []landlockRule
	if c.Protect != nil && abi >= landlockReferABI {
		handled = fsWriteRights & handledFSRights(abi)
		if rules, err = c.Protect.plan(readDir); err != nil {
			return fmt.Errorf("write protection: %w", err)
		}
	}
	if abi >= landlockScopeABI {
		scoped = unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
		if !c.supervisorThread {
			// Not on a supervisor thread: the Go runtime signals the
			// process's other threads (preemption), which kernels
			// before 6.15 refuse across domains; nothing outside the
			// supervisor could be reached through it anyway.
			scoped |= unix.LANDLOCK_SCOPE_SIGNAL
		}
	}
	if handled == 0 && scoped == 0 {
		// A domain that restricts nothing on the filesystem, for its
		// ptrace boundary.
		handled = unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK
		rules = []landlockRule{{path: "/", rights: handled}}
	}
	return restrictLayer(handled, scoped, rules)
}

// isolation returns what the helper does to isolate the command, and fails
// when the kernel cannot give p's identity its boundary.
func (p *Policy) isolation(env []string, extraFiles int) (*isolationConfig, error) {
	cfg := &isolationConfig{FirstPrivateFD: 3 + extraFiles}
	switch p.Identity {
	case IdentityProtected:
		caps, err := capNumbers(p.CapAdd)
		if err != nil {
			return nil, err
		}
		cfg.DropCaps, cfg.Caps = true, caps
		cfg.Protect = &protection{Homes: homes(env)}
		cfg.ReadOnlyMounts = true
		if os.Geteuid() == 0 {
			if err := requireLandlockBoundary(); err != nil {
				return nil, err
			}
		}
	case IdentityUserNamespace:
		caps, err := capNumbers(p.CapAdd)
		if err != nil {
			return nil, err
		}
		// Dropped inside the namespace; the host's DAC checks keep the
		// stranger out of the system areas, and the write protection
		// stays as a second layer where Landlock exists.
		cfg.DropCaps, cfg.Caps = true, caps
		cfg.Protect = &protection{Homes: homes(env)}
	case IdentityHostRoot:
	default:
		return nil, fmt.Errorf("unknown %v", p.Identity)
	}
	return cfg, nil
}

// apply isolates the calling (locked) helper thread before the command
// is executed: descriptors, session keyring, read-only mounts, then what it
// shares with the confined supervisor threads (confine).
func (c *isolationConfig) apply(ll *landlockConfig) error {
	// Only 0, 1, 2 and the extra files reach the command; the helper's
	// own descriptors above them are close-on-exec already.
	if err := unix.CloseRange(uint(c.FirstPrivateFD), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close inherited descriptors: %w", err)
	}
	// A session keyring of its own: the caller's keys stay out of reach
	// even where keyctl is allowed.
	if _, _, e := unix.RawSyscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0); e != 0 && e != unix.ENOSYS {
		return fmt.Errorf("join a new session keyring: %w", e)
	}
	if c.ReadOnlyMounts && c.Protect != nil {
		if err := c.Protect.mountReadOnly(); err != nil && !errors.Is(err, errNoMountPrivilege) {
			return fmt.Errorf("read-only system areas: %w", err)
		}
	}
	return c.confine(ll)
}

// confine gives the calling locked thread the command's restrictions, the
// same for the helper and for the supervisor's confined threads:
// capabilities, no_new_privs (seccomp and Landlock need it), the isolation
// layer and the user's Landlock layer (ll, nil for none).
func (c *isolationConfig) confine(ll *landlockConfig) error {
	if c.DropCaps {
		if err := dropCapabilities(c.Caps); err != nil {
			return fmt.Errorf("capabilities: %w", err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	if err := c.restrictThread(); err != nil {
		return fmt.Errorf("isolation: %w", err)
	}
	if ll != nil {
		return ll.restrictThread()
	}
	return nil
}

// overflowID is the kernel's default overflow uid and gid (nobody), the
// host identity of a user namespace's root when the supervisor is root.
const overflowID = 65534

// userNamespace sets attr up to start the helper as root of a new user
// namespace mapped to an unprivileged host user, for IdentityUserNamespace.
// Go's fork writes the maps from this process before the helper runs.
func userNamespace(attr *syscall.SysProcAttr) {
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = overflowID, overflowID
	}
	attr.Cloneflags |= unix.CLONE_NEWUSER
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}}
	attr.GidMappingsEnableSetgroups = false
	// Become the namespace's root: until then the helper keeps the
	// supervisor's host identity, which the namespace does not map.
	attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
}
