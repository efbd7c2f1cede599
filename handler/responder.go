package handler

import (
	"errors"
	"fmt"
	"runtime"

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
		if policy, ok := s.unhold(c); ok {
			_ = s.answer(c, policy.action())
		}
	}, c)
	return r
}

// unhold removes c from the held notifications and returns its policy;
// false when c was not held.
func (s *server) unhold(c *Ctx) (ExceptionPolicy, bool) {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	p, ok := s.held[c]
	delete(s.held, c)
	return p, ok
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
	r.s.release(r.c)
	return r.s.answer(r.c, a)
}

// ID returns the held notification's ID.
func (r *Responder) ID() uint64 { return r.c.n.ID }
