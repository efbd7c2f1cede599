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
	for in, want := range map[string]string{
		"/proc/self/status":        "/proc/42/status",
		"/proc/self":               "/proc/42",
		"/proc/self/":              "/proc/42/",
		"/proc//self/./status":     "/proc/42/status",
		"/proc/thread-self/fd":     "/proc/42/task/43/fd",
		"/proc/thread-self":        "/proc/42/task/43",
		"/proc/net/unix":           "/proc/42/net/unix",
		"/proc/mounts":             "/proc/42/mounts",
		"/proc/selfish":            "/proc/selfish",
		"/proc/1/status":           "/proc/1/status",
		"/proc/cpuinfo":            "/proc/cpuinfo",
		"/proc":                    "/proc",
		"rel/proc/self":            "rel/proc/self",
		"/tmp/proc/self":           "/tmp/proc/self",
		"/proc/sys/net/ipv4/../..": "/proc/sys/net/ipv4/../..",
	} {
		require.Equal(t, want, procSelf(in, 42, 43), in)
	}
}
