package main

import (
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
)

// runProfiles writes CPU profiles of this process, the supervisor, while
// it serves the ReturnValue victim: sandlock-go.pprof and reference.pprof
// in dir. Read them with go tool pprof -top FILE.
func runProfiles(set settings, victim, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	n := strconv.Itoa(10 * set.slowCalls)
	runs := []struct {
		file string
		run  func() (string, error)
	}{
		{"sandlock-go.pprof", func() (string, error) {
			return runSandlock(returnHandler, nil, victim, "loop", "-n", n, "-want", "777")
		}},
		{"reference.pprof", func() (string, error) {
			return runReference(victim, 1, refReturn, "loop", "-n", n, "-want", "777")
		}},
	}
	for _, r := range runs {
		f, err := os.Create(filepath.Join(dir, r.file))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		_, err = r.run()
		pprof.StopCPUProfile()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
