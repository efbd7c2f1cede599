package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/bench/internal/spec"
	"github.com/sandlock-go/sandlock-go/seccomp"
)

// notifyMain installs a filter that sends getppid to a listener, on this
// (locked, main) thread, tells the supervisor the listener's number, waits
// until the supervisor has copied it (pidfd_getfd), then executes itself
// with args: the new image's threads all descend from this thread and are
// all filtered. Only getppid is trapped, so nothing here waits for the
// supervisor; the listener is close-on-exec, the supervisor's copy remains.
func notifyMain(args []string) error {
	if len(args) == 0 {
		return errors.New("notify: no mode to execute")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	f, err := spec.Notify()
	if err != nil {
		return err
	}
	prog, err := f.Compile()
	if err != nil {
		return err
	}
	fd, err := seccomp.Install(prog, seccomp.InstallOptions{Listener: true})
	if err != nil {
		return err
	}
	fmt.Printf("listener %d\n", fd)
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return fmt.Errorf("notify: wait for the supervisor: %w", err)
	}
	return unix.Exec(self, append([]string{self}, args...), os.Environ())
}
