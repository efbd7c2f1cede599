package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// repoRoot returns the module root: the directory of the go.mod that the
// go command sees from the working directory.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run go run ./bench inside the module")
	}
	return filepath.Dir(mod), nil
}

// goBuild builds the package pkg (relative to root) into dir/name.
func goBuild(root, dir, name, pkg string) (string, error) {
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return out, nil
}

// machine describes where the benchmark ran.
type machine struct {
	CPUs     int
	CPUModel string
	Kernel   string
	Go       string
	Date     time.Time
	LoadAvg  string // at the start of the run
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), CPUModel: "unknown", Go: runtime.Version(), Date: time.Now().UTC()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	m.LoadAvg = loadAvg()
	return m
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// findTool returns the path of a program, installing its Debian package
// with apt-get when it is missing, allowed, and we are root. It returns ""
// and the reason when the tool cannot be had.
func findTool(name, pkg string, install bool) (string, string) {
	if p, err := exec.LookPath(name); err == nil {
		return p, ""
	}
	if !install {
		return "", name + " is not installed (-install=false)"
	}
	if os.Geteuid() != 0 {
		return "", name + " is not installed and we are not root to apt-get install " + pkg
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fmt.Fprintf(os.Stderr, "bench: %s missing, trying apt-get install -y %s\n", name, pkg)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", pkg)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if err := cmd.Run(); err != nil {
		return "", fmt.Sprintf("%s is not installed and apt-get install %s failed: %v", name, pkg, err)
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, ""
	}
	return "", name + " is still missing after apt-get install " + pkg
}

// python returns the Python interpreter to run: the system one when
// present (a real binary), else the first python3 in PATH (which may be a
// pyenv shim, a shell script: its start-up is then part of every figure).
func python() (string, error) {
	for _, p := range []string{"/usr/bin/python3", "/usr/local/bin/python3"} {
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return exec.LookPath("python3")
}
