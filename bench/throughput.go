package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// throughput is the multi-threaded figure: trapped getppid calls per
// second, all threads together, under sandlock-go (default Workers) and
// under the reference supervisor with one receiving thread per victim
// thread.
type throughput struct {
	threads []int
	s       samples // per "sandlock-go N" and "reference N"
	mem     memory
}

// memory is the supervisor's (this process's) memory while serving the
// largest thread count.
type memory struct {
	threads        int
	before         int64 // VmRSS before serving, kB
	rssSL, hwmSL   int64 // highest VmRSS seen / VmHWM during sandlock-go runs, kB
	rssRef, hwmRef int64 // the same during reference runs, kB
	hwmReset       bool  // VmHWM was reset before each run (clear_refs)
}

func tpName(sup string, threads int) string { return sup + " " + strconv.Itoa(threads) }

func runThroughput(set settings, victim string) (*throughput, error) {
	res := &throughput{threads: set.threads}
	maxT := set.threads[len(set.threads)-1]
	res.mem.threads = maxT
	res.mem.before, _ = readStatus("VmRSS")
	dur := set.tpDuration.String()
	var cfgs []config
	for _, t := range set.threads {
		args := []string{"threads", "-t", strconv.Itoa(t), "-d", dur, "-want", "777"}
		sl := func() (float64, error) {
			return callsPerSecond(runSandlock(returnHandler, nil, victim, args...))
		}
		ref := func() (float64, error) {
			return callsPerSecond(runReference(victim, t, refReturn, args...))
		}
		if t == maxT {
			sl = res.mem.sample(&res.mem.rssSL, &res.mem.hwmSL, sl)
			ref = res.mem.sample(&res.mem.rssRef, &res.mem.hwmRef, ref)
		}
		cfgs = append(cfgs, config{tpName("sandlock-go", t), sl}, config{tpName("reference", t), ref})
	}
	s, err := interleave(set.tpRounds, cfgs)
	if err != nil {
		return nil, err
	}
	res.s = s
	return res, nil
}

// sample wraps run to record the process's highest VmRSS while it runs and
// its VmHWM at the end (reset to the current RSS before, when the kernel
// lets us), keeping the maximum over runs.
func (m *memory) sample(rss, hwm *int64, run func() (float64, error)) func() (float64, error) {
	return func() (float64, error) {
		m.hwmReset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for {
				if v, err := readStatus("VmRSS"); err == nil {
					*rss = max(*rss, v)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		v, err := run()
		close(stop)
		wg.Wait()
		if h, err := readStatus("VmHWM"); err == nil {
			*hwm = max(*hwm, h)
		}
		return v, err
	}
}

// readStatus returns a "kB" field of /proc/self/status.
func readStatus(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}
