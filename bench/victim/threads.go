package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// threadsMain runs -t goroutines, each locked to its own OS thread, that
// call getppid until -d has passed, and prints the total.
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
		mu        sync.Mutex
		total     int64
		firstErr  error
	)
	startc := make(chan struct{})
	var deadline time.Time
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
			var n int64
			for err == nil && time.Now().Before(deadline) {
				err = calls(64, nil, *want)
				n += 64
			}
			mu.Lock()
			total += n
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}()
	}
	ready.Wait()
	start := time.Now()
	deadline = start.Add(*dur)
	close(startc)
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("calls %d elapsed_ns %d\n", total, elapsed.Nanoseconds())
	return nil
}
