package tests

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// learnCases are commands learned with sandlock-go learn and run again
// under the learned profile, in a fresh copy of the same working
// directory: the re-run must behave as bare (issue 12).
var learnCases = []struct {
	name  string
	needs []string
	argv  []string
}{
	{"gcc", []string{"gcc"}, []string{"sh", "-c", "gcc -o hello hello.c && ./hello"}},
	{"make", []string{"make", "gcc"}, []string{"sh", "-c", "make -s hello && ./hello"}},
	{"multiprocessing", []string{"python3"}, []string{"python3", "-c",
		"import multiprocessing as m\nif __name__ == '__main__':\n    print(sum(m.Pool(4).map(abs, [1, -2, 3])))"}},
	{"git", []string{"git"}, []string{"sh", "-c",
		"git init -q . && git add hello.c && git -c user.name=n -c user.email=n@x commit -qm first && git log --format=%s"}},
	{"tar", []string{"tar", "gzip"}, []string{"sh", "-c",
		"tar czf out.tgz src && mkdir x && tar xzf out.tgz -C x && cat x/src/sub/f"}},
	{"bash", []string{"bash"}, []string{"bash", "-c", "cat <(echo hi)"}},
}

// learnEnv is a run's environment: a fake home with secrets in it (a key,
// a dotfile) and a private TMPDIR with a secret beside the temporary
// files, so that no test sees another's temporary names.
type learnEnv struct {
	home, tmp, work string
	secrets         []string
	env             []string
}

func newLearnEnv(t *testing.T) *learnEnv {
	t.Helper()
	root := t.TempDir()
	e := &learnEnv{home: filepath.Join(root, "home"), tmp: filepath.Join(root, "tmp"), work: filepath.Join(root, "work")}
	require.NoError(t, os.MkdirAll(filepath.Join(e.home, ".ssh"), 0o700))
	require.NoError(t, os.MkdirAll(e.tmp, 0o700))
	e.secrets = []string{
		writeFile(t, filepath.Join(e.home, ".ssh"), "id_ed25519", "SECRET-KEY\n"),
		writeFile(t, e.home, ".netrc", "SECRET-NETRC\n"),
		writeFile(t, e.tmp, "secret.key", "SECRET-TMP\n"),
	}
	e.env = []string{"HOME=" + e.home, "TMPDIR=" + e.tmp, "PATH=" + os.Getenv("PATH"), "LANG=C"}
	return e
}

// fresh makes the working directory anew with the inputs of learnCases.
func (e *learnEnv) fresh(t *testing.T) {
	t.Helper()
	require.NoError(t, os.RemoveAll(e.work))
	require.NoError(t, os.MkdirAll(filepath.Join(e.work, "src", "sub"), 0o755))
	writeFile(t, e.work, "hello.c", "#include <stdio.h>\nint main(void){puts(\"hello\");return 0;}\n")
	writeFile(t, e.work, "Makefile", "hello: hello.c\n\tcc -o hello hello.c\n")
	writeFile(t, filepath.Join(e.work, "src", "sub"), "f", "data\n")
}

// run runs argv in a fresh working directory with e's environment.
func (e *learnEnv) run(t *testing.T, argv ...string) cliResult {
	t.Helper()
	e.fresh(t)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = e.work, e.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	require.NoError(t, cmd.Start())
	timer := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	return cliResult{args: argv, status: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// TestLearnedProfileRerunsAsBare learns each of learnCases and runs it
// again under the profile: same output and status as bare, no denial;
// and none of the planted secrets is readable under the profile.
func TestLearnedProfileRerunsAsBare(t *testing.T) {
	bin := buildCLI(t)
	for _, tc := range learnCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, prog := range tc.needs {
				if _, err := exec.LookPath(prog); err != nil {
					t.Skipf("%s is not installed", prog)
				}
			}
			e := newLearnEnv(t)
			profile := filepath.Join(t.TempDir(), "p.toml")
			bare := e.run(t, tc.argv...)
			require.Equal(t, 0, bare.status, "bare: %s", bare.stderr)

			learned := e.run(t, append([]string{bin, "learn", "-o", profile, "--"}, tc.argv...)...)
			require.Equal(t, bare.status, learned.status, "learn: %s", learned.stderr)
			require.Equal(t, bare.stdout, learned.stdout)
			require.Contains(t, learned.stderr, "sandlock-go: learn wrote "+profile+" (generalized): ")
			data, err := os.ReadFile(profile)
			require.NoError(t, err)
			for _, line := range strings.Split(string(data), "\n") {
				line = strings.Trim(strings.TrimSpace(line), `",`)
				if line != "" && !strings.ContainsAny(line, "=[]#") {
					require.True(t, filepath.IsAbs(line), "relative path %q in the profile", line)
				}
			}

			again := e.run(t, append([]string{bin, "run", "--profile", profile, "--"}, tc.argv...)...)
			require.Equal(t, bare.status, again.status, "under the profile: %s\nprofile:\n%s", again.stderr, data)
			require.Equal(t, bare.stdout, again.stdout, "under the profile: %s", again.stderr)
			require.NotContains(t, again.stderr, "sandlock-go: denied")

			// Generalization does not widen to the secrets beside what
			// the program used.
			for _, s := range e.secrets {
				r := e.run(t, bin, "run", "--profile", profile, "--", "cat", s)
				require.NotEqual(t, 0, r.status, "%s readable under the profile", s)
				require.NotContains(t, r.stdout, "SECRET")
				require.Contains(t, r.stderr, "sandlock-go: denied ")
			}
		})
	}
}

