package tests

// Scenario 6: signals during trapped syscalls whose answer is an injected
// file descriptor (ADDFD with SEND).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/sandlock-go/sandlock-go/handler"
	"github.com/sandlock-go/sandlock-go/notif"
)

// TestReliabilitySignals: 4 threads of the victim open the magic path
// 1,000 times each (2,500 with -long); the handler answers every open with a fresh duplicate
// of one eventfd (InjectFD, ADDFD+SEND). Meanwhile the victim sends SIGURG
// and SIGUSR1 (caught, SA_RESTART) to its own threads in a tight loop, and
// the test stops and continues the victim (SIGSTOP/SIGCONT) every
// millisecond or so. Nothing is lost or duplicated: every open returns a
// descriptor that is the eventfd with FD_CLOEXEC, the victim's open count
// equals the eventfd's counter (1 added per descriptor received) and the
// number of successful injections, the victim ends with as many
// descriptors as it started with, and so does the test process.
//
// "responder" counts successful injections exactly (Responder.Respond's
// result); "dispatcher" returns InjectFD and checks that OnError hears
// nothing; "supervisor-signalled" also sends SIGURG to every thread of the
// supervisor (this test process) in a tight loop, which interrupts its
// ADDFD ioctls.
func TestReliabilitySignals(t *testing.T) {
	for _, mode := range []string{"responder", "dispatcher", "supervisor-signalled"} {
		t.Run(mode, func(t *testing.T) {
			rounds := pick(1, 10)
			for round := range rounds {
				injections(t, mode, round)
			}
			if rounds > 1 {
				figure(t, "%d rounds of 10,000 injected opens", rounds)
			}
		})
	}
}

func injections(t *testing.T, mode string, round int) {
	const threads = 4
	iters := pick(1000, 2500)
	within := runTimeout
	if mode == "supervisor-signalled" {
		// The signal loop keeps a CPU busy, and the command, in a
		// session (so a scheduler autogroup) of its own, gets only its
		// group's share of the rest: several times slower, not stuck.
		iters, within = pick(400, 1000), 2*runTimeout
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	require.NoError(t, err)
	defer unix.Close(efd)
	warmUp(t)
	fds := countFDs(t)

	r := newRunWithin(t, t.Context(), within, hostile(t), "inject", strconv.Itoa(threads), strconv.Itoa(iters))
	var errs errorLog
	r.ServeOptions = &handler.Options{OnError: errs.add}
	var handled, delivered, gone atomic.Int64
	r.handle(t, "openat", func(c *handler.Ctx) handler.Action {
		if p, err := c.ReadCString(c.Arg(1), 64); err != nil || p != injectPath {
			return handler.Continue()
		}
		handled.Add(1)
		fd, err := unix.FcntlInt(uintptr(efd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			panic(err)
		}
		if mode == "dispatcher" {
			return handler.InjectFD(fd, unix.O_CLOEXEC)
		}
		switch err := c.Responder().Respond(handler.InjectFD(fd, unix.O_CLOEXEC)); {
		case err == nil:
			delivered.Add(1)
		case errors.Is(err, notif.ErrNotificationGone):
			gone.Add(1)
		default:
			errs.add(fmt.Errorf("respond: %w", err))
		}
		return handler.Hold()
	})

	require.NoError(t, r.Start())
	r.waitOutput(t, "inject pid=")
	pid := r.Process.Pid
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stops, supSignals atomic.Int64
	wg.Add(1)
	go func() { // SIGSTOP/SIGCONT the victim
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if unix.Kill(pid, unix.SIGSTOP) != nil {
				return
			}
			time.Sleep(200 * time.Microsecond)
			_ = unix.Kill(pid, unix.SIGCONT)
			stops.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	if mode == "supervisor-signalled" {
		wg.Add(1)
		go func() { // SIGURG to every thread of this process
			defer wg.Done()
			self := os.Getpid()
			var tids []int
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%1024 == 0 {
					tids = tasks(self)
				}
				if len(tids) > 0 && unix.Tgkill(self, tids[i%len(tids)], unix.SIGURG) == nil {
					supSignals.Add(1)
				}
				if len(tids) > 0 && i%len(tids) == len(tids)-1 {
					time.Sleep(10 * time.Microsecond) // paced as the victim's storm is
				}
			}
		}()
	}
	start := time.Now()
	_, err = r.waitWithin(t, within, r.kill)
	close(stop)
	wg.Wait()
	out := r.stdout.String()
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out, r.stderr.String())

	f := fields(t, out, "inject opens=")
	opens := intField(t, f, "opens")
	require.Zero(t, intField(t, f, "bad"), "descriptors that were not the injected eventfd: %s", out)
	require.Zero(t, intField(t, f, "other"), "opens that failed: %s", out)
	require.Zero(t, intField(t, f, "eintr"), "EINTR despite SA_RESTART: %s", out)
	require.Equal(t, threads*iters, opens)
	require.Equal(t, intField(t, f, "fds-start"), intField(t, f, "fds-end"), "the victim's descriptors")
	var counter [8]byte
	_, err = unix.Read(efd, counter[:])
	require.NoError(t, err)
	require.EqualValues(t, opens, binary.NativeEndian.Uint64(counter[:]), "descriptors received and used by the victim")
	require.GreaterOrEqual(t, handled.Load(), int64(opens))
	if mode != "dispatcher" {
		require.EqualValues(t, opens, delivered.Load(), "successful injections")
		require.Equal(t, handled.Load(), delivered.Load()+gone.Load())
	}
	require.Empty(t, errs.all(), "OnError")
	runtime.GC()
	require.Equal(t, fds, countFDs(t), "open descriptors:\n%s", listFDs())
	if round > 0 {
		return
	}
	figure(t, "%d opens answered by injection (%d handler calls, %d delivered), eventfd %d; victim sent itself %s SIGURG, %s SIGUSR1; %d SIGSTOP/SIGCONT; %d SIGURG to the supervisor; victim fds %s -> %s; run %s",
		opens, handled.Load(), delivered.Load(), binary.NativeEndian.Uint64(counter[:]), f["sigurg"], f["sigusr1"], stops.Load(), supSignals.Load(),
		f["fds-start"], f["fds-end"], time.Since(start).Round(time.Millisecond))
}

// tasks lists the thread IDs of pid.
func tasks(pid int) []int {
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		return nil
	}
	var tids []int
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, n)
		}
	}
	return tids
}
