package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
	"github.com/sandlock-go/sandlock-go/sandbox"
	"github.com/sandlock-go/sandlock-go/syscalls"
)

const checkUsage = `Usage: sandlock-go check

Print the kernel features the supervisor uses, each "ok" or "not supported:
why", and the Landlock ABI version; then run a child under a handler on
getppid and check that the supervisor's answer reaches it. Exit status 0
when supervision works here, 1 when it does not.

  e.g. sandlock-go check
`

// checkPPID is the getppid answer the check's child must print.
const checkPPID = 4242

// checkTimeout bounds the end-to-end check.
const checkTimeout = 30 * time.Second

func checkMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, checkUsage)
			return 0
		}
		return fail(stderr, usagef("check: %v (see sandlock-go check --help)", err))
	}
	if fs.NArg() > 0 {
		return fail(stderr, usagef("check: unexpected argument %q", fs.Arg(0)))
	}

	if v, err := notif.KernelVersion(); err == nil {
		fmt.Fprintf(stdout, "kernel: Linux %d.%d, %s\n", v[0], v[1], syscalls.Native())
	}
	for _, f := range notif.Features() {
		fmt.Fprintf(stdout, "%s (Linux >= %s): %s\n", f.Name, f.MinimumVersion, featureStatus(f))
	}
	if abi, err := notif.LandlockABI(); err == nil {
		fmt.Fprintf(stdout, "Landlock ABI: %d\n", abi)
	} else {
		fmt.Fprintf(stdout, "Landlock ABI: %v\n", err)
	}

	if err := checkSupervision(); err != nil {
		fmt.Fprintf(stdout, "supervision: FAILED: %v\n", err)
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "supervision: ok (the child's getppid returned %d, answered by the supervisor)\n", checkPPID)
	return 0
}

func featureStatus(f *notif.Feature) string {
	err := f.Check()
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, notif.ErrNotSupported):
		return "not supported: " + err.Error()
	}
	return "unknown: " + err.Error()
}

// checkSupervision runs this binary as a child that prints its getppid,
// with a handler that answers checkPPID.
func checkSupervision() error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	cmd := sandbox.CommandContext(ctx, self, checkChildArg)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	var calls atomic.Int64
	err = cmd.Handle("getppid", handler.Func(func(*handler.Ctx) handler.Action {
		calls.Add(1)
		return handler.ReturnValue(checkPPID)
	}))
	if err != nil {
		return err
	}
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(errOut.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	got := strings.TrimSpace(out.String())
	if got != strconv.Itoa(checkPPID) || calls.Load() == 0 {
		return fmt.Errorf("the child's getppid returned %q, want %d (%d notifications)", got, checkPPID, calls.Load())
	}
	return nil
}
