package handler

import (
	"errors"
	"fmt"
	"runtime"
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
	runtime.AddCleanup(r, func(c *Ctx) {
		if !c.answered.Load() {
			s.release(c)
			_ = s.answer(c, s.heldPolicy(c).action())
		}
	}, c)
	return r
}

// heldPolicy returns the exception policy recorded for a held Ctx.
func (s *server) heldPolicy(c *Ctx) ExceptionPolicy {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	if p, ok := s.held[c]; ok {
		return p
	}
	for _, h := range s.t.chain(c.n.Data.Nr) {
		return policyOf(h)
	}
	return ExceptionKill
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
		return fmt.Errorf("respond: %w", err)
	}
	r.s.release(r.c)
	return r.s.answer(r.c, a)
}

// ID returns the held notification's ID.
func (r *Responder) ID() uint64 { return r.c.n.ID }
