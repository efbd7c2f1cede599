package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/sandbox"
)

// victimTimeout bounds one run of a victim.
const victimTimeout = 2 * time.Minute

// runPlain runs a program without supervision and returns its output.
func runPlain(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	watchdog := time.AfterFunc(victimTimeout, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// runSandlock runs a program under sandlock-go with h on getppid and
// returns its output.
func runSandlock(h handler.Handler, opts *handler.Options, name string, args ...string) (string, error) {
	cmd := sandbox.Command(name, args...)
	if err := cmd.Handle("getppid", h); err != nil {
		return "", err
	}
	cmd.ServeOptions = opts
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	watchdog := time.AfterFunc(victimTimeout, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// nsPerCall parses the "ns_per_call X" line of a victim's loop mode.
func nsPerCall(out string, err error) (float64, error) {
	if err != nil {
		return 0, err
	}
	var v float64
	if _, err := fmt.Sscanf(lastLine(out), "ns_per_call %g", &v); err != nil {
		return 0, fmt.Errorf("victim said %q: %w", out, err)
	}
	return v, nil
}

// callsPerSecond parses the "calls_per_second X" line of a victim's
// threads mode.
func callsPerSecond(out string, err error) (float64, error) {
	if err != nil {
		return 0, err
	}
	var v float64
	if _, err := fmt.Sscanf(lastLine(out), "calls_per_second %g", &v); err != nil {
		return 0, fmt.Errorf("victim said %q: %w", out, err)
	}
	return v, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