// TestLearnHostileDoesNotWiden learns a program that reads /etc/hostname
// and runs one that reads /etc/shadow under the profile: denied, and the
// note names the path and the profile.
func TestLearnHostileDoesNotWiden(t *testing.T) {
	bin := buildCLI(t)
	e := newLearnEnv(t)
	profile := filepath.Join(t.TempDir(), "cat.toml")
	r := e.run(t, bin, "learn", "-o", profile, "--", "cat", "/etc/hostname")
	require.Equal(t, 0, r.status, r.stderr)
	data, err := os.ReadFile(profile)
	require.NoError(t, err)
	require.NotContains(t, profileBody(string(data)), "*", "nothing to generalize in cat /etc/hostname:\n%s", data)

	r = e.run(t, bin, "run", "--profile", profile, "--", "cat", "/etc/shadow")
	require.Equal(t, 1, r.status)
	require.Contains(t, r.stderr, "cat: /etc/shadow: Permission denied")
	require.Contains(t, r.stderr, "sandlock-go: denied open /etc/shadow (not in --profile "+profile+")")

	// --quiet: no note.
	r = e.run(t, bin, "run", "--quiet", "--profile", profile, "--", "cat", "/etc/shadow")
	require.Equal(t, 1, r.status)
	require.NotContains(t, r.stderr, "sandlock-go: denied")
}

// TestLearnRecordsMissingFiles checks that a lookup of a file that does
// not exist, by a relative name, is recorded absolute and fails the same
// way (ENOENT, not EACCES) under the profile.
func TestLearnRecordsMissingFiles(t *testing.T) {
	bin := buildCLI(t)
	e := newLearnEnv(t)
	profile := filepath.Join(t.TempDir(), "cat.toml")
	argv := []string{"cat", "hello.c", "nodir/x"}
	bare := e.run(t, argv...)
	require.Equal(t, 1, bare.status)
	r := e.run(t, append([]string{bin, "learn", "-o", profile, "--"}, argv...)...)
	require.Equal(t, 1, r.status, r.stderr)
	data, err := os.ReadFile(profile)
	require.NoError(t, err)
	require.Contains(t, string(data), `"`+filepath.Join(e.work, "nodir/x")+`"`)
	require.NotContains(t, string(data), "  \"nodir/x\",")

	r = e.run(t, append([]string{bin, "run", "--profile", profile, "--"}, argv...)...)
	require.Equal(t, bare.status, r.status)
	require.Equal(t, bare.stdout, r.stdout)
	require.Contains(t, r.stderr, "nodir/x: No such file or directory")
	require.NotContains(t, r.stderr, "sandlock-go: denied")
}

// TestLearnStrict checks that --strict keeps the temporary names exact,
// so that the next gcc run fails, and reports the denial.
func TestLearnStrict(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed")
	}
	bin := buildCLI(t)
	e := newLearnEnv(t)
	profile := filepath.Join(t.TempDir(), "gcc.toml")
	argv := []string{"gcc", "-o", "hello", "hello.c"}
	r := e.run(t, append([]string{bin, "learn", "--strict", "-o", profile, "--"}, argv...)...)
	require.Equal(t, 0, r.status, r.stderr)
	require.Contains(t, r.stderr, "(strict)")
	data, err := os.ReadFile(profile)
	require.NoError(t, err)
	require.NotContains(t, profileBody(string(data)), "*")
	require.Contains(t, string(data), `"`+e.tmp+"/cc")

	r = e.run(t, append([]string{bin, "run", "--profile", profile, "--"}, argv...)...)
	require.NotEqual(t, 0, r.status)
	require.Contains(t, r.stderr, "sandlock-go: denied open "+e.tmp+"/cc")
}

// profileBody is a profile without its comment header.
func profileBody(profile string) string {
	_, body, _ := strings.Cut(profile, "\nversion = ")
	return body
}
