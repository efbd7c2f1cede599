package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// everydayCases are scripts of everyday programs, run in a fresh working
// directory (DIR) of their own. Each must behave under sandlock-go run,
// with default flags, exactly as bare: same output, same status.
var everydayCases = []struct {
	name   string
	needs  []string
	script string
}{
	{"python3", []string{"python3"}, `python3 -c 'import json, email, http.client, sqlite3, tempfile
with tempfile.NamedTemporaryFile() as f: f.write(b"x"); f.flush(); print(json.dumps({"ok": 1}))
import multiprocessing as m
print(m.Pool(2).map(abs, [-1, -2]))'`},
	{"git", []string{"git"}, `git init -q repo && cd repo && echo a > a && git add a &&
git -c user.email=a@b -c user.name=n commit -qm first && git log --format=%s && git status --short | wc -l`},
	{"gcc", []string{"gcc"}, `printf '#include <stdio.h>\nint main(void){puts("hello from C");return 3;}\n' > h.c &&
gcc -O1 h.c -o h && ./h; echo "status $?"`},
	{"tar", []string{"tar", "gzip"}, `mkdir -p src/sub && echo one > src/sub/f && ln -s sub/f src/link && chmod 640 src/sub/f &&
tar czf a.tgz src && mkdir out && tar xzf a.tgz -C out && ls -lR out | awk '{print $1, $NF}' && cat out/src/link`},
	{"bash", []string{"bash"}, `bash -c 'cat <(echo process substitution); echo x >/dev/stderr; echo pipeline | tr a-z A-Z | wc -c; exec 3>f3; echo fd3 >&3; cat f3; set -o pipefail; false | true; echo $?' 2>&1`},
	{"umask", []string{"mkfifo", "python3"}, `for m in 077 000 027; do umask $m; mkdir d$m; touch f$m; mkfifo p$m; python3 -c 'import os; os.close(os.open(".", os.O_TMPFILE|os.O_WRONLY, 0o666))' 2>&1; done; ls -l | cut -c1-10 | sort | uniq -c`},
	{"go build", []string{"go"}, `printf 'package main\nfunc main(){println("built")}\n' > m.go && printf 'module x\ngo 1.22\n' > go.mod &&
go build -o m . && ./m 2>&1`},
}

// TestEverydayProgramsBehaveAsBare runs each everyday case bare and under
// sandlock-go run, as the tests' user (root in CI), and compares.
func TestEverydayProgramsBehaveAsBare(t *testing.T) {
	bin := buildCLI(t)
	for _, tc := range everydayCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, prog := range tc.needs {
				if _, err := exec.LookPath(prog); err != nil {
					t.Skipf("%s is not installed", prog)
				}
			}
			bare := everydayRun(t, nil, tc.script)
			sandboxed := everydayRun(t, []string{bin, "run", "--"}, tc.script)
			require.Equal(t, bare, sandboxed, "under sandlock-go run")
		})
	}
}

// everydayRun runs script with sh in a new directory, prefixed by wrap,
// and returns its combined output (with the directory spelled DIR) and
// status.
func everydayRun(t *testing.T, wrap []string, script string) string {
	t.Helper()
	dir := t.TempDir()
	args := append(append([]string(nil), wrap...), "/bin/sh", "-c", script)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	status := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "%v", err)
		status = ee.ExitCode()
	}
	clean := strings.ReplaceAll(string(out), dir, "DIR")
	clean = strings.ReplaceAll(clean, filepath.Base(dir), "DIR")
	return clean + "\nexit " + strconv.Itoa(status)
}

// TestEverydayProgramsUnderFilesPolicy: the everyday cases behave as bare
// under a files policy that allows everything (--allow-path /) and under
// one that denies an unrelated directory: every file operation then goes
// through the supervisor (magic links such as /dev/stderr and bash's
// /dev/fd/63, O_PATH opens of tar, renames, links, chmod, utimes).
func TestEverydayProgramsUnderFilesPolicy(t *testing.T) {
	bin := buildCLI(t)
	unrelated := t.TempDir()
	for _, policy := range [][]string{{"--allow-path", "/"}, {"--deny-path", unrelated}} {
		for _, tc := range everydayCases {
			t.Run(strings.Join(policy, "=")+"/"+tc.name, func(t *testing.T) {
				for _, prog := range tc.needs {
					if _, err := exec.LookPath(prog); err != nil {
						t.Skipf("%s is not installed", prog)
					}
				}
				bare := everydayRun(t, nil, tc.script)
				wrap := append(append([]string{bin, "run"}, policy...), "--")
				sandboxed := everydayRun(t, wrap, tc.script)
				require.Equal(t, bare, sandboxed, "under sandlock-go run %v", policy)
			})
		}
	}
}
