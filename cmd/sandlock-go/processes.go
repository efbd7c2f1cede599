package main

import (
	"fmt"
	"io"

	"github.com/sandlock-go/sandlock-go/sandbox"
)

// processNote tells, on stderr, that the run's processes were limited or
// counted by trapping fork and clone, because no pids cgroup could be made
// (see sandbox.Policy.MaxProcesses), and what that costs.
func processNote(stderr io.Writer, cmd *sandbox.Cmd, what string) {
	how, reason := cmd.ProcessCounter()
	if how != sandbox.CountTrap {
		return
	}
	fmt.Fprintf(stderr, "sandlock-go: note: %s: %v; fork and clone were trapped instead (a fork a signal interrupts may fail with EINTR)\n", what, reason)
}
