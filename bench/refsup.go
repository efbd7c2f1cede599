package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/notif"
)

// The reference supervisor: the least a Go supervisor can do per trapped
// syscall. Each receiving goroutine is locked to its OS thread and loops on
// a blocking RECV ioctl and a SEND ioctl, on a listener with the kernel's
// synchronous wake-up; nothing else (no poll, no timer, no allocation).

// refAnswer is what the reference supervisor answers, and how it waits.
type refAnswer int

const (
	refReturn   refAnswer = iota // return 777
	refContinue                  // let getppid run
	// refPollReturn returns 777 after waiting in poll() on the listener
	// and an eventfd before each RECV, as notif.Listener does so that a
	// blocked receiver can be woken: it isolates the cost of that poll.
	refPollReturn
)

// runReference runs the victim in notify mode with args (its mode and
// flags after the filter is installed) under the reference supervisor with
// receivers receiving threads, and returns the victim's standard output.
func runReference(victim string, receivers int, answer refAnswer, args ...string) (string, error) {
	cmd := exec.Command(victim, append([]string{"notify"}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return "", fmt.Errorf("%w (victim: %s)", err, strings.TrimSpace(stderr.String()))
	}
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil {
		return fail(fmt.Errorf("read listener number: %w", err))
	}
	var remote int
	if _, err := fmt.Sscanf(line, "listener %d", &remote); err != nil {
		return fail(fmt.Errorf("bad line %q: %w", line, err))
	}
	fd, err := grabFD(cmd.Process.Pid, remote)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(fd)
	if e := setSyncWakeUp(fd); e != 0 {
		return fail(fmt.Errorf("set sync wake-up: %w", e))
	}
	// A victim stuck on a trapped call that nobody answers any more is
	// killed, so that a failure cannot hang the benchmark.
	watchdog := time.AfterFunc(victimTimeout, func() { _ = cmd.Process.Kill() })
	defer watchdog.Stop()
	var wg sync.WaitGroup
	errs := make(chan error, receivers)
	for range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := refLoop(fd, answer); err != nil {
				errs <- err
				_ = cmd.Process.Kill()
			}
		}()
	}
	// The victim may execute its workload now.
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		return fail(err)
	}
	stdin.Close()
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("victim: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	// Every task of the filter exited: the blocked RECVs return.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return "", fmt.Errorf("reference receivers did not stop after the victim exited")
	}
	close(errs)
	if err := <-errs; err != nil {
		return "", err
	}
	return string(rest), nil
}

// grabFD copies descriptor remote of process pid (pidfd_getfd) and checks
// that it is a seccomp listener.
func grabFD(pid, remote int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, remote, 0)
	if err != nil {
		return -1, fmt.Errorf("pidfd_getfd: %w", err)
	}
	var buf [64]byte
	n, err := unix.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd), buf[:])
	if err != nil || string(buf[:n]) != "anon_inode:seccomp notify" {
		unix.Close(fd)
		return -1, fmt.Errorf("fd %d of the victim is no seccomp listener", remote)
	}
	return fd, nil
}

// refLoop answers notifications on fd until every task of the filter has
// exited.
func refLoop(fd int, answer refAnswer) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var (
		n   notif.Notif
		r   notif.Resp
		fds [2]unix.PollFd
	)
	if answer == refPollReturn {
		wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			return err
		}
		defer unix.Close(wake)
		fds = [2]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
	}
	for {
		if answer == refPollReturn {
			fds[0].Revents, fds[1].Revents = 0, 0
			if _, err := unix.Poll(fds[:], -1); err != nil && err != unix.EINTR {
				return fmt.Errorf("reference: poll: %w", err)
			}
			if fds[0].Revents&unix.POLLIN == 0 {
				if fds[0].Revents&unix.POLLHUP != 0 {
					return nil
				}
				continue
			}
		}
		n = notif.Notif{}
		switch e := recvNotif(fd, &n); e {
		case 0:
		case unix.EINTR:
			continue
		case unix.ENOENT:
			// An interrupted notification, or no task left.
			if hungUp(fd) {
				return nil
			}
			continue
		default:
			return fmt.Errorf("reference: recv: %w", e)
		}
		r = notif.Resp{ID: n.ID, Val: 777}
		if answer == refContinue {
			r = notif.Resp{ID: n.ID, Flags: notif.RespFlagContinue}
		}
		if e := sendResp(fd, &r); e != 0 && e != unix.ENOENT {
			return fmt.Errorf("reference: send: %w", e)
		}
	}
}

// hungUp reports whether the listener has no task left (POLLHUP).
func hungUp(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	_, err := unix.Poll(fds, 0)
	return err == nil && fds[0].Revents&unix.POLLHUP != 0
}
