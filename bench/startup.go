package main

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/sandlock-go/sandlock-go/sandbox"
)

// Names of the start-up configurations.
const (
	cfgStartBare    = "/bin/true (os/exec)"
	cfgStartLibrary = "sandbox.Command(\"/bin/true\").Run()"
	cfgStartCLI     = "sandlock-go run -- /bin/true"
	cfgStartBwrap   = "bwrap --ro-bind / / /bin/true"
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
	cfgs := []config{
		{cfgStartBare, func() (float64, error) { return timeRun(exec.Command(prog).Run) }},
		{cfgStartLibrary, func() (float64, error) { return timeRun(sandbox.Command(prog).Run) }},
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
