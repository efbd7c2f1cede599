package handler

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Responder answers a held notification later, from any goroutine. It can
// be used once. A Responder never used is answered with its handler's
// exception policy when Serve ends, or earlier when it is garbage
// collected.
type Responder struct {
	c *Ctx
	s *server
}

func (s *server) newResponder(c *Ctx) *Responder {
	r := &Responder{c: c, s: s}
	// Only a held notification is answered here: while the handler
	// runs, the dispatcher answers. c must not reach r (Ctx holds r
	// weakly), or r would never be collected.
	runtime.AddCleanup(r, func(c *Ctx) {
		if policy, ok := s.held.remove(c); ok {
			_ = s.answer(c, policy.action())
		}
	}, c)
	return r
}

// Respond answers the notification with a, which may be any action but
// Hold. It returns ErrAlreadyAnswered on a second call or when Serve ended
// and answered it with the exception policy, and an error matching
// notif.ErrNotificationGone when the task is gone.
func (r *Responder) Respond(a Action) error {
	if a.kind == KindHold {
		return errors.New("respond: cannot answer with Hold")
	}
	if err := a.Valid(); err != nil {
		if a.kind == KindInjectFD && a.value >= 0 {
			_ = unix.Close(int(a.value)) // the Action owned it
		}
		return fmt.Errorf("respond: %w", err)
	}
	r.s.held.remove(r.c)
	return r.s.answer(r.c, a)
}

// ID returns the held notification's ID.
func (r *Responder) ID() uint64 { return r.c.n.ID }

// heldSet is the Hold bookkeeping of one Serve: the notifications held and
// not answered yet, each with the exception policy that answers it if no
// Responder does, and whether Serve has ended (then nothing more is held).
type heldSet struct {
	mu    sync.Mutex
	m     map[*Ctx]ExceptionPolicy
	ended bool
}

// add records c as held with policy, unless it was answered already; false
// when Serve has ended (c is then not held: the dispatcher answers it).
func (h *heldSet) add(c *Ctx, policy ExceptionPolicy) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		return false
	}
	if !c.answered.Load() {
		if h.m == nil {
			h.m = make(map[*Ctx]ExceptionPolicy)
		}
		h.m[c] = policy
	}
	return true
}

// remove forgets c and returns its policy; false when c was not held.
func (h *heldSet) remove(c *Ctx) (ExceptionPolicy, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.m[c]
	delete(h.m, c)
	return p, ok
}

// end marks Serve ended and returns what is still held, for the caller to
// answer with each policy.
func (h *heldSet) end() map[*Ctx]ExceptionPolicy {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = true
	m := h.m
	h.m = nil
	return m
}
