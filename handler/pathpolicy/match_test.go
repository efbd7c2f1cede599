package pathpolicy

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRules(t *testing.T) {
	r, err := compile(Rules{
		Allow: []string{"/usr", "/tmp/work/", "/home/*/public"},
		Deny:  []string{"/usr/secret", "/home/*/public/.ssh", "/tmp/work/*.key"},
	})
	require.NoError(t, err)
	for _, tc := range []struct {
		path    string
		allowed bool
	}{
		{"/usr", true},
		{"/usr/bin/ls", true},
		{"/usrx", false},
		{"/usr/secret", false},
		{"/usr/secret/inner", false},
		{"/usr/secretive", true},
		{"/tmp/work/a", true},
		{"/tmp/work/a.key", false},
		{"/tmp/work/dir/b.key", true}, // * does not cross /
		{"/tmp/worker", false},
		{"/home/ann/public/x", true},
		{"/home/ann/public/.ssh/id", false},
		{"/home/ann/private", false},
		{"/etc/passwd", false},
	} {
		require.Equal(t, tc.allowed, r.allowed(tc.path), tc.path)
	}
}

func TestRulesEmptyAllowMeansEverything(t *testing.T) {
	r, err := compile(Rules{Deny: []string{"/etc/shadow"}})
	require.NoError(t, err)
	require.True(t, r.allowed("/anything/at/all"))
	require.False(t, r.allowed("/etc/shadow"))
}

func TestRulesRejectBadPatterns(t *testing.T) {
	for _, bad := range []Rules{
		{Allow: []string{"relative/path"}},
		{Deny: []string{""}},
		{Deny: []string{"/bad/[glob"}},
	} {
		_, err := compile(bad)
		require.Error(t, err, "%+v", bad)
	}
}

func TestProcSelf(t *testing.T) {
	require.Equal(t, "/proc/42/status", procSelf("/proc/self/status", 42))
	require.Equal(t, "/proc/42", procSelf("/proc/self", 42))
	require.Equal(t, "/proc/42/fd", procSelf("/proc/thread-self/fd", 42))
	require.Equal(t, "/proc/selfish", procSelf("/proc/selfish", 42))
	require.Equal(t, "rel/proc/self", procSelf("rel/proc/self", 42))
}
