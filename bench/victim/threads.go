package main

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// sliceLen is the period over which threads mode counts calls.
const sliceLen = 20 * time.Millisecond

// threadsMain runs -t goroutines, each locked to its own OS thread, that
// call getppid until -d has passed, and prints the median over 20 ms slices
// of all threads' calls per second, as "calls_per_second X": a
// burst of load from other processes spoils a few slices, not the figure.
func threadsMain(args []string) error {
	fs := newFlags("threads")
	threads := fs.Int("t", 1, "threads")
	dur := fs.Duration("d", time.Second, "duration")
	want := fs.Int64("want", -1, "expected return value (-1: any non-negative)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var (
		wg, ready sync.WaitGroup
		total     atomic.Int64
		stop      atomic.Bool
		errMu     sync.Mutex
		firstErr  error
	)
	startc := make(chan struct{})
	for range *threads {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			// Warm up: the thread's first trapped call pays for
			// waking the supervisor.
			err := calls(10, nil, *want)
			ready.Done()
			<-startc
			for err == nil && !stop.Load() {
				err = calls(16, nil, *want)
				total.Add(16)
			}
			if err != nil {
				errMu.Lock()
				firstErr = err
				errMu.Unlock()
				stop.Store(true)
			}
		}()
	}
	ready.Wait()
	close(startc)
	var rates []float64 // calls per second in each slice
	last, lastT := total.Load(), time.Now()
	for end := lastT.Add(*dur); time.Now().Before(end) && !stop.Load(); {
		time.Sleep(sliceLen)
		n, t := total.Load(), time.Now()
		rates = append(rates, float64(n-last)/t.Sub(lastT).Seconds())
		last, lastT = n, t
	}
	stop.Store(true)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if len(rates) == 0 {
		return fmt.Errorf("threads: no complete slice in %s", *dur)
	}
	slices.Sort(rates)
	fmt.Printf("calls_per_second %.0f\n", rates[len(rates)/2])
	return nil
}
