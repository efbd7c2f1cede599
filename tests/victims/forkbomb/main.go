// Command forkbomb is a bounded fork bomb: each process starts up to WIDTH
// copies of itself, down to DEPTH levels, holds them for HOLD, and reports
// how many starts failed with EAGAIN. Bounded so that a broken limiter
// cannot take the machine down: at most WIDTH^DEPTH processes.
//
// Usage: forkbomb WIDTH DEPTH HOLD
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: forkbomb WIDTH DEPTH HOLD")
		os.Exit(2)
	}
	width, _ := strconv.Atoi(os.Args[1])
	depth, _ := strconv.Atoi(os.Args[2])
	hold, err := time.ParseDuration(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var children []*exec.Cmd
	started, eagain, other := 0, 0, 0
	if depth > 0 {
		for range width {
			cmd := exec.Command(os.Args[0], os.Args[1], strconv.Itoa(depth-1), os.Args[3])
			if err := cmd.Start(); err != nil {
				if errors.Is(err, syscall.EAGAIN) {
					eagain++
				} else {
					other++
				}
				continue
			}
			started++
			children = append(children, cmd)
		}
	}
	time.Sleep(hold)
	for _, c := range children {
		_ = c.Wait()
	}
	if depth == 3 || os.Getenv("FORKBOMB_REPORT") != "" {
		fmt.Printf("depth=%d started=%d eagain=%d other=%d\n", depth, started, eagain, other)
	}
}
