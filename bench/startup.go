package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"

	"github.com/sandlock-go/sandlock-go/sandbox"
)

// Names of the start-up configurations.
const (
	cfgStartBare     = "/bin/true (os/exec)"
	cfgStartLibrary  = "sandbox.Command(\"/bin/true\").Run(), minimal program"
	cfgStartBench    = "sandbox.Command(\"/bin/true\").Run(), in the bench"
	cfgStartCLI      = "sandlock-go run -- /bin/true"
	cfgStartBwrap    = "bwrap --ro-bind / / /bin/true"
	cfgStartBwrapAll = "bwrap --unshare-all --new-session --ro-bind / / /bin/true"
)

// startup is the start-up figure: wall time of running /bin/true.
type startup struct {
	names   []string
	s       samples // seconds per run
	skipped []string
}

func runStartup(set settings, root, tmp string, install bool) (*startup, error) {
	const prog = "/bin/true"
	res := &startup{}
	launcher, err := startLauncher(root, tmp, prog)
	if err != nil {
		return nil, err
	}
	defer launcher.close()
	cfgs := []config{
		{cfgStartBare, func() (float64, error) { return timeRun(exec.Command(prog).Run) }},
		{cfgStartLibrary, launcher.run},
		{cfgStartBench, func() (float64, error) { return timeRun(sandbox.Command(prog).Run) }},
	}
	if _, err := os.Stat(root + "/cmd/sandlock-go"); err == nil {
		cli, err := goBuild(root, tmp, "sandlock-go", "./cmd/sandlock-go")
		if err != nil {
			res.skipped = append(res.skipped, fmt.Sprintf("the CLI: %v", err))
		} else {
			cfgs = append(cfgs, config{cfgStartCLI, func() (float64, error) {
				return timeRun(func() error { return quiet(exec.Command(cli, "run", "--", prog)) })
			}})
		}
	}
	if bwrap, why := findTool("bwrap", "bubblewrap", install); why != "" {
		res.skipped = append(res.skipped, "bwrap: "+why)
	} else {
		cfgs = append(cfgs, config{cfgStartBwrap, func() (float64, error) {
			return timeRun(func() error { return quiet(exec.Command(bwrap, "--ro-bind", "/", "/", prog)) })
		}}, config{cfgStartBwrapAll, func() (float64, error) {
			return timeRun(func() error {
				return quiet(exec.Command(bwrap, "--unshare-all", "--new-session", "--ro-bind", "/", "/", prog))
			})
		}})
	}
	for _, c := range cfgs {
		res.names = append(res.names, c.name)
	}
	if _, err := interleave(2, cfgs); err != nil { // warm-up
		return nil, err
	}
	s, err := interleave(set.startupRuns, cfgs)
	if err != nil {
		return nil, err
	}
	res.s = s
	return res, nil
}

// launcher is a running bench/launcher: a minimal program that starts the
// command under the sandbox once per request.
type launcher struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startLauncher(root, tmp, prog string) (*launcher, error) {
	bin, err := goBuild(root, tmp, "launcher", "./bench/launcher")
	if err != nil {
		return nil, err
	}
	l := &launcher{cmd: exec.Command(bin, prog)}
	l.cmd.Stderr = os.Stderr
	if l.in, err = l.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := l.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	l.out = bufio.NewScanner(stdout)
	return l, l.cmd.Start()
}

// run returns the seconds one sandbox.Command(prog).Run() took in the
// launcher.
func (l *launcher) run() (float64, error) {
	if _, err := io.WriteString(l.in, "run\n"); err != nil {
		return 0, fmt.Errorf("launcher: %w", err)
	}
	if !l.out.Scan() {
		return 0, fmt.Errorf("launcher stopped: %v", l.out.Err())
	}
	ns, err := strconv.ParseInt(l.out.Text(), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("launcher said %q", l.out.Text())
	}
	return float64(ns) / 1e9, nil
}

func (l *launcher) close() {
	l.in.Close()
	_ = l.cmd.Wait()
}
