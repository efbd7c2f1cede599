package lockedpool

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by Pool.Do once the pool is closed (or closing)
// and the function did not run.
var ErrClosed = errors.New("lockedpool: the pool is closed")

// Pool runs functions on locked OS threads that each ran setup first.
// Threads are started when needed, one more only when every running one is
// busy, up to a bound, and end when the pool is closed; a thread never runs
// another goroutine and dies with its goroutine. The zero Pool is not
// usable: make one with New.
type Pool struct {
	setup func() error
	max   int

	// free holds the threads ready for work, the last used on top;
	// avail counts them.
	mu       sync.Mutex
	started  int  // threads running or being set up
	closed   bool // Close began: no more threads
	all      []*thread
	free     []*thread
	avail    chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New returns a pool of at most n threads (at least one), each of which
// runs setup on itself, locked, before its first job. setup should act on
// the calling thread only (per-thread system calls); a thread whose setup
// fails ends without serving.
func New(n int, setup func() error) *Pool {
	n = max(n, 1)
	return &Pool{setup: setup, max: n, avail: make(chan struct{}, n), stop: make(chan struct{})}
}

// Handing a job to a thread and back parks and wakes both sides on
// futexes, in the kernel, not in the Go scheduler: the thread is locked,
// and waking a locked goroutine through the scheduler takes a second
// thread hop (an idle thread takes a P, then hands it to the locked one).
// Neither side spins: on a small machine a spinning thread holds one of the
// runtime's few Ps, and the woken thread, leaving its futex wait, then finds
// none free until sysmon takes one back (hundreds of microseconds measured
// on two CPUs, against a 20 µs open).

// thread is one pool thread and its hand-over slot. One caller at a time
// owns it (it is taken from Pool.free).
type thread struct {
	job     atomic.Pointer[func()]
	done    atomic.Bool
	panic   any         // what the job panicked with; read once done
	parked  atomic.Bool // the thread waits on wake
	waiting atomic.Bool // the caller waits on finished
	// wake and finished are futex words, bumped before each wake-up of
	// the thread (a job, the stop) and of the caller (done, exited).
	wake     atomic.Uint32
	finished atomic.Uint32
	gone     atomic.Bool // the thread has ended
}

// wakeThread wakes t if it is parked.
func (t *thread) wakeThread() {
	t.wake.Add(1)
	futexWake(&t.wake)
}

// wakeCaller wakes t's caller if it waits.
func (t *thread) wakeCaller() {
	t.finished.Add(1)
	futexWake(&t.finished)
}

// Do runs fn on a pool thread and waits for it. An error means fn did not
// run: the pool is closed (ErrClosed), or a thread had to be started and
// its setup failed. A panic of fn is raised again in the caller.
func (p *Pool) Do(fn func()) error {
	select {
	case <-p.stop:
		return ErrClosed
	default:
	}
	select {
	case <-p.avail:
	default:
		// Every thread is busy: one more, up to p.max, and the first
		// to be free.
		if err := p.grow(); err != nil {
			return err
		}
		select {
		case <-p.avail:
		case <-p.stop:
			return ErrClosed
		}
	}
	t := p.take()
	defer p.put(t)
	t.done.Store(false)
	t.job.Store(&fn)
	if t.parked.Load() {
		t.wakeThread()
	}
	if err := t.await(); err != nil {
		return err
	}
	if v := t.panic; v != nil {
		t.panic = nil
		panic(v)
	}
	return nil
}

// await waits until t has done its job (nil), or has ended without doing
// it (ErrClosed).
func (t *thread) await() error {
	defer t.waiting.Store(false)
	for {
		seq := t.finished.Load()
		t.waiting.Store(true)
		if t.done.Load() {
			return nil
		}
		if t.gone.Load() {
			// The pool closed; a job taken before the stop was
			// finished first.
			if t.done.Load() {
				return nil
			}
			return ErrClosed
		}
		futexWait(&t.finished, seq)
	}
}

// take pops the most recently used free thread; avail was counted down.
func (p *Pool) take() *thread {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	return t
}

// put makes t free again.
func (p *Pool) put(t *thread) {
	p.mu.Lock()
	p.free = append(p.free, t)
	p.mu.Unlock()
	p.avail <- struct{}{}
}

// grow starts one more thread and waits until it is set up and free;
// nil without a thread when p.max run already or the pool is closed (the
// caller then waits for a free one). A thread whose setup failed does not
// count: a later call tries again.
func (p *Pool) grow() error {
	p.mu.Lock()
	if p.closed || p.started >= p.max {
		p.mu.Unlock()
		return nil
	}
	p.started++
	t := &thread{}
	p.wg.Add(1) // under mu: Close waits only after closed is set
	p.mu.Unlock()
	ready := make(chan error, 1)
	go p.run(t, ready)
	err := <-ready
	if err != nil {
		p.mu.Lock()
		p.started--
		p.mu.Unlock()
		return fmt.Errorf("lockedpool: set up a thread: %w", err)
	}
	return nil
}

// Threads returns how many threads run (or are being set up).
func (p *Pool) Threads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// run sets up its OS thread and serves jobs until the pool closes. It
// never unlocks the thread: when it returns, the runtime ends the thread
// rather than reuse it with what setup gave it.
func (p *Pool) run(t *thread, ready chan<- error) {
	defer p.wg.Done()
	defer func() {
		t.gone.Store(true)
		t.wakeCaller()
	}()
	runtime.LockOSThread()
	if err := p.setup(); err != nil {
		ready <- err
		return
	}
	p.mu.Lock()
	p.all = append(p.all, t)
	p.mu.Unlock()
	// Free before ready: when grow returns, the thread is available,
	// and the caller does not start another for nothing.
	p.put(t)
	ready <- nil
	for {
		job := t.next(p.stop)
		if job == nil {
			return
		}
		t.panic = call(*job)
		t.job.Store(nil)
		t.done.Store(true)
		if t.waiting.Load() {
			t.wakeCaller()
		}
	}
}

// call runs fn and returns what it panicked with, if it did.
func call(fn func()) (panicked any) {
	defer func() { panicked = recover() }()
	fn()
	return nil
}

// next returns the next job, parking until there is one; nil when the
// pool is closed.
func (t *thread) next(stop <-chan struct{}) *func() {
	for {
		seq := t.wake.Load()
		t.parked.Store(true)
		if job := t.job.Load(); job != nil {
			t.parked.Store(false)
			return job
		}
		select {
		case <-stop:
			t.parked.Store(false)
			if job := t.job.Load(); job != nil {
				return job // taken before the stop: finish it
			}
			return nil
		default:
		}
		futexWait(&t.wake, seq)
		t.parked.Store(false)
	}
}

// Close ends the threads, once the jobs they took are done, and waits for
// them; later calls of Do return ErrClosed.
func (p *Pool) Close() {
	p.stopOnce.Do(func() { close(p.stop) })
	p.mu.Lock()
	p.closed = true
	all := p.all
	p.mu.Unlock()
	for _, t := range all {
		t.wakeThread() // it sees the stop
	}
	p.wg.Wait()
}
