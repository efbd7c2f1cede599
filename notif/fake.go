package notif

import (
	"fmt"
	"sync"
)

// Fake is an in-memory Notifier for unit tests of dispatch logic: a test
// pushes notifications, the code under test receives and answers them, and
// the test reads back what was answered.
//
// A notification stays pending from Push until it is answered (Send or AddFD
// with AddFDFlagSend) or invalidated with Kill; Send, IDValid and AddFD on a
// notification that is not pending fail with ErrNotificationGone, as the
// kernel's ENOENT.
type Fake struct {
	mu       sync.Mutex
	cond     *sync.Cond
	queue    []Notif
	pending  map[uint64]bool
	closed   bool
	stopping bool
	drain    bool
	nextID   uint64
	nextFD   int

	resps    []Resp
	idValids []uint64
	addFDs   []AddFD
	// OnSend, when set before use, is called for every accepted Send
	// under no lock; benchmarks use it instead of the recorded slice.
	OnSend func(Resp)
	// Record controls whether responses are kept for Responses; on by
	// default.
	Record bool
}

var _ Notifier = (*Fake)(nil)

// NewFake returns an empty, open Fake.
func NewFake() *Fake {
	f := &Fake{pending: make(map[uint64]bool), nextID: 1, nextFD: 100, Record: true}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// Push queues a notification. A zero ID is replaced by the next free one; the
// ID is returned.
func (f *Fake) Push(n Notif) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n.ID == 0 {
		n.ID = f.nextID
	}
	if n.ID >= f.nextID {
		f.nextID = n.ID + 1
	}
	f.queue = append(f.queue, n)
	f.pending[n.ID] = true
	f.cond.Broadcast()
	return n.ID
}

// Kill makes a pending notification invalid, as when the trapped task dies.
func (f *Fake) Kill(id uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.pending, id)
	f.cond.Broadcast()
}

// Drain makes Recv return ErrTargetsExited once the queue is empty, as when
// every task under the filter has exited.
func (f *Fake) Drain() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drain = true
	f.cond.Broadcast()
}

// Recv returns the next pushed notification, blocking until one is pushed or
// the Fake is closed or drained.
func (f *Fake) Recv(n *Notif) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		if f.closed || f.stopping {
			return ErrClosed
		}
		if len(f.queue) > 0 {
			*n = f.queue[0]
			f.queue[0] = Notif{}
			f.queue = f.queue[1:]
			if !f.pending[n.ID] {
				continue // killed before it was received
			}
			return nil
		}
		if f.drain {
			return fmt.Errorf("recv: %w", ErrTargetsExited)
		}
		f.cond.Wait()
	}
}

// Send records the answer and ends the notification.
func (f *Fake) Send(r *Resp) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	if !f.pending[r.ID] {
		f.mu.Unlock()
		return gone("send", r.ID)
	}
	delete(f.pending, r.ID)
	if f.Record {
		f.resps = append(f.resps, *r)
	}
	onSend := f.OnSend
	f.cond.Broadcast()
	f.mu.Unlock()
	if onSend != nil {
		onSend(*r)
	}
	return nil
}

// IDValid records the query and reports whether id is pending.
func (f *Fake) IDValid(id uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrClosed
	}
	if f.Record {
		f.idValids = append(f.idValids, id)
	}
	if !f.pending[id] {
		return gone("id valid", id)
	}
	return nil
}

// AddFD records the request and returns a made-up fd number. With
// AddFDFlagSend it also answers the notification with that number, recorded
// as a Resp.
func (f *Fake) AddFD(a *AddFD) (int, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return -1, ErrClosed
	}
	if !f.pending[a.ID] {
		f.mu.Unlock()
		return -1, gone("addfd", a.ID)
	}
	if f.Record {
		f.addFDs = append(f.addFDs, *a)
	}
	fd := f.nextFD
	f.nextFD++
	if a.Flags&AddFDFlagSetFD != 0 {
		fd = int(a.NewFD)
	}
	if a.Flags&AddFDFlagSend == 0 {
		f.mu.Unlock()
		return fd, nil
	}
	f.mu.Unlock()
	return fd, f.Send(&Resp{ID: a.ID, Val: int64(fd)})
}

// Shutdown makes Recv return ErrClosed; Send, IDValid and AddFD keep
// working.
func (f *Fake) Shutdown() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopping = true
	f.cond.Broadcast()
}

// Close makes every method return ErrClosed. Closing twice is safe.
func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	f.cond.Broadcast()
	return nil
}

// Responses returns a copy of every answer sent so far, in order.
func (f *Fake) Responses() []Resp {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Resp(nil), f.resps...)
}

// IDValidCalls returns the IDs that IDValid was asked about, in order.
func (f *Fake) IDValidCalls() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.idValids...)
}

// AddFDs returns every AddFD request, in order.
func (f *Fake) AddFDs() []AddFD {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]AddFD(nil), f.addFDs...)
}

// Pending reports whether id is still waiting for an answer.
func (f *Fake) Pending(id uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending[id]
}

// WaitResponse blocks until id has been answered or killed, and returns the
// answer and whether there was one.
func (f *Fake) WaitResponse(id uint64) (Resp, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.pending[id] {
		f.cond.Wait()
	}
	for i := len(f.resps) - 1; i >= 0; i-- {
		if f.resps[i].ID == id {
			return f.resps[i], true
		}
	}
	return Resp{}, false
}
