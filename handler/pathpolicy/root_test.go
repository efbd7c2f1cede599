package pathpolicy

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// readFD reads the file open O_PATH at fd.
func readFD(t *testing.T, fd int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/fd/" + strconv.Itoa(fd))
	require.NoError(t, err)
	return string(b)
}

// TestRoot: under a Root, absolute paths, absolute symlinks and ".." are
// resolved in the root and never leave it, relative paths are resolved
// from the process's dirfd, the canonical paths are the root's, and the
// deny list names the root's files (a hard link to the root's denied file
// is denied; the host's file at the same path is not what is opened).
func TestRoot(t *testing.T) {
	dir := t.TempDir()
	hostFile := filepath.Join(t.TempDir(), "same-path")
	require.NoError(t, os.WriteFile(hostFile, []byte("host"), 0o644))
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("secret", "root secret")
	write("etc/conf", "root etc")
	write(hostFile, "root file")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.Symlink("/etc/conf", filepath.Join(dir, "abs")))
	require.NoError(t, os.Symlink("../../../../../etc/conf", filepath.Join(dir, "up")))
	require.NoError(t, os.Symlink("../secret", filepath.Join(dir, "sub/rel")))
	require.NoError(t, os.Symlink(hostFile, filepath.Join(dir, "sub/host")))
	require.NoError(t, os.Link(filepath.Join(dir, "secret"), filepath.Join(dir, "hard")))

	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	root, err := NewRoot(fd)
	require.NoError(t, err)
	defer root.Close()

	p, err := NewOpenPolicy(Rules{Deny: []string{"/secret"}})
	require.NoError(t, err)
	q, err := p.WithRoot(root)
	require.NoError(t, err)
	c := ctxFor(t, os.Getpid())
	sub, err := unix.Open(filepath.Join(dir, "sub"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(sub)

	for _, tc := range []struct {
		dirfd       int32
		path        string
		canon, read string
		denied      bool
	}{
		{unix.AT_FDCWD, "/abs", "/etc/conf", "root etc", false},
		{unix.AT_FDCWD, "/up", "/etc/conf", "root etc", false},
		{unix.AT_FDCWD, "/../../../etc/conf", "/etc/conf", "root etc", false},
		{unix.AT_FDCWD, hostFile, hostFile, "root file", false},
		{unix.AT_FDCWD, "/secret", "/secret", "", true},
		{unix.AT_FDCWD, "/hard", "/hard", "", true},
		{int32(sub), "rel", "/secret", "", true},
		{int32(sub), "../secret", "/secret", "", true},
		{int32(sub), "../../../../secret", "/secret", "", true},
		{int32(sub), "../etc/conf", "/etc/conf", "root etc", false},
		{int32(sub), "host", hostFile, "root file", false},
		{int32(sub), ".", "/sub", "", false},
	} {
		obj, canon, errno := q.lookup(c, tc.dirfd, tc.path, lookupHow{follow: true})
		require.Zero(t, errno, tc.path)
		require.Equal(t, tc.canon, canon, tc.path)
		if tc.read != "" {
			require.Equal(t, tc.read, readFD(t, obj), tc.path)
		}
		require.Equal(t, tc.denied, q.check(c, obj, canon) != 0, tc.path)
		unix.Close(obj)
	}
	// Without the root, the same policy looks on the host.
	obj, canon, errno := p.lookup(c, unix.AT_FDCWD, hostFile, lookupHow{follow: true})
	require.Zero(t, errno)
	require.Equal(t, hostFile, canon)
	require.Equal(t, "host", readFD(t, obj))
	unix.Close(obj)

	// A descriptor outside the root has a path no rule matches.
	out, err := unix.Open(filepath.Dir(hostFile), unix.O_PATH|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(out)
	got, errno := root.path(out)
	require.Zero(t, errno)
	require.Equal(t, "?"+filepath.Dir(hostFile), got)
	// Reached through it: an allow list denies it, a deny list does not
	// (it matches no rule).
	obj, canon, errno = q.lookup(c, int32(out), filepath.Base(hostFile), lookupHow{follow: true})
	require.Zero(t, errno)
	require.Equal(t, "?"+hostFile, canon)
	require.Zero(t, q.check(c, obj, canon))
	allow, err := NewOpenPolicy(Rules{Allow: []string{"/"}})
	require.NoError(t, err)
	allow, err = allow.WithRoot(root)
	require.NoError(t, err)
	require.Equal(t, unix.EACCES, allow.check(c, obj, canon))
	require.Zero(t, allow.check(c, obj, hostFile), "the same object by a path in the root")
	unix.Close(obj)

	require.NoError(t, root.Close())
	require.NoError(t, root.Close(), "a second Close does nothing")
}

// TestRootCloseInUse: Close while a policy call uses the root closes the
// descriptor when that call ends; a closed root is used by no one.
func TestRootCloseInUse(t *testing.T) {
	r, err := OpenRoot(os.Getpid())
	require.NoError(t, err)
	fd := r.fd
	require.True(t, r.acquire())
	require.NoError(t, r.Close())
	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st), "still open for the call under way")
	require.False(t, r.acquire(), "closed: no new call")
	r.release()
	require.Equal(t, -1, r.fd, "closed with the last call")
	p, err := NewOpenPolicy(Rules{})
	require.NoError(t, err)
	_, err = p.WithRoot(r)
	require.ErrorIs(t, err, errRootClosed)
}

func TestOpenRoot(t *testing.T) {
	r, err := OpenRoot(os.Getpid())
	require.NoError(t, err)
	require.Empty(t, r.prefix, "the process's own root is /")
	require.NoError(t, r.Close())
	_, err = OpenRoot(-1)
	require.Error(t, err)
}
