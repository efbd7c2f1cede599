package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// Landlock has no right for chmod, chown, utimes or extended attributes,
// and a root command owns root's files: without more, it could make
// /etc/passwd writable to every local user, or strip /usr/bin of its
// execute bits. A read-only mount refuses all of these with EROFS. When the
// helper can (it is root, with CAP_SYS_ADMIN), the command gets a mount
// namespace of its own, with the protected trees of IdentityProtected
// bind-mounted read-only onto themselves (submounts included), and the
// places kept writable inside them mounted writable again. Mounts stay
// as they are in the supervisor's namespace; nothing propagates back
// (everything is made a slave first). Without the privilege (a non-root
// supervisor, whose command cannot chmod root's files anyway, or a
// container without CAP_SYS_ADMIN) the step is skipped: Landlock still
// refuses writes.

// readOnlyPlan returns the paths to make read-only and, after that, the
// paths inside them to make writable again, in that order. It is a pure
// function of the protection and what exists (exists may be a table in
// tests).
func (p *protection) readOnlyPlan(exists func(string) bool) (ro, rw []string) {
	for dir, writable := range systemTree {
		if !exists(dir) {
			continue
		}
		ro = append(ro, dir)
		for _, w := range writable {
			if path := filepath.Join(dir, w); exists(path) {
				rw = append(rw, path)
			}
		}
	}
	for _, home := range p.Homes {
		if !filepath.IsAbs(home) || filepath.Clean(home) == "/" {
			continue
		}
		for _, e := range homeProtected {
			if path := filepath.Join(home, e); exists(path) {
				ro = append(ro, path)
			}
		}
	}
	slices.Sort(ro)
	slices.Sort(rw)
	return slices.Compact(ro), slices.Compact(rw)
}

// existsNoSymlink reports whether path exists and is not a symlink (a
// symlink is protected where its target lives).
func existsNoSymlink(path string) bool {
	st, err := os.Lstat(path)
	return err == nil && st.Mode()&os.ModeSymlink == 0
}

// errNoMountPrivilege means the helper cannot make a mount namespace.
var errNoMountPrivilege = errors.New("no privilege for a mount namespace")

// mountReadOnly gives the calling (locked) thread a mount namespace of its
// own with the protected trees read-only. It returns errNoMountPrivilege,
// and changes nothing, when the thread may not.
func (p *protection) mountReadOnly() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL) {
			return errNoMountPrivilege
		}
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make mounts slaves: %w", err)
	}
	ro, rw := p.readOnlyPlan(existsNoSymlink)
	for _, path := range ro {
		if err := bindSelf(path, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return fmt.Errorf("read-only %s: %w", path, err)
		}
	}
	for _, path := range rw {
		if err := bindSelf(path, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return fmt.Errorf("writable %s: %w", path, err)
		}
	}
	return nil
}

// bindSelf bind-mounts path onto itself with its submounts and applies
// attr to the whole new tree.
func bindSelf(path string, attr *unix.MountAttr) error {
	if err := unix.Mount(path, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // gone meanwhile
		}
		return fmt.Errorf("bind: %w", err)
	}
	if err := unix.MountSetattr(unix.AT_FDCWD, path, unix.AT_RECURSIVE, attr); err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	return nil
}
